// "My listings": a seller's auctions (state, price, bids, bidders; results, and cancel before
// the first bid) and lots (cover, category, condition, where each stands; edit, auction it).
// Also the pieces every seller page shares: the gate (signed in, with the seller role, which
// anyone may give themselves) and the tabs.
import { useState, type ReactNode } from 'react';
import { StatusBadge } from '../components/AuctionCard.js';
import { Empty, ErrorNotice, Money, SignInPrompt } from '../components/Common.js';
import { ConfirmDialog } from '../components/ConfirmDialog.js';
import { messageOf } from '../lib/api.js';
import type { AuctionRow } from '../lib/auctions.js';
import { CONDITIONS } from '../lib/auctions.js';
import { useServerNow } from '../lib/clock.js';
import { formatDateTime, formatDuration } from '../lib/format.js';
import { usePagedResource, useTitle } from '../lib/hooks.js';
import { Link, useLocation } from '../lib/router.js';
import { becomeSeller, maySell, sellApi, type Lot } from '../lib/sell.js';
import { session, useSession, type User } from '../lib/session.js';

// --- shared by the seller pages -------------------------------------------------------------------

/** Renders its children for a signed-in seller; asks anyone else to sign in or take the role. */
export function SellerGate({ what, children }: { what: string; children: (user: User) => ReactNode }) {
  const s = useSession();
  if (s.status === 'anonymous') return <div className="page"><SignInPrompt what={what} /></div>;
  if (!s.user) return <div className="page"><p className="muted">Loading…</p></div>;
  if (!maySell(s.user)) return <BecomeSeller user={s.user} />;
  return <>{children(s.user)}</>;
}

function BecomeSeller({ user }: { user: User }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      const updated = await becomeSeller(user);
      session.set((s) => (s.user?.id === updated.id ? { ...s, user: { ...s.user, roles: updated.roles } } : s));
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  };
  return (
    <div className="page">
      <div className="panel sell-intro stack">
        <h1>Sell on Gavel</h1>
        <p>List lots with photographs, auction them timed or live, and follow the bids and the results as they come in.</p>
        <p className="small muted">Selling needs the seller role on your account. You can add it yourself, and drop it again from your account at any time.</p>
        {error && <p className="notice danger" role="alert">{error}</p>}
        <button type="button" className="btn primary" disabled={busy} onClick={() => void start()}>
          {busy ? 'Adding…' : 'Start selling'}
        </button>
      </div>
    </div>
  );
}

export function SellTabs() {
  const { path } = useLocation();
  const tabs: Array<[string, string, boolean]> = [
    ['/sell', 'My listings', path === '/sell' || path.startsWith('/sell/auctions/')],
    ['/sell/stats', 'Statistics', path === '/sell/stats'],
    ['/sell/lots/new', 'New lot', path === '/sell/lots/new'],
  ];
  return (
    <nav className="tabs" aria-label="Selling">
      {tabs.map(([to, label, current]) => (
        <Link key={to} to={to} aria-current={current ? 'page' : undefined}>
          {label}
        </Link>
      ))}
    </nav>
  );
}

// --- My listings ------------------------------------------------------------------------------------

export function SellPage() {
  useTitle('My listings');
  return <SellerGate what="your listings">{(user) => <Listings key={user.id} />}</SellerGate>;
}

