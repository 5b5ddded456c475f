// The trading screen: instruments, the order book (L2 depth, live), recent trades (live),
// order entry (limit, market; GTC, IOC, FOK; post-only), my open orders with cancel and amend,
// and my fills as they happen — both parties hear of a fill in the same moment. A candle chart
// of the price (components/PriceChart.tsx) follows the same trades feed.
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Empty, ErrorNotice, Field, Money, SignInPrompt } from '../components/Common.js';
import { PriceChart } from '../components/PriceChart.js';
import { exchangePushes, refreshWallets, wallets } from '../lib/account.js';
import { ApiError, api, messageOf } from '../lib/api.js';
import { FEED_KEPT, listInstruments, type Instrument, type PublicTrade, type TradeFeed } from '../lib/exchange.js';
import { formatDateTime, formatTime } from '../lib/format.js';
import { useResource, useTitle } from '../lib/hooks.js';
import { newKey } from '../lib/ids.js';
import { compareAmounts, formatDecimal, formatMoney, fromMinor, toMinor } from '../lib/money.js';
import { realtime } from '../lib/realtime.js';
import { Link } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useStore } from '../lib/store.js';

type Level = [price: string, quantity: string, orders: number];

interface Order {
  id: string;
  clientOrderId: string | null;
  symbol: string;
  side: 'buy' | 'sell';
  type: 'limit' | 'market';
  timeInForce: string;
  postOnly: boolean;
  price: string;
  quantity: string;
  filledQuantity: string;
  remainingQuantity: string;
  averagePrice: string | null;
  fees: string;
  feeCurrency: string;
  status: 'open' | 'filled' | 'cancelled';
  cancelReason: string | null;
  createdAt: string;
}

interface Fill {
  id: string;
  symbol: string;
  orderId: string;
  side: 'buy' | 'sell';
  liquidity: 'maker' | 'taker';
  price: string;
  quantity: string;
  notional: string;
  fee: string;
  feeCurrency: string;
  at: string;
}

const decimalsOf = (text: string) => (text.includes('.') ? text.length - text.indexOf('.') - 1 : 0);

export function TradePage({ symbol }: { symbol?: string }) {
  useTitle(symbol ? `${symbol} · Trade` : 'Trade');
  const list = useResource('instruments', listInstruments);
  const items = list.data?.items ?? [];
  const instrument = items.find((i) => i.symbol === symbol) ?? (symbol ? undefined : items[0]);
  if (list.error) return <div className="page"><ErrorNotice error={list.error} retry={list.reload} /></div>;
  if (!list.data) return <div className="page"><p className="muted">Loading the exchange…</p></div>;
  if (items.length === 0)
    return (
      <div className="page">
        <h1>Exchange</h1>
        <Empty title="Nothing is listed yet">
          <p>Instruments appear here once an admin lists them.</p>
        </Empty>
      </div>
    );
  if (!instrument)
    return (
      <div className="page">
        <ErrorNotice error={new ApiError({ status: 404, code: 'NOT_FOUND' })} />
        <Link to="/trade">All instruments</Link>
      </div>
    );
  return <Market key={instrument.symbol} instrument={instrument} instruments={items} />;
}

