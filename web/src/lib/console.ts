// The auctioneer's console: the live sales a person runs (GET /api/auctions/console), the
// console's actions (POST /api/auctions/{id}/console), the rostrum's keyboard shortcuts, and
// which lot comes next. A sale sells one lot, so "the next lot" is the next live sale in the
// person's console list.
import { api } from './api.js';
import type { AuctionRow, LiveView } from './auctions.js';
import { toMinor } from './money.js';

/** The auctioneer does everything; a clerk enters floor bids and chats. */
export type StaffRole = 'auctioneer' | 'clerk';

export interface ConsoleSale {
  auction: AuctionRow;
  live: LiveView;
  role: StaffRole;
}

export type ConsoleAction =
  | { action: 'open' | 'fair-warning' | 'hammer' | 'pause' | 'resume' }
  | { action: 'asking'; amount: string }
  | { action: 'floor-bid'; paddle: string; amount: string }
  | { action: 'chat'; text: string };

export function loadConsoleSales(signal?: AbortSignal): Promise<ConsoleSale[]> {
  return api<{ items: ConsoleSale[] }>('GET', '/api/auctions/console', signal ? { signal } : {}).then((r) => r.items);
}

/** One console action; resolves once the engine has journaled it (the room hears it over the socket). */
export async function runConsole(auctionId: string, body: ConsoleAction): Promise<void> {
  await api('POST', `/api/auctions/${auctionId}/console`, { body });
}

/** The sale to run after this one: the next in the console's order, else the first other one. */
export function nextSaleAfter(sales: readonly ConsoleSale[], currentId: string): ConsoleSale | null {
  const at = sales.findIndex((s) => s.auction.id === currentId);
  const after = at >= 0 ? sales.slice(at + 1) : sales;
  return after.find((s) => s.auction.id !== currentId) ?? sales.find((s) => s.auction.id !== currentId) ?? null;
}

/** Paddle numbers as the floor writes them (the API's rule): "12", "A-7". */
export const PADDLE = /^[A-Za-z0-9-]{1,16}$/;
export const CHAT_MAX_CHARS = 500;

/** Why an amount typed at the rostrum cannot be sent, or null when it can. */
export function amountProblem(text: string, scale: number): string | null {
  const minor = toMinor(text, scale);
  if (minor === null) return `Enter an amount like ${scale > 0 ? `120.${'0'.repeat(scale)}` : '12000'}`;
  return minor > 0n ? null : 'The amount must be more than zero';
}

export type ShortcutCommand = 'open' | 'asking' | 'fair-warning' | 'hammer' | 'pause' | 'floor-bid' | 'chat' | 'next';

/** The rostrum's keys: one letter each, shown on screen and on the buttons (aria-keyshortcuts). */
export const SHORTCUTS: ReadonlyArray<{ key: string; command: ShortcutCommand; label: string }> = [
  { key: 'O', command: 'open', label: 'Open the sale' },
  { key: 'A', command: 'asking', label: 'Type an asking price' },
  { key: 'B', command: 'floor-bid', label: 'Type a floor bid (paddle, then amount)' },
  { key: 'F', command: 'fair-warning', label: 'Fair warning' },
  { key: 'H', command: 'hammer', label: 'Hammer (asks to confirm)' },
  { key: 'P', command: 'pause', label: 'Pause or resume' },
  { key: 'C', command: 'chat', label: 'Type a message to the room' },
  { key: 'N', command: 'next', label: 'Next lot' },
];

export function shortcutKey(command: ShortcutCommand): string {
  return SHORTCUTS.find((s) => s.command === command)!.key;
}

/**
 * The command a key press means, or null: a plain letter, typed outside any field and with no
 * dialog open (typing a message or an amount never triggers the hammer).
 */
export function shortcutOf(event: Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey' | 'target'>): ShortcutCommand | null {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  const target = event.target as HTMLElement | null;
  if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName) || target.closest('dialog'))) return null;
  if (typeof document !== 'undefined' && document.querySelector('dialog[open]')) return null;
  const key = event.key.length === 1 ? event.key.toUpperCase() : '';
  return SHORTCUTS.find((s) => s.key === key)?.command ?? null;
}

/** "paddle 12" → "Floor · paddle 12"; "bidder 3" → "Internet · bidder 3". */
export function leaderText(leader: string | null, source: 'online' | 'floor' | null): string {
  if (!leader) return 'No bids yet';
  return `${source === 'floor' ? 'Floor' : 'Internet'} · ${leader}`;
}
