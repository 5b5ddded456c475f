// The auction room's state in the browser: the live view folded from room events (the same
// events the WebSocket sends and the replay lists), and the bid history built from them.
import type { LiveView } from './auctions.js';
import { fromMinor } from './money.js';

/** A room event as the socket sends it: amounts as decimal strings, times as ms. */
export interface RoomEvent {
  type: string;
  seq: number;
  atMs: number;
  price?: string | null;
  minimumNextBid?: string;
  leader?: string | null;
  leaderSource?: 'online' | 'floor';
  bidCount?: number;
  reserveMet?: boolean;
  participantCount?: number;
  endsAtMs?: number | null;
  amount?: string;
  from?: string;
  text?: string;
  outcome?: 'sold' | 'unsold';
  via?: string;
  winner?: string | null;
  reason?: string;
}

export interface HistoryItem {
  seq: number;
  atMs: number;
  type: string;
  price?: string | null;
  leader?: string | null;
  text?: string;
}

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** The live view after one room event (events at or below the view's seq change nothing). */
export function foldLive(view: LiveView, e: RoomEvent): LiveView {
  if (e.seq <= view.seq) return view;
  const next: LiveView = { ...view, seq: e.seq };
  switch (e.type) {
    case 'PriceChanged':
      return {
        ...next,
        price: e.price ?? next.price,
        minimumNextBid: e.minimumNextBid ?? next.minimumNextBid,
        leader: e.leader ?? null,
        leaderSource: e.leaderSource ?? null,
        bidCount: e.bidCount ?? next.bidCount,
        reserveMet: e.reserveMet ?? next.reserveMet,
        buyNow: null,
        phase: next.kind === 'live' ? 'asking' : next.phase,
      };
    case 'ParticipantsChanged':
      return { ...next, participantCount: e.participantCount ?? next.participantCount };
    case 'AuctionOpened':
      return { ...next, status: 'open', endsAt: iso(e.endsAtMs) ?? next.endsAt, phase: next.kind === 'live' ? 'asking' : null, minimumNextBid: next.minimumNextBid ?? next.startingPrice };
    case 'EndExtended':
      return { ...next, endsAt: iso(e.endsAtMs) ?? next.endsAt };
    case 'AskingSet':
      return { ...next, minimumNextBid: e.amount ?? next.minimumNextBid, phase: 'asking' };
    case 'FairWarning':
      return { ...next, phase: 'fairWarning' };
    case 'Paused':
      return { ...next, phase: 'paused' };
    case 'Resumed':
      return { ...next, phase: 'asking' };
    case 'AuctionClosed':
      return { ...next, status: 'closed', outcome: e.outcome ?? null, closedVia: e.via ?? null, price: e.price ?? next.price, leader: e.winner ?? next.leader, minimumNextBid: null, buyNow: null, phase: null };
    case 'AuctionCancelled':
      return { ...next, status: 'cancelled', minimumNextBid: null, buyNow: null, phase: null };
    default:
      return next;
  }
}

/** The history line of an event, or null for events the history does not list. */
export function historyItemOf(e: RoomEvent): HistoryItem | null {
  switch (e.type) {
    case 'PriceChanged':
      return { seq: e.seq, atMs: e.atMs, type: 'bid', price: e.price ?? null, leader: e.leader ?? null };
    case 'AuctionOpened':
      return { seq: e.seq, atMs: e.atMs, type: 'system', text: 'Bidding opened' };
    case 'EndExtended':
      return { seq: e.seq, atMs: e.atMs, type: 'system', text: 'Soft close: the end was extended' };
    case 'FairWarning':
      return { seq: e.seq, atMs: e.atMs, type: 'system', text: 'Fair warning' };
    case 'Paused':
      return { seq: e.seq, atMs: e.atMs, type: 'system', text: 'Sale paused' };
    case 'Resumed':
      return { seq: e.seq, atMs: e.atMs, type: 'system', text: 'Sale resumed' };
    case 'AuctionClosed':
      return { seq: e.seq, atMs: e.atMs, type: 'system', text: e.outcome === 'sold' ? `Sold to ${e.winner ?? 'the winner'}` : 'Ended without a sale' };
    case 'AuctionCancelled':
      return { seq: e.seq, atMs: e.atMs, type: 'system', text: `Cancelled${e.reason ? `: ${e.reason}` : ''}` };
    default:
      return null;
  }
}

/** Merges items into a newest-first list, once per seq. */
export function mergeHistory(list: HistoryItem[], items: HistoryItem[]): HistoryItem[] {
  const bySeq = new Map(list.map((i) => [i.seq, i]));
  for (const i of items) bySeq.set(i.seq, i);
  return [...bySeq.values()].sort((a, b) => b.seq - a.seq);
}

interface ReplayEntry {
  seq: number;
  atMs: number;
  type: string;
  event: Record<string, any>;
}

/**
 * The replay (GET /api/auctions/{id}/replay) as room events. The room view holds room events
 * with amounts in minor units (`priceMinor: "1050"`); insiders get the full journal after the
 * end, whose bids are mapped to what the room saw.
 */
export function roomEventsOfReplay(replay: { view: 'room' | 'full'; entries: ReplayEntry[] }, scale: number): RoomEvent[] {
  const money = (minor: unknown) => (minor === null || minor === undefined ? null : fromMinor(BigInt(String(minor)), scale));
  if (replay.view === 'room') {
    return replay.entries.map((entry) => {
      const out: Record<string, unknown> = { seq: entry.seq, atMs: entry.atMs };
      for (const [key, value] of Object.entries(entry.event)) {
        if (key.endsWith('Minor')) out[key.slice(0, -5)] = money(value);
        else out[key] = value;
      }
      return out as unknown as RoomEvent;
    });
  }
  const numbers = new Map<string, number>();
  const label = (ref: { source: string; bidderId?: string; paddle?: string } | null | undefined) =>
    !ref ? null : ref.source === 'floor' ? `paddle ${ref.paddle}` : `bidder ${numbers.get(ref.bidderId ?? '') ?? '?'}`;
  const out: RoomEvent[] = [];
  let auctioneerId: string | undefined;
  for (const { seq, atMs, event: e } of replay.entries) {
    switch (e.type) {
      case 'AuctionCreated':
        auctioneerId = e.config?.auctioneerId ?? undefined;
        break;
      case 'BidderJoined':
        numbers.set(e.bidderId, e.number);
        out.push({ type: 'ParticipantsChanged', seq, atMs, participantCount: e.number });
        break;
      case 'BidAccepted':
        if (e.visible) out.push({ type: 'PriceChanged', seq, atMs, price: money(e.priceMinor), leader: label(e.leader), leaderSource: e.leader?.source, bidCount: e.bidCount, reserveMet: e.reserveMet });
        break;
      case 'ChatPosted':
        out.push({ type: 'Chat', seq, atMs, from: e.fromUserId === auctioneerId ? 'auctioneer' : 'clerk', text: e.text });
        break;
      case 'AuctionClosed':
        out.push({ type: 'AuctionClosed', seq, atMs, outcome: e.outcome, via: e.via, winner: label(e.winner), price: money(e.priceMinor) });
        break;
      case 'AskingSet':
        out.push({ type: 'AskingSet', seq, atMs, amount: money(e.amountMinor) ?? '' });
        break;
      case 'AuctionOpened':
      case 'EndExtended':
      case 'FairWarning':
      case 'Paused':
      case 'Resumed':
      case 'AuctionCancelled':
        out.push({ ...e, seq, atMs, type: e.type } as RoomEvent);
        break;
      default:
        break;
    }
  }
  return out;
}
