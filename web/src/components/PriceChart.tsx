// The trading screen's price chart: one-minute candles from GET …/candles, kept up to date by
// the page's trades feed — a trade moves the current candle's close, high, low and volume, or
// starts the next one — and read again only when the feed (re)subscribes or resumes. Money is
// compared and added in bigint minor units (lib/exchange.ts); numbers are for drawing only.
import { useEffect, useMemo, useRef, useState } from 'react';
import { ChartCandles, type CandleDatum } from './ChartCandles.js';
import { ErrorNotice } from './Common.js';
import { serverNow, useServerNow } from '../lib/clock.js';
import { bucketCandles, FEED_KEPT, getCandles, MINUTE_MS, withLiveTrades, type Candle, type Instrument, type TradeFeed } from '../lib/exchange.js';
import { formatDecimal, formatMoney, fromMinor, toMinor } from '../lib/money.js';

const HOUR_MS = 60 * MINUTE_MS;

/** What can be shown: a longer time in longer candles, so each stays wide enough to read. */
const RANGES = [
  { key: '1h', label: '1 h', spanMs: HOUR_MS, periodMs: MINUTE_MS, words: 'the last hour', candle: 'one-minute' },
  { key: '6h', label: '6 h', spanMs: 6 * HOUR_MS, periodMs: 5 * MINUTE_MS, words: 'the last 6 hours', candle: 'five-minute' },
  { key: '24h', label: '24 h', spanMs: 24 * HOUR_MS, periodMs: 15 * MINUTE_MS, words: 'the last 24 hours', candle: '15-minute' },
] as const;
type Range = (typeof RANGES)[number];

/** How often in a row an answer that may miss a trade's volume is read again before waiting. */
const UNSURE_READS = 2;

const decimalsOf = (text: string) => (text.includes('.') ? text.length - text.indexOf('.') - 1 : 0);
const hourMinute = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayHourMinute = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });

export function PriceChart({ instrument, feed }: { instrument: Instrument; feed: TradeFeed }) {
  const [range, setRange] = useState<Range>(RANGES[0]);
  const state = useLiveCandles(instrument.symbol, range.spanMs, feed);
  const now = useServerNow(MINUTE_MS);
  return (
    <section className="price-chart" aria-label={`${instrument.base} price chart`}>
      <fieldset className="chart-range">
        <legend className="small muted">Time shown</legend>
        <div className="segmented">
          {RANGES.map((r) => (
            <label key={r.key}>
              <input type="radio" name="chart-range" value={r.key} checked={range.key === r.key} onChange={() => setRange(r)} />
              <span>{r.label}</span>
            </label>
          ))}
        </div>
      </fieldset>
      {state.error !== null ? (
        <ErrorNotice error={state.error} retry={state.reload} />
      ) : state.candles === null ? (
        <p className="muted small">Loading the chart…</p>
      ) : (
        <Candles instrument={instrument} range={range} minuteCandles={state.candles} nowMs={now} />
      )}
    </section>
  );
}

function Candles({ instrument, range, minuteCandles, nowMs }: { instrument: Instrument; range: Range; minuteCandles: Candle[]; nowMs: number }) {
  const { base, quote } = instrument;
  const priceScale = decimalsOf(instrument.tickSize);
  const volumeScale = decimalsOf(instrument.lotSize);
  const endMs = Math.max(nowMs - (nowMs % range.periodMs) + range.periodMs, ...minuteCandles.slice(-1).map((c) => Date.parse(c.start) + range.periodMs));
  const startMs = endMs - range.spanMs;
  const candles = bucketCandles(
    minuteCandles.filter((c) => Date.parse(c.start) >= startMs),
    range.periodMs,
  );
  const at = (c: Candle) => (range.spanMs > 6 * HOUR_MS ? dayHourMinute : hourMinute).format(new Date(c.start));
  const price = (amount: string) => formatMoney(amount, quote);
  const plot = (amount: string, scale: number) => Number(toMinor(amount, scale) ?? 0n);
  const data: CandleDatum[] = candles.map((c) => ({
    x: Date.parse(c.start),
    open: plot(c.open, priceScale),
    high: plot(c.high, priceScale),
    low: plot(c.low, priceScale),
    close: plot(c.close, priceScale),
    volume: plot(c.volume, volumeScale),
    title: `${at(c)}: open ${price(c.open)}, high ${price(c.high)}, low ${price(c.low)}, close ${price(c.close)}, ${formatDecimal(c.volume)} ${base} traded`,
  }));
  const last = candles.at(-1);
  return (
    <ChartCandles
      testId="price-chart"
      title={`${base} price in ${quote}, ${range.words}`}
      summary={summaryOf(candles, range, instrument)}
      candles={data}
      periodMs={range.periodMs}
      xDomain={[startMs, endMs]}
      xLabel="Time"
      yLabel={`Price (${quote})`}
      yFormat={(v) => price(fromMinor(BigInt(Math.round(v)), priceScale))}
      volumeFormat={(v) => formatDecimal(fromMinor(BigInt(Math.round(v)), volumeScale))}
      {...(last && { lastLabel: `Last ${price(last.close)}` })}
      empty={`No trades in ${range.words}`}
      table={{
        columns: ['Time', 'Open', 'High', 'Low', 'Close', `Volume (${base})`, 'Trades'],
        // Newest first, as the trades list: the candle still forming heads the table.
        rows: [...candles].reverse().map((c) => [at(c), price(c.open), price(c.high), price(c.low), price(c.close), formatDecimal(c.volume), String(c.trades)]),
      }}
    />
  );
}