function Listings() {
  const auctions = usePagedResource('auctions', sellApi.myAuctions);
  const lots = usePagedResource('lots', sellApi.myLots);
  const running = auctions.items?.filter((a) => a.status === 'open').length ?? 0;
  const upcoming = auctions.items?.filter((a) => a.status === 'scheduled').length ?? 0;
  return (
    <div className="page stack">
      <div className="spread">
        <h1>My listings</h1>
        <Link className="btn primary" to="/sell/lots/new">
          List a new lot
        </Link>
      </div>
      <SellTabs />
      <section aria-labelledby="auctions-h" className="stack">
        <div className="spread">
          <h2 id="auctions-h">Auctions</h2>
          {auctions.items && (
            <span className="small muted" role="status">
              {running} running · {upcoming} upcoming · {auctions.items.length - running - upcoming} ended or cancelled
            </span>
          )}
        </div>
        {auctions.error ? (
          <ErrorNotice error={auctions.error} retry={auctions.reload} />
        ) : !auctions.items ? (
          <p className="muted">Loading…</p>
        ) : auctions.items.length === 0 ? (
          <p className="muted">No auctions yet. Auction a lot from the list below, or list a new one first.</p>
        ) : (
          <AuctionsTable
            items={auctions.items}
            onChanged={() => {
              auctions.reload();
              lots.reload();
            }}
          />
        )}
        {auctions.more && (
          <button type="button" className="btn" disabled={auctions.busy} onClick={auctions.more}>
            Show more auctions
          </button>
        )}
      </section>
      <section aria-labelledby="lots-h" className="stack">
        <h2 id="lots-h">Lots</h2>
        {lots.error ? (
          <ErrorNotice error={lots.error} retry={lots.reload} />
        ) : !lots.items ? (
          <p className="muted">Loading…</p>
        ) : lots.items.length === 0 ? (
          <Empty title="No lots yet">
            <p>A lot is one thing you sell: its title, description, category, condition and photographs.</p>
            <Link className="btn primary" to="/sell/lots/new">
              List your first lot
            </Link>
          </Empty>
        ) : (
          <LotsTable items={lots.items} auctions={auctions.items ?? []} />
        )}
        {lots.more && (
          <button type="button" className="btn" disabled={lots.busy} onClick={lots.more}>
            Show more lots
          </button>
        )}
      </section>
    </div>
  );
}

