// The auction page: the lot (images, description, details), and the room, live over the
// WebSocket: price, countdown on the server's clock with soft-close extensions, bid history,
// participants, reserve, the live sale's phases and the auctioneer's messages, and bidding —
// one tap at the next amounts, or a maximum (proxy) bid.
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { StatusBadge } from '../components/AuctionCard.js';
import { BidHistory, RoomMessages } from '../components/Room.js';
import { ErrorNotice, Field, Money } from '../components/Common.js';
import { ConfirmDialog } from '../components/ConfirmDialog.js';
import { WatchStar } from '../components/WatchStar.js';
import { outbidPushes, preferCurrency, refreshWallets, wallets } from '../lib/account.js';
import { ApiError, api, messageOf } from '../lib/api.js';
import { CONDITIONS, type AuctionPage as Page, type LiveView, type Standing } from '../lib/auctions.js';
import { useServerNow } from '../lib/clock.js';
import { formatDateTime, formatDuration, formatTime, spokenDuration } from '../lib/format.js';
import { useResource, useTitle } from '../lib/hooks.js';
import { newKey } from '../lib/ids.js';
import { rememberAuction } from '../lib/mine.js';
import { compareAmounts, formatMoney, scaleOf, toMinor } from '../lib/money.js';
import { useRoomFeed } from '../lib/room-feed.js';
import type { HistoryItem } from '../lib/room.js';
import { Link } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useStore } from '../lib/store.js';

export function AuctionPage({ id }: { id: string }) {
  const session = useSession();
  const page = useResource(`${id}|${session.token ?? ''}`, (signal) => api<Page>('GET', `/api/auctions/${id}`, { signal }));
  useTitle(page.data?.auction.title ?? 'Auction');
  if (page.error) {
    return (
      <div className="page">
        <ErrorNotice error={page.error} retry={page.reload} />
        <Link to="/auctions">Back to auctions</Link>
      </div>
    );
  }
  if (!page.data) {
    return (
      <div className="page" aria-busy="true">
        <div className="two-col">
          <div className="skeleton" style={{ aspectRatio: '4 / 3' }} />
          <div className="skeleton" style={{ height: 420 }} />
        </div>
      </div>
    );
  }
  return <Room key={id} initial={page.data} reload={page.reload} />;
}

