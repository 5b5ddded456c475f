// "My Gavel": the auctions I bid in, what I won, and my orders.
import { useState } from 'react';
import { StatusBadge } from '../components/AuctionCard.js';
import { Empty, ErrorNotice, Money, SignInPrompt } from '../components/Common.js';
import { wallets, type Notification } from '../lib/account.js';
import { api, messageOf } from '../lib/api.js';
import type { AuctionPage } from '../lib/auctions.js';
import { useServerNow } from '../lib/clock.js';
import { formatDateTime, formatDuration } from '../lib/format.js';
import { useResource, useTitle } from '../lib/hooks.js';
import { newKey } from '../lib/ids.js';
import { remembered } from '../lib/mine.js';
import { Link } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useStore } from '../lib/store.js';
import { MyPurchases } from './Purchase.js';
import { MyWatchlist } from './Watchlist.js';

const TABS: Array<[string, string]> = [
  ['bids', 'My bids'],
  ['wins', 'Wins'],
  ['orders', 'Orders'],
  ['watchlist', 'Watchlist'],
  ['purchases', 'Purchases'],
];

export function ActivityPage({ tab }: { tab: 'bids' | 'wins' | 'orders' | 'watchlist' | 'purchases' }) {
  const label = TABS.find(([t]) => t === tab)?.[1] ?? 'My Gavel';
  useTitle(label);
  const session = useSession();
  if (session.status === 'anonymous') return <div className="page"><SignInPrompt what="your bids and orders" /></div>;
  return (
    <div className="page">
      <h1>My Gavel</h1>
      <nav className="tabs" aria-label="My Gavel">
        {TABS.map(([t, name]) => (
          <Link key={t} to={`/me/${t}`} aria-current={t === tab ? 'page' : undefined}>
            {name}
          </Link>
        ))}
      </nav>
      {session.user && tab === 'bids' && <MyBids userId={session.user.id} />}
      {session.user && tab === 'wins' && <Orders role="buyer" source="auction" empty="No wins yet." />}
      {session.user && tab === 'orders' && <Orders empty="No orders yet." />}
      {session.user && tab === 'watchlist' && <MyWatchlist />}
      {session.user && tab === 'purchases' && <MyPurchases />}
    </div>
  );
}

async function myAuctionIds(userId: string, currencies: string[], signal: AbortSignal): Promise<string[]> {
  const ids = new Set(remembered(userId));
  const inbox = await api<{ items: Notification[] }>('GET', '/api/notifications', { query: { limit: 100 }, signal }).catch(() => ({ items: [] as Notification[] }));
  for (const n of inbox.items) if (typeof n.data.auctionId === 'string') ids.add(n.data.auctionId);
  for (const c of currencies) {
    const statement = await api<{ items: Array<{ owner: string | null }> }>('GET', `/api/wallets/${c}/transfers`, { query: { limit: 100 }, signal }).catch(() => ({ items: [] }));
    for (const t of statement.items) {
      const m = /^auction:([0-9a-f-]{36})/.exec(t.owner ?? '');
      if (m) ids.add(m[1]!);
    }
  }
  return [...ids].slice(0, 40);
}