/** One sentence: the last price, how far it moved over the time shown, the range and the volume. */
function summaryOf(candles: Candle[], range: Range, instrument: Instrument): string {
  const first = candles[0];
  const last = candles.at(-1);
  if (!first || !last) return `No ${instrument.base} traded in ${range.words}; ${range.candle} candles appear here as trades happen.`;
  const priceScale = Math.max(decimalsOf(instrument.tickSize), decimalsOf(first.open), decimalsOf(last.close));
  const minor = (amount: string) => toMinor(amount, priceScale) ?? 0n;
  const price = (amount: string) => formatMoney(amount, instrument.quote);
  let high = first.high;
  let low = first.low;
  let trades = 0;
  const volumeScale = Math.max(decimalsOf(instrument.lotSize), ...candles.map((c) => decimalsOf(c.volume)));
  let volume = 0n;
  for (const c of candles) {
    if (minor(c.high) > minor(high)) high = c.high;
    if (minor(c.low) < minor(low)) low = c.low;
    volume += toMinor(c.volume, volumeScale) ?? 0n;
    trades += c.trades;
  }
  const change = minor(last.close) - minor(first.open);
  const magnitude = change < 0n ? -change : change;
  const open = minor(first.open);
  // Tenths of a percent, rounded toward zero: exact arithmetic, no float.
  const tenths = open > 0n ? (magnitude * 1000n) / open : null;
  const moved = change === 0n ? 'unchanged' : `${change > 0n ? 'up' : 'down'} ${price(fromMinor(magnitude, priceScale))}${tenths === null ? '' : ` (${tenths / 10n}.${tenths % 10n} %)`}`;
  return `Last ${price(last.close)}, ${moved} from ${price(first.open)} over ${range.words}; low ${price(low)}, high ${price(high)}; ${formatDecimal(fromMinor(volume, volumeScale))} ${instrument.base} in ${trades} ${trades === 1 ? 'trade' : 'trades'}, in ${range.candle} candles.`;
}

/**
 * The one-minute candles of the last `spanMs`: read when the trades feed has its snapshot
 * (subscribing, a gap the server could not replay, a resume), then folded with the feed's
 * trades as they come.
 */
function useLiveCandles(symbol: string, spanMs: number, feed: TradeFeed): { candles: Candle[] | null; error: unknown; reload: () => void } {
  const [answer, setAnswer] = useState<{ items: Candle[]; requestSeq: number; spanMs: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [reads, setReads] = useState(0);
  const recent = useRef(feed.recent);
  recent.current = feed.recent;

  useEffect(() => {
    if (feed.epoch === 0) return; // the feed's snapshot comes first: it says which trades the answer holds
    const controller = new AbortController();
    const requestSeq = recent.current.reduce((max, t) => Math.max(max, t.seq), 0);
    const fromMs = serverNow() - spanMs;
    getCandles(symbol, fromMs - (fromMs % MINUTE_MS), controller.signal).then(
      (r) => {
        setAnswer({ items: r.items, requestSeq, spanMs });
        setError(null);
      },
      (e: unknown) => {
        if (!controller.signal.aborted) setError(e);
      },
    );
    return () => controller.abort();
  }, [symbol, spanMs, feed.epoch, reads]);

  const merged = useMemo(() => (answer ? withLiveTrades(answer.items, feed.recent, answer.requestSeq) : null), [answer, feed.recent]);

  // A trade committed while the answer was read, in a minute whose start the feed did not see:
  // read once or twice more rather than guess its volume.
  const unsureReads = useRef(0);
  const unsure = merged?.unsure ?? false;
  useEffect(() => {
    if (!unsure) {
      unsureReads.current = 0;
      return;
    }
    if (unsureReads.current >= UNSURE_READS) return;
    unsureReads.current += 1;
    setReads((n) => n + 1);
  }, [unsure, answer]);

  // The feed keeps FEED_KEPT trades: once trades since the answer have fallen off it, read again.
  const oldest = feed.recent.at(-1);
  const lostSome = answer !== null && feed.recent.length >= FEED_KEPT && oldest !== undefined && oldest.seq > answer.requestSeq + 1;
  useEffect(() => {
    if (lostSome) setReads((n) => n + 1);
  }, [lostSome]);

  // A longer range than the answer holds shows nothing until its own answer comes.
  const candles = merged && answer && answer.spanMs >= spanMs ? merged.candles : null;
  return { candles, error, reload: () => setReads((n) => n + 1) };
}