function Room({ initial, reload }: { initial: Page; reload: () => void }) {
  const { auction, lot } = initial;
  const id = auction.id;
  const currency = auction.currency;
  const scale = scaleOf(currency, auction.startingPrice);
  const [me, setMe] = useState<Standing | null>(initial.me);
  const [nextBids, setNextBids] = useState<string[]>(initial.nextBids);
  const [outbid, setOutbid] = useState(false);
  const [flash, setFlash] = useState(0);
  const [extendedAt, setExtendedAt] = useState<number | null>(null);
  const meRef = useRef(me);
  meRef.current = me;
  useEffect(() => preferCurrency(currency), [currency]);

  // The exact next amounts (and my standing) after the price moved: one request, soon after.
  const refreshTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const refreshSoon = useCallback(() => {
    clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(
      () => {
        api<Page>('GET', `/api/auctions/${id}`).then(
          (p) => {
            setNextBids(p.nextBids);
            setMe(p.me);
            offerLive(p.live);
          },
          () => {},
        );
      },
      250 + Math.random() * 500,
    );
  }, [id]);
  useEffect(() => () => clearTimeout(refreshTimer.current), []);

  // The room, live: what each event means for this bidder.
  const { live, history, chat, offerLive } = useRoomFeed(id, initial.live, scale, (event) => {
    if (event.type === 'PriceChanged') {
      setFlash((f) => f + 1);
      setNextBids(event.minimumNextBid ? [event.minimumNextBid] : []);
      const mine = meRef.current?.number != null && event.leader === `bidder ${meRef.current.number}`;
      if (meRef.current?.leading && !mine) setOutbid(true);
      if (mine) setOutbid(false);
      setMe((m) => (m ? { ...m, leading: mine, maxBid: mine ? m.maxBid : null } : m));
      refreshSoon();
    }
    if (event.type === 'EndExtended') setExtendedAt(Date.now());
    if (event.type === 'AskingSet' && event.amount) {
      setNextBids([event.amount]);
      refreshSoon();
    }
    if (event.type === 'AuctionClosed' || event.type === 'AuctionCancelled') {
      refreshWallets(500);
      refreshSoon();
    }
  });

  // A newer page (after sign-in, a join, a refresh) replaces what it covers.
  useEffect(() => {
    offerLive(initial.live);
    setMe(initial.me);
    setNextBids(initial.nextBids);
  }, [initial]);

  useEffect(() => {
    const onOutbid = (e: { auctionId: string }) => {
      if (e.auctionId !== id) return;
      setOutbid(true);
      setMe((m) => (m ? { ...m, leading: false, maxBid: null } : m));
      refreshSoon();
    };
    outbidPushes.add(onOutbid);
    return () => {
      outbidPushes.delete(onOutbid);
    };
  }, [id, refreshSoon]);

  const myLabel = me?.number != null ? `bidder ${me.number}` : null;
  const [image, setImage] = useState(0);
  const bidders = [...new Set(history.filter((h) => h.type === 'bid' && h.leader).map((h) => h.leader!))];

  return (
    <div className="page">
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumbs">
          <li>
            <Link to="/auctions">Auctions</Link>
          </li>
          {lot.categoryPath.map((c) => (
            <li key={c.id}>
              <Link to={`/auctions?category=${c.id}`}>{c.name}</Link>
            </li>
          ))}
        </ol>
      </nav>
      <div className="auction-layout">
        <div className="area-gallery">
          <Gallery urls={lot.imageUrls} title={lot.title} index={image} setIndex={setImage} />
        </div>
        <div className="area-details stack">
          <section className="panel" aria-labelledby="about">
            <h2 id="about">About this lot</h2>
            <p className="description">{lot.description}</p>
            <dl className="facts">
              <div>
                Condition: <strong>{CONDITIONS[lot.condition] ?? lot.condition}</strong>
              </div>
              <div>
                Sale: <strong>{auction.kind === 'live' ? 'Live, run by an auctioneer' : 'Timed, with soft close'}</strong>
              </div>
              <div>
                Starting bid: <strong>{formatMoney(auction.startingPrice, currency)}</strong>
              </div>
              <div>
                Opens: <strong>{formatDateTime(live.startsAt)}</strong>
              </div>
            </dl>
          </section>
          <section className="panel" aria-labelledby="history-h">
            <div className="spread">
              <h2 id="history-h">Bid history</h2>
              <span className="muted small">
                {live.bidCount} bid{live.bidCount === 1 ? '' : 's'}
              </span>
            </div>
            <History items={history} currency={currency} myLabel={myLabel} />
          </section>
        </div>
        <aside className="bid-panel area-panel" aria-label="Bidding">
          <div className="panel stack">
            <div className="spread">
              <StatusBadge auction={{ status: live.status, kind: live.kind, outcome: live.outcome }} />
              <span className="small muted">Lot {lot.id.slice(-6).toUpperCase()}</span>
            </div>
            <h1 style={{ marginBottom: 0 }}>{auction.title}</h1>
            <WatchStar auctionId={id} title={auction.title} variant="page" />
            <PriceBlock live={live} currency={currency} flash={flash} />
            <div className="facts">
              <span>
                <strong data-testid="bid-count">{live.bidCount}</strong> bid{live.bidCount === 1 ? '' : 's'}
              </span>
              <span>
                <strong>{live.participantCount}</strong> participant{live.participantCount === 1 ? '' : 's'}
              </span>
              <span>{!live.hasReserve ? 'No reserve' : live.reserveMet ? <strong className="amount-positive">Reserve met</strong> : 'Reserve not met'}</span>
            </div>
            <Countdown live={live} extendedAt={extendedAt} />
            <Phase live={live} />
            <BidBox live={live} me={me} myLabel={myLabel} outbid={outbid} currency={currency} scale={scale} nextBids={nextBids} auctionId={id} onStanding={(standing, view) => {
              setMe(standing);
              if (view) offerLive(view);
              setOutbid(!standing.leading && standing.joined && view !== null);
              refreshSoon();
            }} onJoined={reload} />
          </div>
          <section className="panel tight" aria-labelledby="participants-h">
            <h2 id="participants-h" className="h3">
              Participants
            </h2>
            <p className="small muted">
              {live.participantCount} joined online{bidders.length > 0 ? `; ${bidders.length} bidding` : ''}. Bidders are shown by number{auction.kind === 'live' ? ', the room by paddle' : ''} only.
            </p>
            {bidders.length > 0 && (
              <ul className="cluster" style={{ listStyle: 'none', padding: 0, margin: 0 }}>
                {bidders.map((b) => (
                  <li key={b} className={`badge ${b === myLabel ? 'success' : ''}`}>
                    {b}
                    {b === myLabel ? ' (you)' : ''}
                  </li>
                ))}
              </ul>
            )}
          </section>
          {(auction.kind === 'live' || chat.length > 0) && (
            <section className="panel tight" aria-labelledby="chat-h">
              <h2 id="chat-h" className="h3">
                From the rostrum
              </h2>
              {chat.length === 0 ? (
                <p className="small muted">The auctioneer's messages to the room appear here.</p>
              ) : (
                <RoomMessages lines={chat} live />
              )}
            </section>
          )}
        </aside>
      </div>
    </div>
  );
}

