// The signed-in person's wallets and unread count, shown in the header on every page, kept
// fresh by private pushes over the socket (a notification, an outbid, a fill).
import { api } from './api.js';
import { realtime } from './realtime.js';
import { session } from './session.js';
import { createStore } from './store.js';
import { toast } from './toasts.js';

export interface Wallet {
  id: string;
  currency: string;
  posted: string;
  held: string;
  available: string;
  closed: boolean;
}

export interface Notification {
  id: string;
  kind: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  read: boolean;
  readAt: string | null;
  createdAt: string;
}

export const wallets = createStore<{ items: Wallet[]; loaded: boolean }>({ items: [], loaded: false });

/** The currency the header shows: the last one the person looked at (a wallet, an auction's). */
export const preferredCurrency = createStore<string | null>(readPreferred());
function readPreferred(): string | null {
  try {
    return window.localStorage.getItem('gavel.currency');
  } catch {
    return null;
  }
}
export function preferCurrency(code: string): void {
  preferredCurrency.set(code);
  try {
    window.localStorage.setItem('gavel.currency', code);
  } catch {
    // the preference lasts as long as the tab
  }
}
export const unread = createStore<number>(0);
/** Bumped on every notification push: pages showing the inbox reload. */
export const inboxVersion = createStore<number>(0);
/** Listeners of exchange pushes (the trading screen). */
export const exchangePushes = new Set<(event: any) => void>();
/** Listeners of outbid pushes (the auction page). */
export const outbidPushes = new Set<(event: any) => void>();

let walletTimer: ReturnType<typeof setTimeout> | undefined;
/** Reloads the wallets soon (several pushes in a burst make one request). */
export function refreshWallets(delayMs = 150): void {
  clearTimeout(walletTimer);
  walletTimer = setTimeout(() => {
    if (!session.get().token) return;
    api<{ items: Wallet[] }>('GET', '/api/wallets').then(
      (r) => wallets.set({ items: r.items, loaded: true }),
      () => {},
    );
  }, delayMs);
}

export function refreshUnread(): void {
  if (!session.get().token) return;
  api<{ unreadCount: number }>('GET', '/api/notifications', { query: { limit: 1 } }).then(
    (r) => unread.set(r.unreadCount),
    () => {},
  );
}

const MONEY_KINDS = new Set(['topup_credited', 'withdrawal_paid', 'withdrawal_failed', 'won', 'lost', 'sold', 'unsold', 'auction_cancelled', 'fill']);
/** Kinds that already got an instant push of their own (outbid, fill): no second toast. */
const QUIET_KINDS = new Set(['outbid', 'fill']);

let lastToken: string | null | undefined;
session.subscribe(() => {
  const { token, status } = session.get();
  if (token === lastToken || status === 'loading') return;
  lastToken = token;
  if (token) {
    refreshWallets(0);
    refreshUnread();
  } else {
    wallets.set({ items: [], loaded: false });
    unread.set(0);
  }
});

realtime.onPush((event) => {
  switch (event?.type) {
    case 'notification': {
      const n = event.notification as Notification;
      unread.set((u) => u + 1);
      inboxVersion.set((v) => v + 1);
      if (MONEY_KINDS.has(n.kind)) refreshWallets();
      if (!QUIET_KINDS.has(n.kind)) toast({ tone: n.kind.includes('failed') || n.kind === 'auction_cancelled' ? 'warning' : 'success', title: n.title, body: n.body, href: hrefOf(n) });
      return;
    }
    case 'outbid':
      refreshWallets();
      for (const l of outbidPushes) l(event);
      toast({ tone: 'warning', title: 'You have been outbid', body: `Another bidder leads at ${event.price}. Bid again to take the lead.`, href: `/auctions/${event.auctionId}` });
      return;
    case 'exchange.fill':
      refreshWallets();
      for (const l of exchangePushes) l(event);
      toast({ tone: 'success', title: `${event.fill.side === 'buy' ? 'Bought' : 'Sold'} ${event.fill.quantity} ${event.fill.symbol.split('-')[0]}`, body: `at ${event.fill.price} ${event.fill.feeCurrency}`, href: `/trade/${event.fill.symbol}` });
      return;
    case 'exchange.order':
      for (const l of exchangePushes) l(event);
      return;
    default:
      return;
  }
});

/** Where a notification leads. */
export function hrefOf(n: Pick<Notification, 'kind' | 'data'>): string | undefined {
  const d = n.data;
  if (typeof d.auctionId === 'string') return `/auctions/${d.auctionId}`;
  if (typeof d.symbol === 'string') return `/trade/${d.symbol}`;
  if (typeof d.orderId === 'string' && n.kind.startsWith('order')) return `/me/orders`;
  if (typeof d.purchaseId === 'string') return `/purchases/${d.purchaseId}`;
  if (typeof d.currency === 'string') return `/wallet/${d.currency}`;
  return undefined;
}