function AuctionsTable({ items, onChanged }: { items: AuctionRow[]; onChanged: () => void }) {
  const now = useServerNow();
  return (
    <div className="table-wrap panel tight">
      <table className="data listing-table" data-testid="my-auctions">
        <caption className="visually-hidden">Your auctions, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Lot</th>
            <th scope="col">State</th>
            <th scope="col" className="right">
              Price
            </th>
            <th scope="col" className="right">
              Bids
            </th>
            <th scope="col" className="right">
              Joined
            </th>
            <th scope="col">When</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((a) => (
            <tr key={a.id} data-testid="my-auction" data-auction-id={a.id}>
              <th scope="row">
                <Link to={`/auctions/${a.id}`}>{a.title}</Link>
                <div className="small muted">{a.kind === 'live' ? 'Live sale' : 'Timed'}</div>
              </th>
              <td data-label="State">
                <StatusBadge auction={a} />
              </td>
              <td className="right" data-label="Price" data-testid="my-auction-price">
                <Money amount={a.bidCount > 0 ? a.currentPrice : a.startingPrice} currency={a.currency} />
                {a.bidCount === 0 && <div className="small muted">starting</div>}
              </td>
              <td className="right" data-label="Bids" data-testid="my-auction-bids">
                {a.bidCount}
              </td>
              <td className="right" data-label="Joined">
                {a.participantCount}
              </td>
              <td className="small" data-label="When">
                {when(a, now)}
              </td>
              <td className="actions">
                <div className="cluster nowrap">
                  <Link className="btn small" to={`/sell/auctions/${a.id}`} aria-label={`Results of ${a.title}`}>
                    Results
                  </Link>
                  {(a.status === 'scheduled' || a.status === 'open') && a.bidCount === 0 && <CancelAuction auction={a} onDone={onChanged} />}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function when(a: AuctionRow, now: number): string {
  if (a.status === 'cancelled') return `Cancelled ${formatDateTime(a.closedAt ?? a.endsAt)}`;
  if (a.status === 'closed') return `Ended ${formatDateTime(a.closedAt)}`;
  if (a.status === 'scheduled') return `Starts ${formatDateTime(a.startsAt)}`;
  if (a.kind === 'live' || !a.endsAt) return 'Live now';
  const left = Date.parse(a.endsAt) - now;
  return left > 0 ? `Ends in ${formatDuration(left)}` : 'Closing…';
}

/** Cancel before the first bid, with a reason the bidders who joined are told. */
function CancelAuction({ auction, onDone }: { auction: AuctionRow; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const [missing, setMissing] = useState(false);
  const id = `cancel-${auction.id}`;
  const check = () => {
    setMissing(!reason.trim());
    return reason.trim() ? null : 'Say why, in a few words: people who joined are told.';
  };
  return (
    <ConfirmDialog
      id={id}
      open={{ label: 'Cancel', className: 'btn small ghost', ariaLabel: `Cancel the auction of ${auction.title}` }}
      title={`Cancel the auction of “${auction.title}”?`}
      confirmLabel="Cancel the auction"
      busyLabel="Cancelling…"
      cancelLabel="Keep it"
      check={check}
      action={() => sellApi.cancelAuction(auction.id, reason.trim())}
      onDone={onDone}
    >
      <p className="small">Possible only before the first bid. Everyone who joined is told, and the lot is freed to be auctioned again. A cancellation costs a point of reputation.</p>
      <div className="field">
        <label htmlFor={`${id}-reason`}>Reason</label>
        <textarea id={`${id}-reason`} rows={3} maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} aria-invalid={missing ? true : undefined} />
      </div>
    </ConfirmDialog>
  );
}

function LotsTable({ items, auctions }: { items: Lot[]; auctions: AuctionRow[] }) {
  return (
    <div className="table-wrap panel tight">
      <table className="data listing-table" data-testid="my-lots">
        <caption className="visually-hidden">Your lots, newest first</caption>
        <thead>
          <tr>
            <th scope="col">
              <span className="visually-hidden">Cover</span>
            </th>
            <th scope="col">Lot</th>
            <th scope="col">Condition</th>
            <th scope="col">Where it stands</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((lot) => {
            const ofLot = auctions.filter((a) => a.lotId === lot.id);
            const holding = ofLot.find((a) => a.status === 'scheduled' || a.status === 'open');
            const sold = ofLot.find((a) => a.outcome === 'sold');
            const cover = lot.images[0];
            return (
              <tr key={lot.id} data-testid="my-lot" data-lot-id={lot.id}>
                <td className="thumb-cell">{cover ? <img src={cover.url} alt="" width={56} height={42} loading="lazy" /> : <span className="thumb-empty" aria-hidden="true" />}</td>
                <th scope="row">
                  <Link to={`/sell/lots/${lot.id}`}>{lot.title}</Link>
                  <div className="small muted">{lot.categoryPath.map((c) => c.name).join(' › ')}</div>
                </th>
                <td className="small" data-label="Condition">
                  {CONDITIONS[lot.condition] ?? lot.condition}
                </td>
                <td className="small" data-label="Where it stands">
                  {holding ? (
                    <Link to={`/sell/auctions/${holding.id}`}>{holding.status === 'open' ? 'In an auction now' : 'Auction scheduled'}</Link>
                  ) : sold ? (
                    'Sold'
                  ) : lot.locked ? (
                    'Held by an auction'
                  ) : ofLot.length > 0 ? (
                    'Not sold yet: can be auctioned again'
                  ) : (
                    'Not auctioned yet'
                  )}
                  <div className="muted">
                    {lot.images.length} image{lot.images.length === 1 ? '' : 's'}
                  </div>
                </td>
                <td className="actions">
                  <div className="cluster nowrap">
                    <Link className="btn small" to={`/sell/lots/${lot.id}`} aria-label={`${lot.locked ? 'View' : 'Edit'} ${lot.title}`}>
                      {lot.locked ? 'View' : 'Edit'}
                    </Link>
                    {!lot.locked && !sold && (
                      <Link className="btn small primary" to={`/sell/lots/${lot.id}/auction`} aria-label={`Auction ${lot.title}`}>
                        Auction it
                      </Link>
                    )}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