function Gallery({ urls, title, index, setIndex }: { urls: string[]; title: string; index: number; setIndex: (i: number) => void }) {
  const current = urls[Math.min(index, urls.length - 1)];
  return (
    <section className="gallery" aria-label="Images">
      <div className="main">{current ? <img src={current} alt={`${title}, image ${index + 1} of ${urls.length}`} /> : <div className="placeholder-art">{title.charAt(0).toUpperCase()}</div>}</div>
      {urls.length > 1 && (
        <div className="thumbs">
          {urls.map((u, i) => (
            <button key={u} type="button" aria-pressed={i === index} aria-label={`Show image ${i + 1} of ${urls.length}`} onClick={() => setIndex(i)}>
              <img src={u} alt="" loading="lazy" />
            </button>
          ))}
        </div>
      )}
    </section>
  );
}

function PriceBlock({ live, currency, flash }: { live: LiveView; currency: string; flash: number }) {
  const label = live.status === 'closed' ? (live.outcome === 'sold' ? 'Sold for' : 'Final price') : live.price === null ? 'Starting bid' : 'Current bid';
  return (
    <div className="price-block" aria-live="polite" aria-atomic="true">
      <div className="label">{label}</div>
      <div key={flash} className={`price ${flash > 0 ? 'flash' : ''}`} data-testid="current-price">
        {formatMoney(live.price ?? live.startingPrice, currency)}
      </div>
      {live.leader && live.status !== 'cancelled' && <div className="small muted">{live.status === 'closed' ? 'Winner' : 'Leading'}: {live.leader}</div>}
    </div>
  );
}