function Market({ instrument, instruments }: { instrument: Instrument; instruments: Instrument[] }) {
  const { symbol, base, quote } = instrument;
  const session = useSession();
  const book = useBook(symbol);
  const feed = useTradeFeed(symbol);
  const trades = useMemo(() => feed.recent.slice(0, TRADES_SHOWN), [feed.recent]);
  const [price, setPrice] = useState('');
  const mine = useMyOrders(symbol, session.token);
  const last = trades[0];

  return (
    <div className="page">
      <div className="spread" style={{ marginBottom: 16 }}>
        <div>
          <h1 style={{ marginBottom: 4 }}>
            {base}
            <span className="muted"> / {quote}</span>
          </h1>
          <div className="facts">
            <span>
              Last: <strong data-testid="last-price">{last ? formatMoney(last.price, quote) : '—'}</strong>
            </span>
            <span>
              Tick {instrument.tickSize} · Lot {instrument.lotSize} · Fees {instrument.makerFeeBps / 100}% maker, {instrument.takerFeeBps / 100}% taker
            </span>
            {instrument.status !== 'trading' && <span className="badge warning">{instrument.status}</span>}
          </div>
        </div>
      </div>
      <PriceChart instrument={instrument} feed={feed} />
      <div className="trade-layout">
        <div className="stack">
          <section className="panel tight" aria-labelledby="instruments-h">
            <h2 id="instruments-h" className="h3">
              Instruments
            </h2>
            <nav className="instrument-list" aria-label="Instruments">
              {instruments.map((i) => (
                <Link key={i.symbol} to={`/trade/${i.symbol}`} aria-current={i.symbol === symbol ? 'page' : undefined}>
                  <span>{i.symbol}</span>
                  {i.status !== 'trading' && <span className="badge warning">{i.status}</span>}
                </Link>
              ))}
            </nav>
          </section>
          <section className="panel tight" aria-labelledby="trades-h">
            <h2 id="trades-h" className="h3">
              Trades
            </h2>
            <TradesTable trades={trades} quote={quote} />
          </section>
        </div>
        <section className="panel tight" aria-labelledby="book-h">
          <h2 id="book-h" className="h3">
            Order book
          </h2>
          <Book book={book} onPick={setPrice} quote={quote} />
        </section>
        <section className="panel order-entry" aria-labelledby="entry-h">
          <h2 id="entry-h" className="h3">
            Place an order
          </h2>
          {session.status === 'signed-in' ? <OrderEntry instrument={instrument} price={price} setPrice={setPrice} onPlaced={mine.upsert} /> : <SignInPrompt what="and place orders" />}
        </section>
      </div>
      {session.status === 'signed-in' && (
        <div className="two-col" style={{ marginTop: 24, gridTemplateColumns: 'minmax(0, 1fr) minmax(0, 1fr)' }}>
          <OpenOrders instrument={instrument} orders={mine.open} onChange={mine.upsert} reload={mine.reload} />
          <MyFills fills={mine.fills} />
        </div>
      )}
    </div>
  );
}

// --- live data ------------------------------------------------------------------------------

interface BookState {
  bids: Level[];
  asks: Level[];
  ready: boolean;
}

function sortLevels(levels: Level[], side: 'buy' | 'sell'): Level[] {
  const scale = Math.max(0, ...levels.map(([p]) => decimalsOf(p)));
  return [...levels].sort((a, b) => (side === 'buy' ? -1 : 1) * compareAmounts(a[0], b[0], scale));
}

function applyChanges(levels: Level[], changes: Array<[string, string, string]>, side: 'buy' | 'sell'): Level[] {
  const byPrice = new Map(levels.map((l) => [l[0], l]));
  for (const [s, price, quantity] of changes) {
    if (s !== side) continue;
    if (/^0(\.0*)?$/.test(quantity)) byPrice.delete(price);
    else byPrice.set(price, [price, quantity, byPrice.get(price)?.[2] ?? 1]);
  }
  return sortLevels([...byPrice.values()], side);
}

/** The book: a snapshot, then depth changes; a gap in prevSeq asks for a fresh snapshot. */
function useBook(symbol: string): BookState {
  const [book, setBook] = useState<BookState>({ bids: [], asks: [], ready: false });
  const [resync, setResync] = useState(0);
  useEffect(() => {
    let lastSeq: number | null = null;
    return realtime.subscribe(`book:${symbol}`, {
      onSnapshot: (s: { bids: Level[]; asks: Level[] }, seq) => {
        lastSeq = seq;
        setBook({ bids: s.bids, asks: s.asks, ready: true });
      },
      onEvent: (e: { type: string; prevSeq: number; changes: Array<[string, string, string]> }, seq) => {
        if (lastSeq !== null && e.prevSeq > lastSeq) {
          setResync((r) => r + 1);
          return;
        }
        lastSeq = seq;
        setBook((b) => ({ bids: applyChanges(b.bids, e.changes, 'buy'), asks: applyChanges(b.asks, e.changes, 'sell'), ready: true }));
      },
    });
  }, [symbol, resync]);
  return book;
}

const TRADES_SHOWN = 40;