function MyBids({ userId }: { userId: string }) {
  const codes = useStore(wallets).items.map((w) => w.currency);
  const list = useResource(`${userId}|${codes.join(',')}`, async (signal) => {
    const ids = await myAuctionIds(userId, codes, signal);
    const pages = await Promise.all(ids.map((id) => api<AuctionPage>('GET', `/api/auctions/${id}`, { signal }).catch(() => null)));
    return pages.filter((p): p is AuctionPage => p !== null && p.me?.joined === true);
  });
  const now = useServerNow();
  if (list.error) return <ErrorNotice error={list.error} retry={list.reload} />;
  if (!list.data) return <p className="muted">Loading…</p>;
  if (list.data.length === 0)
    return (
      <Empty title="No bids yet">
        <p>Auctions you join appear here, with where you stand.</p>
        <Link className="btn primary" to="/auctions">
          Find something to bid on
        </Link>
      </Empty>
    );
  const open = list.data.filter((p) => p.live.status === 'open' || p.live.status === 'scheduled');
  const ended = list.data.filter((p) => !open.includes(p));
  const table = (rows: AuctionPage[], caption: string) => (
    <div className="table-wrap panel tight">
      <table className="data">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Lot</th>
            <th scope="col">Status</th>
            <th scope="col" className="right">
              Price
            </th>
            <th scope="col">You</th>
            <th scope="col">Ends</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((p) => {
            const mine = p.me?.number != null ? `bidder ${p.me.number}` : null;
            const won = p.live.status === 'closed' && p.live.outcome === 'sold' && p.live.leader === mine;
            const standing = won ? 'Won' : p.live.status === 'closed' ? 'Not won' : p.me?.leading ? 'Leading' : p.live.leader ? 'Outbid' : 'Joined';
            return (
              <tr key={p.auction.id}>
                <td>
                  <Link to={`/auctions/${p.auction.id}`}>{p.auction.title}</Link>
                </td>
                <td>
                  <StatusBadge auction={{ status: p.live.status, kind: p.live.kind, outcome: p.live.outcome }} />
                </td>
                <td className="right">
                  <Money amount={p.live.price ?? p.live.startingPrice} currency={p.auction.currency} />
                </td>
                <td>
                  <span className={`badge ${standing === 'Leading' || standing === 'Won' ? 'success' : standing === 'Outbid' ? 'danger' : ''}`}>{standing}</span>
                  {p.me?.maxBid && <div className="small muted">max {p.me.maxBid}</div>}
                </td>
                <td className="small">{p.live.status === 'open' && p.live.endsAt ? formatDuration(Date.parse(p.live.endsAt) - now) : formatDateTime(p.auction.closedAt ?? p.live.endsAt)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
  return (
    <div className="stack">
      {open.length > 0 && (
        <>
          <h2>Running</h2>
          {table(open, 'Auctions running')}
        </>
      )}
      {ended.length > 0 && (
        <>
          <h2>Ended</h2>
          {table(ended, 'Auctions ended')}
        </>
      )}
    </div>
  );
}

interface Order {
  id: string;
  source: string;
  sourceRef: string;
  status: string;
  buyerId: string;
  sellerId: string;
  title: string;
  amount: string;
  currency: string;
  createdAt: string;
  shipment: { carrier: string | null; trackingNumber: string | null } | null;
  delivery: { rating: number } | null;
}

function Orders({ role, source, empty }: { role?: 'buyer' | 'seller'; source?: string; empty: string }) {
  const session = useSession();
  const list = useResource(`${role ?? ''}|${source ?? ''}`, (signal) => api<{ items: Order[] }>('GET', '/api/orders', { query: { role, limit: 50 }, signal }));
  if (list.error) return <ErrorNotice error={list.error} retry={list.reload} />;
  if (!list.data) return <p className="muted">Loading…</p>;
  const items = list.data.items.filter((o) => !source || o.source === source);
  if (items.length === 0) return <Empty title={empty} />;
  return (
    <div className="table-wrap panel tight">
      <table className="data">
        <thead>
          <tr>
            <th scope="col">Item</th>
            <th scope="col">You are</th>
            <th scope="col" className="right">
              Amount
            </th>
            <th scope="col">Status</th>
            <th scope="col">Date</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((o) => (
            <tr key={o.id}>
              <td>{o.source === 'auction' ? <Link to={`/auctions/${o.sourceRef}`}>{o.title}</Link> : o.title}</td>
              <td>{o.buyerId === session.user?.id ? 'buyer' : 'seller'}</td>
              <td className="right">
                <Money amount={o.amount} currency={o.currency} />
              </td>
              <td>
                <span className="badge">{o.status}</span>
                {o.shipment?.trackingNumber && <div className="small muted">{[o.shipment.carrier, o.shipment.trackingNumber].filter(Boolean).join(' ')}</div>}
              </td>
              <td className="small">{formatDateTime(o.createdAt)}</td>
              <td>{o.status === 'shipped' && o.buyerId === session.user?.id && <ConfirmDelivery order={o} onDone={list.reload} />}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ConfirmDelivery({ order, onDone }: { order: Order; onDone: () => void }) {
  const [rating, setRating] = useState('5');
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      className="cluster"
      onSubmit={(e) => {
        e.preventDefault();
        api('POST', `/api/orders/${order.id}/confirm-delivery`, { body: { rating: Number(rating) }, idempotencyKey: newKey('deliver') }).then(onDone, (err: unknown) => setError(messageOf(err)));
      }}
    >
      <label htmlFor={`rate-${order.id}`} className="small">
        Rating
      </label>
      <select id={`rate-${order.id}`} value={rating} onChange={(e) => setRating(e.target.value)} style={{ width: 'auto' }}>
        {['5', '4', '3', '2', '1'].map((r) => (
          <option key={r}>{r}</option>
        ))}
      </select>
      <button type="submit" className="btn small">
        Confirm delivery
      </button>
      {error && <span className="small amount-negative">{error}</span>}
    </form>
  );
}