function Countdown({ live, extendedAt }: { live: LiveView; extendedAt: number | null }) {
  const now = useServerNow(live.status === 'open' ? 250 : 1000);
  if (live.status === 'closed' || live.status === 'cancelled') return null;
  if (live.status === 'scheduled') {
    const left = Date.parse(live.startsAt) - now;
    return (
      <div className="countdown" role="timer" aria-label={`Opens in ${spokenDuration(left)}`}>
        <span>Opens in</span>
        <span className="time">{left > 0 ? formatDuration(left) : 'a moment'}</span>
      </div>
    );
  }
  if (live.kind === 'live' || !live.endsAt) return null;
  const endsAtMs = Date.parse(live.endsAt);
  const left = endsAtMs - now;
  const extendedRecently = extendedAt !== null && Date.now() - extendedAt < 8000;
  return (
    <div>
      <div className={`countdown ${left < 120_000 ? 'urgent' : ''}`} role="timer" aria-label={`Ends in ${spokenDuration(left)}`} data-testid="countdown">
        <span>{left > 0 ? 'Ends in' : 'Closing'}</span>
        <span className="time">{left > 0 ? formatDuration(left) : '…'}</span>
      </div>
      <p className="small muted" style={{ margin: '6px 0 0' }}>
        Ends {formatDateTime(live.endsAt)} (Gavel's clock). A bid in the last minutes extends the end.
      </p>
      {extendedRecently && (
        <p className="notice warning small" role="status" style={{ marginTop: 8 }}>
          Extended: a late bid moved the end to {formatTime(endsAtMs)}.
        </p>
      )}
    </div>
  );
}

function Phase({ live }: { live: LiveView }) {
  if (live.status === 'closed') {
    return (
      <div className="banner sold" role="status">
        {live.outcome === 'sold' ? `Sold to ${live.leader ?? 'the winner'}` : 'Ended without a sale'}
      </div>
    );
  }
  if (live.status === 'cancelled') return <div className="banner warning">This auction was cancelled.</div>;
  if (live.kind !== 'live' || live.status !== 'open') return null;
  if (live.phase === 'fairWarning')
    return (
      <div className="banner warning" role="alert">
        Fair warning — last call!
      </div>
    );
  if (live.phase === 'paused') return <div className="banner warning">The auctioneer has paused the sale.</div>;
  return null;
}

function BidBox(props: {
  live: LiveView;
  me: Standing | null;
  myLabel: string | null;
  outbid: boolean;
  currency: string;
  scale: number;
  nextBids: string[];
  auctionId: string;
  onStanding: (me: Standing, view: LiveView | null) => void;
  onJoined: () => void;
}) {
  const { live, me, currency, scale, auctionId } = props;
  const session = useSession();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ tone: 'success' | 'danger' | 'warning'; text: string; topUp?: boolean } | null>(null);
  const [max, setMax] = useState('');
  const [maxError, setMaxError] = useState<string | undefined>();
  const wallet = useStore(wallets).items.find((w) => w.currency === currency);
  const next = location.pathname + location.search;

  if (live.status === 'closed') {
    const won = props.myLabel !== null && live.outcome === 'sold' && live.leader === props.myLabel;
    return won ? (
      <div className="notice success" role="status">
        <p>
          <strong>You won this lot.</strong> Your held funds paid for it.
        </p>
        <Link to="/me/orders">See your order</Link>
      </div>
    ) : null;
  }
  if (live.status === 'cancelled') return null;
  if (session.status !== 'signed-in') {
    return (
      <div className="stack">
        {live.minimumNextBid && (
          <p>
            Next bid from <strong>{formatMoney(live.minimumNextBid, currency)}</strong>
          </p>
        )}
        <Link className="btn primary large block" to={`/signin?next=${encodeURIComponent(next)}`}>
          Sign in to bid
        </Link>
        <p className="small muted">
          New here? <Link to={`/register?next=${encodeURIComponent(next)}`}>Create an account</Link>, it takes a minute.
        </p>
      </div>
    );
  }

  const run = async (amount: string, maxBid?: string) => {
    setBusy(true);
    setResult(null);
    try {
      if (!me?.joined) {
        await api('POST', `/api/auctions/${auctionId}/join`);
      }
      if (session.user) rememberAuction(session.user.id, auctionId);
      const r = await api<{ result: 'leads' | 'raisedMax' | 'outbid' | null; auction: LiveView; me: Standing }>('POST', `/api/auctions/${auctionId}/bids`, {
        body: { amount, currency, ...(maxBid && { max: maxBid }) },
        idempotencyKey: newKey('bid'),
      });
      props.onStanding(r.me, r.auction);
      refreshWallets(0);
      setMax('');
      if (r.result === 'outbid') setResult({ tone: 'warning', text: `Another bidder's maximum is higher: you were outbid at once. The price is now ${formatMoney(r.auction.price, currency)}.` });
      else if (r.result === 'raisedMax') setResult({ tone: 'success', text: `Your maximum is now ${formatMoney(r.me.maxBid, currency)}. The price stays where it is.` });
      else setResult({ tone: 'success', text: `You lead at ${formatMoney(r.auction.price, currency)}${r.me.maxBid && r.me.maxBid !== r.auction.price ? `, with a maximum of ${formatMoney(r.me.maxBid, currency)}` : ''}.` });
    } catch (error) {
      const code = error instanceof ApiError ? error.code : '';
      setResult({ tone: 'danger', text: messageOf(error), topUp: code === 'INSUFFICIENT_FUNDS' });
      if (code === 'BID_TOO_LOW' || code === 'ALREADY_LEADING') props.onJoined();
    } finally {
      setBusy(false);
    }
  };

  const submitMax = (e: FormEvent) => {
    e.preventDefault();
    const min = live.minimumNextBid;
    if (toMinor(max, scale) === null) return setMaxError(`Enter an amount like ${scale > 0 ? `25.${'0'.repeat(scale)}` : '2500'}`);
    if (min && compareAmounts(max, min, scale) < 0) return setMaxError(`Your maximum must be at least ${formatMoney(min, currency)}`);
    setMaxError(undefined);
    void run(min ?? max, max);
  };

  if (live.status === 'scheduled') {
    return me?.joined ? (
      <p className="notice">You have joined as {props.myLabel}. Bidding opens at {formatDateTime(live.startsAt)}.</p>
    ) : (
      <div className="stack">
        <p className="small muted">Join now to be ready when bidding opens.</p>
        <button
          type="button"
          className="btn dark block"
          disabled={busy}
          onClick={() => {
            setBusy(true);
            api('POST', `/api/auctions/${auctionId}/join`)
              .then(() => {
                if (session.user) rememberAuction(session.user.id, auctionId);
                props.onJoined();
              }, (error: unknown) => setResult({ tone: 'danger', text: messageOf(error) }))
              .finally(() => setBusy(false));
          }}
        >
          Join this auction
        </button>
        {result && <p className={`notice ${result.tone}`}>{result.text}</p>}
      </div>
    );
  }

  const paused = live.kind === 'live' && live.phase === 'paused';
  // Never offer less than the minimum (a live sale's asking price may sit above the ladder).
  const min = live.minimumNextBid;
  const offered = min ? props.nextBids.filter((a) => compareAmounts(a, min, scale) >= 0) : props.nextBids;
  const amounts = (offered.length ? offered : min ? [min] : []).slice(0, 3);
  return (
    <div className="stack">
      {me?.leading ? (
        <div className="standing leading" role="status" data-testid="standing">
          You lead{me.maxBid ? ` — your maximum is ${formatMoney(me.maxBid, currency)}` : ''}
        </div>
      ) : props.outbid ? (
        <div className="standing outbid" role="status" data-testid="standing">
          You have been outbid
        </div>
      ) : null}
      <div>
        <div className="label" id="quick-label">
          {live.kind === 'live' ? 'Bid at the asking price' : 'Bid now'}
        </div>
        <div className="quick-bids" role="group" aria-labelledby="quick-label">
          {amounts.map((a, i) => (
            <button key={a} type="button" className={`btn ${i === 0 ? 'primary' : ''}`} disabled={busy || paused || me?.leading} onClick={() => void run(a)} aria-label={`Bid ${formatMoney(a, currency)}`}>
              {formatMoney(a, currency)}
              <small>{i === 0 ? 'next bid' : `+${i} step${i === 1 ? '' : 's'}`}</small>
            </button>
          ))}
        </div>
        {me?.leading && <p className="small muted" style={{ marginTop: 6 }}>You lead: raise your maximum below instead.</p>}
      </div>
      <form onSubmit={submitMax} noValidate className="stack">
        <Field id="max-bid" label="Your maximum bid" error={maxError} hint="We bid for you, one step at a time, up to this amount — only as much as it takes to keep the lead.">
          <div className="input-affix">
            <input id="max-bid" inputMode="decimal" autoComplete="off" value={max} onChange={(e) => setMax(e.target.value)} aria-invalid={maxError ? true : undefined} aria-describedby="max-bid-hint" placeholder={live.minimumNextBid ?? ''} />
            <span>{currency}</span>
          </div>
        </Field>
        <button type="submit" className="btn dark block" disabled={busy || paused}>
          {me?.leading ? 'Raise my maximum' : 'Place maximum bid'}
        </button>
      </form>
      {live.buyNow && <BuyNow price={live.buyNow} currency={currency} auctionId={auctionId} joined={me?.joined ?? false} onDone={props.onJoined} />}
      <div aria-live="polite">
        {result && (
          <div className={`notice ${result.tone}`} data-testid="bid-result">
            <p>{result.text}</p>
            {result.topUp && <Link to={`/wallet/${currency}?topup=1`}>Top up your {currency} wallet</Link>}
          </div>
        )}
      </div>
      <p className="small muted">
        Available to bid: <Money amount={wallet?.available ?? null} currency={currency} /> · <Link to={`/wallet/${currency}?topup=1`}>Top up</Link>
      </p>
    </div>
  );
}