/** The trades feed, newest first; `epoch` moves on each snapshot and each resume after a drop. */
function useTradeFeed(symbol: string): TradeFeed {
  const [feed, setFeed] = useState<TradeFeed>({ recent: [], epoch: 0 });
  useEffect(() => {
    const unsubscribe = realtime.subscribe(`trades:${symbol}`, {
      onSnapshot: (s: { trades: PublicTrade[] }) => setFeed((f) => ({ recent: s.trades.slice(0, FEED_KEPT), epoch: f.epoch + 1 })),
      onEvent: (t: PublicTrade & { type: string }) => setFeed((f) => (f.recent.some((x) => x.id === t.id) ? f : { ...f, recent: [t, ...f.recent].slice(0, FEED_KEPT) })),
    });
    // Live again after a drop: the feed resumes from its last seq, and the chart reads its candles again.
    let status = realtime.status.get();
    const stopWatching = realtime.status.subscribe(() => {
      const next = realtime.status.get();
      if (next === 'live' && status !== 'live') setFeed((f) => (f.epoch === 0 ? f : { ...f, epoch: f.epoch + 1 }));
      status = next;
    });
    return () => {
      unsubscribe();
      stopWatching();
    };
  }, [symbol]);
  return feed;
}

function useMyOrders(symbol: string, token: string | null) {
  const [open, setOpen] = useState<Order[]>([]);
  const [fills, setFills] = useState<Fill[]>([]);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (!token) return;
    const controller = new AbortController();
    api<{ items: Order[] }>('GET', '/api/exchange/orders', { query: { symbol, status: 'open', limit: 100 }, signal: controller.signal }).then((r) => setOpen(r.items), () => {});
    api<{ items: Fill[] }>('GET', '/api/exchange/fills', { query: { symbol, limit: 30 }, signal: controller.signal }).then((r) => setFills(r.items), () => {});
    return () => controller.abort();
  }, [symbol, token, version]);

  const upsert = (order: Order) => {
    if (order.symbol !== symbol) return;
    setOpen((list) => {
      const rest = list.filter((o) => o.id !== order.id);
      return order.status === 'open' ? [order, ...rest].sort((a, b) => b.createdAt.localeCompare(a.createdAt)) : rest;
    });
  };
  const upsertRef = useRef(upsert);
  upsertRef.current = upsert;

  useEffect(() => {
    const onPush = (e: { type: string; fill?: Fill; order?: Order }) => {
      if (e.order) upsertRef.current(e.order);
      const fill = e.fill;
      if (fill && fill.symbol === symbol) setFills((list) => (list.some((f) => f.id === fill.id) ? list : [fill, ...list].slice(0, 50)));
    };
    exchangePushes.add(onPush);
    return () => {
      exchangePushes.delete(onPush);
    };
  }, [symbol]);
  return { open, fills, upsert, reload: () => setVersion((v) => v + 1) };
}

// --- views ------------------------------------------------------------------------------------

const LEVELS_SHOWN = 12;

function Book({ book, onPick, quote }: { book: BookState; onPick: (price: string) => void; quote: string }) {
  const asks = book.asks.slice(0, LEVELS_SHOWN).reverse();
  const bids = book.bids.slice(0, LEVELS_SHOWN);
  const most = useMemo(() => {
    const all = [...asks, ...bids].map(([, q]) => Number(q));
    return Math.max(1, ...all);
  }, [asks, bids]);
  if (!book.ready) return <p className="muted">Connecting to the book…</p>;
  const bestBid = bids[0]?.[0];
  const bestAsk = book.asks[0]?.[0];
  const spread = bestBid && bestAsk ? spreadOf(bestBid, bestAsk) : null;
  const row = (l: Level, side: 'ask' | 'bid') => (
    <tr key={`${side}${l[0]}`} className={side}>
      <td>
        <button type="button" className="btn ghost small" style={{ padding: 0, minHeight: 0, color: 'inherit' }} onClick={() => onPick(l[0])} aria-label={`Use price ${l[0]}`}>
          {formatDecimal(l[0])}
        </button>
      </td>
      <td className="depth-bar">
        {/* The bar's width is the level's share of the largest level shown (not money). */}
        <i style={{ width: `${Math.round((Number(l[1]) / most) * 100)}%` }} />
        {formatDecimal(l[1])}
      </td>
      <td className="muted">{l[2]}</td>
    </tr>
  );
  return (
    <div className="book" data-testid="order-book">
      <table>
        <caption className="visually-hidden">Order book: asks above, bids below, in {quote}</caption>
        <thead>
          <tr>
            <th scope="col">Price</th>
            <th scope="col">Quantity</th>
            <th scope="col">Orders</th>
          </tr>
        </thead>
        <tbody>
          {asks.map((l) => row(l, 'ask'))}
          <tr className="spread-row">
            <td colSpan={3}>{spread === null ? (asks.length || bids.length ? 'One side is empty' : 'The book is empty') : `Spread ${spread}`}</td>
          </tr>
          {bids.map((l) => row(l, 'bid'))}
        </tbody>
      </table>
    </div>
  );
}

