// The signed-in person's watchlist: which auctions they watch (for the stars on cards and on
// the auction page), loaded once per sign-in from GET /api/me/watchlist/ids and kept in step
// with every toggle; and the pages of GET /api/me/watchlist for "My Gavel".
import { api } from './api.js';
import type { AuctionRow } from './auctions.js';
import { session } from './session.js';
import { createStore, useStore } from './store.js';

/** An auction as GET /api/auctions lists it, with when the person started watching it. */
export interface WatchedAuction extends AuctionRow {
  watchedAt: string;
}

export interface WatchlistPage {
  items: WatchedAuction[];
  nextCursor: string | null;
  serverTimeMs: number;
}

export interface WatchedIds {
  /** False until the ids of the signed-in person have arrived. */
  loaded: boolean;
  ids: ReadonlySet<string>;
}

export const watched = createStore<WatchedIds>({ loaded: false, ids: new Set() });

let loadedFor: string | null = null;
let loadCount = 0;

function load(token: string): void {
  const ticket = ++loadCount;
  api<{ auctionIds: string[] }>('GET', '/api/me/watchlist/ids').then(
    (r) => {
      if (ticket === loadCount && session.get().token === token) watched.set({ loaded: true, ids: new Set(r.auctionIds) });
    },
    () => {
      // Stars show as not watched; the next sign-in (or reload) asks again.
      if (ticket === loadCount) loadedFor = null;
    },
  );
}

session.subscribe(() => {
  const { token, status } = session.get();
  if (status === 'loading' || token === loadedFor) return;
  loadedFor = token;
  loadCount += 1;
  watched.set({ loaded: false, ids: new Set() });
  if (token) load(token);
});

/** Whether the signed-in person watches the auction (false until their list has loaded). */
export function useWatching(auctionId: string): boolean {
  return useStore(watched).ids.has(auctionId);
}

function mark(auctionId: string, on: boolean): void {
  watched.set((w) => {
    const ids = new Set(w.ids);
    if (on) ids.add(auctionId);
    else ids.delete(auctionId);
    return { ...w, ids };
  });
}

/**
 * Watches or unwatches: the star changes at once and goes back if the server refuses (a full
 * watchlist, a lost connection). Both requests are idempotent, so a retry is harmless.
 */
export async function setWatching(auctionId: string, on: boolean): Promise<void> {
  const before = watched.get().ids.has(auctionId);
  mark(auctionId, on);
  try {
    if (on) await api('PUT', `/api/auctions/${auctionId}/watch`);
    else await api('DELETE', `/api/auctions/${auctionId}/watch`);
  } catch (error) {
    mark(auctionId, before);
    throw error;
  }
}

/** One page of the person's watchlist, the latest watched first. */
export function watchlistPage(cursor: string | null, signal?: AbortSignal): Promise<WatchlistPage> {
  return api<WatchlistPage>('GET', '/api/me/watchlist', { query: { limit: 24, cursor }, ...(signal && { signal }) });
}