function BuyNow({ price, currency, auctionId, joined, onDone }: { price: string; currency: string; auctionId: string; joined: boolean; onDone: () => void }) {
  const buy = async () => {
    if (!joined) await api('POST', `/api/auctions/${auctionId}/join`);
    await api('POST', `/api/auctions/${auctionId}/buy-now`, { idempotencyKey: newKey('buy') });
  };
  const done = () => {
    refreshWallets(0);
    onDone();
  };
  return (
    <ConfirmDialog id="buy-now" open={{ label: `Buy now for ${formatMoney(price, currency)}`, className: 'btn block' }} title={`Buy now for ${formatMoney(price, currency)}?`} confirmLabel="Buy now" cancelLabel="Cancel" action={buy} onDone={done}>
      <p>The auction ends at once and the lot is yours. The amount is taken from your {currency} wallet.</p>
    </ConfirmDialog>
  );
}

function History({ items: all, currency, myLabel }: { items: HistoryItem[]; currency: string; myLabel: string | null }) {
  // A soft-close extension rides on the bid that caused it (same moment): one line, not two.
  const bidTimes = new Set(all.filter((h) => h.type === 'bid').map((h) => h.atMs));
  const extendedTimes = new Set(all.filter((h) => h.text?.startsWith('Soft close')).map((h) => h.atMs));
  const items = all.filter((h) => !(h.text?.startsWith('Soft close') && bidTimes.has(h.atMs)));
  if (items.length === 0) return <p className="muted">No bids yet. Be the first.</p>;
  return (
    <BidHistory
      items={items}
      testId="bid-history"
      bidClassName={(h) => (h.leader === myLabel ? 'mine' : '')}
      bidText={(h) => (
        <>
          <span className="amount">{formatMoney(h.price ?? null, currency)}</span> · {h.leader}
          {h.leader === myLabel ? ' (you)' : ''}
          {extendedTimes.has(h.atMs) && <span className="badge warning" style={{ marginLeft: 8 }}>extended</span>}
        </>
      )}
    />
  );
}
