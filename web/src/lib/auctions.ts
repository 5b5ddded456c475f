// Shapes of the auctions API (GET /api/auctions, GET /api/auctions/{id}, the room feed) and
// helpers shared by the list and the auction page.
import { api } from './api.js';

export interface CategoryRef {
  id: string;
  name: string;
  slug: string;
}

export type AuctionStatus = 'scheduled' | 'open' | 'closed' | 'cancelled';
/** How a closed auction ended; null until it has. */
export type AuctionOutcome = 'sold' | 'unsold' | null;

/** An auction as the list and the page's `auction` show it. */
export interface AuctionRow {
  id: string;
  lotId: string;
  sellerId: string;
  kind: 'timed' | 'live';
  currency: string;
  categoryId: string;
  title: string;
  status: AuctionStatus;
  outcome: AuctionOutcome;
  startingPrice: string;
  currentPrice: string;
  bidCount: number;
  participantCount: number;
  reserveMet: boolean;
  startsAt: string;
  endsAt: string | null;
  closedAt: string | null;
  journalHash: string | null;
  createdAt: string;
  categoryPath?: CategoryRef[];
}

/** The room's live view (snapshot on the socket; `live` on the page). */
export interface LiveView {
  id: string;
  seq: number;
  kind: 'timed' | 'live';
  currency: string;
  status: AuctionStatus;
  outcome: AuctionOutcome;
  closedVia: string | null;
  phase: 'asking' | 'fairWarning' | 'paused' | null;
  startingPrice: string;
  price: string | null;
  minimumNextBid: string | null;
  leader: string | null;
  leaderSource: 'online' | 'floor' | null;
  bidCount: number;
  participantCount: number;
  hasReserve: boolean;
  reserveMet: boolean;
  buyNow: string | null;
  startsAt: string;
  endsAt: string | null;
  timeLeftMs: number | null;
}

export interface Standing {
  joined: boolean;
  number: number | null;
  leading: boolean;
  maxBid: string | null;
  held: string;
}

export interface LotSummary {
  id: string;
  sellerId: string;
  title: string;
  description: string;
  categoryId: string;
  categoryPath: CategoryRef[];
  condition: string;
  imageUrls: string[];
}

export interface AuctionPage {
  auction: AuctionRow;
  lot: LotSummary;
  live: LiveView;
  nextBids: string[];
  me: Standing | null;
  serverTime: string;
  serverTimeMs: number;
}

export interface AuctionList {
  items: AuctionRow[];
  nextCursor: string | null;
  serverTimeMs: number;
}

export const CONDITIONS: Record<string, string> = {
  new: 'New',
  like_new: 'Like new',
  used_good: 'Used — good',
  used_fair: 'Used — fair',
  for_parts: 'For parts or repair',
};

const coverCache = new Map<string, Promise<string | null>>();
let inFlight = 0;
const waiting: Array<() => void> = [];
const COVER_FETCHES_MAX = 4;

/** The cover image of a lot (the list does not carry images): fetched once, 4 at a time. */
export function coverOf(lotId: string): Promise<string | null> {
  let found = coverCache.get(lotId);
  if (!found) {
    found = (async () => {
      if (inFlight >= COVER_FETCHES_MAX) await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight += 1;
      try {
        const lot = await api<{ images: Array<{ url: string }> }>('GET', `/api/lots/${lotId}`);
        return lot.images[0]?.url ?? null;
      } catch {
        return null;
      } finally {
        inFlight -= 1;
        waiting.shift()?.();
      }
    })();
    coverCache.set(lotId, found);
  }
  return found;
}