function spreadOf(bid: string, ask: string): string {
  const scale = Math.max(decimalsOf(bid), decimalsOf(ask));
  const a = toMinor(ask, scale);
  const b = toMinor(bid, scale);
  return a === null || b === null ? '' : fromMinor(a - b, scale);
}

function TradesTable({ trades, quote }: { trades: PublicTrade[]; quote: string }) {
  if (trades.length === 0) return <p className="muted small">No trades yet.</p>;
  return (
    <div className="book trades-list">
      <table data-testid="trades">
        <caption className="visually-hidden">Latest trades in {quote}</caption>
        <thead>
          <tr>
            <th scope="col">Price</th>
            <th scope="col">Qty</th>
            <th scope="col">Time</th>
          </tr>
        </thead>
        <tbody>
          {trades.map((t) => (
            <tr key={t.id} className="flash-row">
              <td className={t.takerSide}>{formatDecimal(t.price)}</td>
              <td>{formatDecimal(t.quantity)}</td>
              <td className="muted">{formatTime(t.at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function OrderEntry({ instrument, price, setPrice, onPlaced }: { instrument: Instrument; price: string; setPrice: (p: string) => void; onPlaced: (o: Order) => void }) {
  const { symbol, base, quote } = instrument;
  const [side, setSide] = useState<'buy' | 'sell'>('buy');
  const [type, setType] = useState<'limit' | 'market'>('limit');
  const [quantity, setQuantity] = useState('');
  const [tif, setTif] = useState<'gtc' | 'ioc' | 'fok'>('gtc');
  const [postOnly, setPostOnly] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ tone: string; text: string } | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const ws = useStore(wallets).items;
  const quoteWallet = ws.find((w) => w.currency === quote);
  const baseWallet = ws.find((w) => w.currency === base);
  const priceScale = decimalsOf(instrument.tickSize);
  const qtyScale = decimalsOf(instrument.lotSize);
  const marketTif = tif === 'fok' ? 'fok' : 'ioc';

  const total = (() => {
    if (type !== 'limit') return null;
    const p = toMinor(price, priceScale);
    const q = toMinor(quantity, qtyScale);
    if (p === null || q === null) return null;
    return fromMinor((p * q) / 10n ** BigInt(qtyScale), priceScale);
  })();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const problems: Record<string, string> = {};
    if (type === 'limit' && toMinor(price, priceScale) === null) problems.price = `A price in steps of ${instrument.tickSize}`;
    if (toMinor(quantity, qtyScale) === null) problems.quantity = `A quantity in steps of ${instrument.lotSize}`;
    setErrors(problems);
    if (Object.keys(problems).length) return;
    setBusy(true);
    setResult(null);
    try {
      const body = {
        symbol,
        side,
        type,
        quantity: quantity.trim(),
        ...(type === 'limit' && { price: price.trim(), timeInForce: tif, ...(tif === 'gtc' && postOnly && { postOnly: true }) }),
        ...(type === 'market' && { timeInForce: marketTif }),
        clientOrderId: newKey('web'),
      };
      const r = await api<{ order: Order; fills: Fill[] }>('POST', '/api/exchange/orders', { body, idempotencyKey: newKey('order') });
      onPlaced(r.order);
      refreshWallets(0);
      const o = r.order;
      const filled = o.filledQuantity !== '0' && !/^0(\.0+)?$/.test(o.filledQuantity);
      setResult({
        tone: 'success',
        text:
          o.status === 'filled'
            ? `Filled: ${side === 'buy' ? 'bought' : 'sold'} ${o.filledQuantity} ${base} at ${o.averagePrice} ${quote} on average.`
            : o.status === 'open'
              ? filled
                ? `Partly filled (${o.filledQuantity} of ${o.quantity}); the rest rests on the book.`
                : `Your order rests on the book at ${o.price} ${quote}.`
              : `${filled ? `Filled ${o.filledQuantity} of ${o.quantity}; ` : 'Nothing filled; '}the rest was cancelled (${o.cancelReason ?? o.timeInForce}).`,
      });
      setQuantity('');
    } catch (err) {
      const fieldErrors: Record<string, string> = {};
      if (err instanceof ApiError) for (const f of err.problem.errors ?? []) fieldErrors[f.field] = f.message;
      setErrors(fieldErrors);
      setResult({ tone: 'danger', text: messageOf(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate>
      <fieldset>
        <legend className="visually-hidden">Side</legend>
        <div className="segmented buy-sell" style={{ display: 'flex' }}>
          {(['buy', 'sell'] as const).map((s) => (
            <label key={s} style={{ flex: 1, textAlign: 'center' }}>
              <input type="radio" name="side" value={s} checked={side === s} onChange={() => setSide(s)} />
              <span>{s === 'buy' ? `Buy ${base}` : `Sell ${base}`}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset>
        <legend>Order type</legend>
        <div className="segmented">
          {(['limit', 'market'] as const).map((t) => (
            <label key={t}>
              <input type="radio" name="type" value={t} checked={type === t} onChange={() => setType(t)} />
              <span>{t === 'limit' ? 'Limit' : 'Market'}</span>
            </label>
          ))}
        </div>
      </fieldset>
      {type === 'limit' && (
        <Field id="order-price" label={`Price (${quote})`} error={errors.price} hint={`Steps of ${instrument.tickSize}. Tip: pick a price in the book.`}>
          <input id="order-price" inputMode="decimal" autoComplete="off" value={price} onChange={(e) => setPrice(e.target.value)} aria-invalid={errors.price ? true : undefined} />
        </Field>
      )}
      <Field id="order-quantity" label={`Quantity (${base})`} error={errors.quantity} hint={`Steps of ${instrument.lotSize}, from ${instrument.minQuantity}.`}>
        <input id="order-quantity" inputMode="decimal" autoComplete="off" value={quantity} onChange={(e) => setQuantity(e.target.value)} aria-invalid={errors.quantity ? true : undefined} />
      </Field>
      <div className="field">
        <label htmlFor="order-tif">Time in force</label>
        <select id="order-tif" value={type === 'market' ? marketTif : tif} onChange={(e) => setTif(e.target.value as 'gtc' | 'ioc' | 'fok')}>
          {type === 'limit' && <option value="gtc">Good till cancelled</option>}
          <option value="ioc">Immediate or cancel (IOC)</option>
          <option value="fok">Fill or kill (FOK)</option>
        </select>
      </div>
      {type === 'limit' && (
        <label className="check">
          <input type="checkbox" checked={postOnly && tif === 'gtc'} disabled={tif !== 'gtc'} onChange={(e) => setPostOnly(e.target.checked)} />
          Post only (never take liquidity)
        </label>
      )}
      <p className="small muted" aria-live="polite">
        {total !== null ? (
          <>
            Total about <Money amount={total} currency={quote} /> plus up to {instrument.takerFeeBps / 100}% fee.{' '}
          </>
        ) : type === 'market' ? (
          <>Trades now at the best prices, within {instrument.protectionBps / 100}% of the touch. </>
        ) : null}
        Available: {side === 'buy' ? <Money amount={quoteWallet?.available ?? '0'} currency={quote} /> : <Money amount={baseWallet?.available ?? '0'} currency={base} />}
      </p>
      <button type="submit" className={`btn large ${side}`} disabled={busy || instrument.status !== 'trading'}>
        {busy ? 'Placing…' : `${side === 'buy' ? 'Buy' : 'Sell'} ${base}`}
      </button>
      <div aria-live="polite">{result && <p className={`notice ${result.tone}`} data-testid="order-result">{result.text}</p>}</div>
    </form>
  );
}

function OpenOrders({ instrument, orders, onChange, reload }: { instrument: Instrument; orders: Order[]; onChange: (o: Order) => void; reload: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const cancel = (o: Order) =>
    api<Order>('DELETE', `/api/exchange/orders/${o.id}`).then(
      (r) => {
        onChange(r);
        refreshWallets();
      },
      (err: unknown) => setError(messageOf(err)),
    );
  const cancelAll = () =>
    api('DELETE', '/api/exchange/orders', { query: { symbol: instrument.symbol } }).then(
      () => {
        reload();
        refreshWallets();
      },
      (err: unknown) => setError(messageOf(err)),
    );
  return (
    <section className="panel tight" aria-labelledby="open-h">
      <div className="spread">
        <h2 id="open-h" className="h3">
          My open orders
        </h2>
        {orders.length > 0 && (
          <button type="button" className="btn small" onClick={() => void cancelAll()}>
            Cancel all
          </button>
        )}
      </div>
      {error && <p className="notice danger">{error}</p>}
      {orders.length === 0 ? (
        <p className="muted small">No open orders.</p>
      ) : (
        <div className="table-wrap">
          <table className="data" data-testid="open-orders">
            <thead>
              <tr>
                <th scope="col">Side</th>
                <th scope="col" className="right">
                  Price
                </th>
                <th scope="col" className="right">
                  Filled / Qty
                </th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {orders.map((o) => (
                <OrderRow key={o.id} order={o} onCancel={() => void cancel(o)} onAmended={onChange} onError={setError} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function OrderRow({ order: o, onCancel, onAmended, onError }: { order: Order; onCancel: () => void; onAmended: (o: Order) => void; onError: (e: string | null) => void }) {
  const [editing, setEditing] = useState(false);
  const [price, setPrice] = useState(o.price);
  const [quantity, setQuantity] = useState(o.quantity);
  const save = (e: FormEvent) => {
    e.preventDefault();
    const change = { ...(price !== o.price && { price }), ...(quantity !== o.quantity && { quantity }) };
    api<{ order: Order }>('PATCH', `/api/exchange/orders/${o.id}`, { body: change }).then(
      (r) => {
        onAmended(r.order);
        setEditing(false);
        onError(null);
        refreshWallets();
      },
      (err: unknown) => onError(messageOf(err)),
    );
  };
  if (editing)
    return (
      <tr>
        <td colSpan={4}>
          <form className="cluster" onSubmit={save}>
            <label className="small" htmlFor={`amend-p-${o.id}`}>
              Price
            </label>
            <input id={`amend-p-${o.id}`} inputMode="decimal" value={price} onChange={(e) => setPrice(e.target.value)} style={{ width: 110 }} />
            <label className="small" htmlFor={`amend-q-${o.id}`}>
              Quantity
            </label>
            <input id={`amend-q-${o.id}`} inputMode="decimal" value={quantity} onChange={(e) => setQuantity(e.target.value)} style={{ width: 90 }} />
            <button type="submit" className="btn small dark">
              Save
            </button>
            <button type="button" className="btn small ghost" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </form>
          <p className="small muted">A smaller quantity keeps your place in the queue; a new price loses it.</p>
        </td>
      </tr>
    );
  return (
    <tr className="flash-row">
      <td className={o.side === 'buy' ? 'amount-positive' : 'amount-negative'}>
        {o.side} {o.postOnly ? <span className="badge">post</span> : null}
      </td>
      <td className="right">{formatDecimal(o.price)}</td>
      <td className="right">
        {formatDecimal(o.filledQuantity)} / {formatDecimal(o.quantity)}
      </td>
      <td className="right">
        <button type="button" className="btn small ghost" onClick={() => setEditing(true)} aria-label={`Amend ${o.side} order at ${o.price}`}>
          Amend
        </button>
        <button type="button" className="btn small" onClick={onCancel} aria-label={`Cancel ${o.side} order at ${o.price}`}>
          Cancel
        </button>
      </td>
    </tr>
  );
}

function MyFills({ fills }: { fills: Fill[] }) {
  return (
    <section className="panel tight" aria-labelledby="fills-h">
      <h2 id="fills-h" className="h3">
        My fills
      </h2>
      {fills.length === 0 ? (
        <p className="muted small">No fills yet.</p>
      ) : (
        <div className="table-wrap">
          <table className="data" data-testid="my-fills">
            <thead>
              <tr>
                <th scope="col">Side</th>
                <th scope="col" className="right">
                  Price
                </th>
                <th scope="col" className="right">
                  Qty
                </th>
                <th scope="col" className="right">
                  Fee
                </th>
                <th scope="col">When</th>
              </tr>
            </thead>
            <tbody>
              {fills.map((f) => (
                <tr key={f.id} className="flash-row">
                  <td className={f.side === 'buy' ? 'amount-positive' : 'amount-negative'}>
                    {f.side} <span className="small muted">{f.liquidity}</span>
                  </td>
                  <td className="right">{formatDecimal(f.price)}</td>
                  <td className="right">{formatDecimal(f.quantity)}</td>
                  <td className="right">{formatMoney(f.fee, f.feeCurrency)}</td>
                  <td className="small">{formatDateTime(f.at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
