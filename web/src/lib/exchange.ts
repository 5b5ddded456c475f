// The exchange's instruments, as the trading screen and the admin pages both read them.
import { api } from './api.js';
import { fromMinor, toMinor } from './money.js';

export interface Instrument {
  symbol: string;
  base: string;
  quote: string;
  tickSize: string;
  lotSize: string;
  minQuantity: string;
  maxQuantity: string;
  makerFeeBps: number;
  takerFeeBps: number;
  protectionBps: number;
  status: 'trading' | 'halted';
}

export const listInstruments = (signal?: AbortSignal) => api<{ items: Instrument[] }>('GET', '/api/exchange/instruments', signal ? { signal } : {});

/** A trade as the public feed (`trades:{symbol}`) and `GET …/trades` show it: no parties. */
export interface PublicTrade {
  id: string;
  /** Counts the instrument's trades 1, 2, 3 … */
  seq: number;
  price: string;
  quantity: string;
  takerSide: 'buy' | 'sell';
  at: string;
}

/** A one-minute OHLCV candle (`GET …/candles`); prices in the quote currency, volume in base. */
export interface Candle {
  start: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  trades: number;
}

export const MINUTE_MS = 60_000;

/** One-minute candles from `fromMs` up to now (minutes without trades are absent). */
export const getCandles = (symbol: string, fromMs: number, signal?: AbortSignal) =>
  api<{ symbol: string; interval: string; items: Candle[] }>('GET', `/api/exchange/instruments/${encodeURIComponent(symbol)}/candles`, { query: { from: new Date(fromMs).toISOString() }, ...(signal && { signal }) });

const decimalsOf = (text: string) => (text.includes('.') ? text.length - text.indexOf('.') - 1 : 0);
const minuteOf = (iso: string) => {
  const ms = Date.parse(iso);
  return ms - (ms % MINUTE_MS);
};

/** Decimal strings of one instrument as bigints at a shared scale, and back. */
function amounts(...samples: string[]) {
  const scale = Math.max(0, ...samples.map(decimalsOf));
  return { minor: (text: string) => toMinor(text, scale) ?? 0n, text: (minor: bigint) => fromMinor(minor, scale) };
}

/** A candle with one more trade in it (close, high, low, volume, count). */
export function addTrade(c: Candle, t: PublicTrade): Candle {
  const p = amounts(c.open, c.high, c.low, c.close, t.price);
  const q = amounts(c.volume, t.quantity);
  const price = p.minor(t.price);
  return {
    ...c,
    high: price > p.minor(c.high) ? t.price : c.high,
    low: price < p.minor(c.low) ? t.price : c.low,
    close: t.price,
    volume: q.text(q.minor(c.volume) + q.minor(t.quantity)),
    trades: c.trades + 1,
  };
}

/** The same trade seen again: what it says about the price, but no more volume. */
function touchTrade(c: Candle, t: PublicTrade): Candle {
  const p = amounts(c.high, c.low, t.price);
  const price = p.minor(t.price);
  return { ...c, high: price > p.minor(c.high) ? t.price : c.high, low: price < p.minor(c.low) ? t.price : c.low, close: t.price };
}

const candleOf = (t: PublicTrade): Candle => ({ start: new Date(minuteOf(t.at)).toISOString(), open: t.price, high: t.price, low: t.price, close: t.price, volume: t.quantity, trades: 1 });

/**
 * The candles the API answered, brought up to date with the trades the feed has brought since,
 * without asking again. `requestSeq` is the last trade seq the page had seen when it asked: trades
 * up to it are in the answer. A later one may be too (it was committed while the answer was
 * read): where the feed saw the first trade of that minute, the candle's trade count says exactly
 * which are in; otherwise its price is applied (that is idempotent) but not its volume, and
 * `unsure` asks for the answer to be read again.
 */
export function withLiveTrades(answer: Candle[], feed: PublicTrade[], requestSeq: number): { candles: Candle[]; unsure: boolean } {
  const byMinute = new Map<number, Candle>(answer.map((c) => [Date.parse(c.start), c]));
  const answered = new Map(byMinute);
  const trades = [...feed].sort((a, b) => a.seq - b.seq);
  // The seq of each minute's first trade, when the feed shows where the minute began (-1: not).
  const firstSeq = new Map<number, number>();
  trades.forEach((t, i) => {
    const minute = minuteOf(t.at);
    if (firstSeq.has(minute)) return;
    const before = trades[i - 1];
    firstSeq.set(minute, t.seq === 1 || (before && before.seq === t.seq - 1 && minuteOf(before.at) < minute) ? t.seq : -1);
  });
  let unsure = false;
  for (const t of trades) {
    const minute = minuteOf(t.at);
    const fromAnswer = answered.get(minute);
    const current = byMinute.get(minute);
    if (!current) {
      // A minute the answer did not have: none of its trades had been committed when it was read
      // (an older trade of such a minute lies before the time asked for).
      if (t.seq > requestSeq) byMinute.set(minute, candleOf(t));
      continue;
    }
    if (!fromAnswer) {
      byMinute.set(minute, addTrade(current, t));
      continue;
    }
    const first = firstSeq.get(minute) ?? -1;
    const included = first >= 0 ? t.seq < first + fromAnswer.trades : t.seq <= requestSeq;
    if (included) continue;
    if (first >= 0) byMinute.set(minute, addTrade(current, t));
    else {
      byMinute.set(minute, touchTrade(current, t));
      unsure = true;
    }
  }
  return { candles: [...byMinute.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c), unsure };
}

/** One-minute candles folded into `bucketMs` ones (5 or 15 minutes for a longer view). */
export function bucketCandles(candles: Candle[], bucketMs: number): Candle[] {
  if (bucketMs === MINUTE_MS) return candles;
  const out: Candle[] = [];
  for (const c of candles) {
    const startMs = Date.parse(c.start);
    const bucketStart = new Date(startMs - (startMs % bucketMs)).toISOString();
    const last = out.at(-1);
    if (!last || last.start !== bucketStart) {
      out.push({ ...c, start: bucketStart });
      continue;
    }
    const p = amounts(last.high, last.low, c.high, c.low);
    const q = amounts(last.volume, c.volume);
    out[out.length - 1] = {
      ...last,
      high: p.minor(c.high) > p.minor(last.high) ? c.high : last.high,
      low: p.minor(c.low) < p.minor(last.low) ? c.low : last.low,
      close: c.close,
      volume: q.text(q.minor(last.volume) + q.minor(c.volume)),
      trades: last.trades + c.trades,
    };
  }
  return out;
}

/** How many trades the page keeps from its feed (newest first): enough to fold into the chart. */
export const FEED_KEPT = 2000;

/** The page's trades feed: the latest trades, newest first, and which snapshot they follow. */
export interface TradeFeed {
  recent: PublicTrade[];
  /** Counts the feed's snapshots and resumes: each is a reason to read the candles again. */
  epoch: number;
}
