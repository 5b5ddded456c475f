// bench:matching — the exchange's matching core (src/exchange/book.ts) against the
// `nodejs-order-book` package on the same seeded order streams (DESIGN.md: ≥ 10× on each of
// mixed, resting-heavy and crossing; cancel cost independent of how many orders share a level).
//
// Per profile, on a stream of MATCHING_OPS operations built before any clock starts:
// 1. warm-up: each engine on a prefix of a stream with another seed;
// 2. throughput: the whole stream through a fresh book per engine, no timer inside the loop,
//    repeated on another fresh book until 2 s of wall time have gone by (at most 5 passes; the
//    same rule for both engines: ours repeats, nodejs-order-book's pass is long enough alone),
//    as operations per wall-second (the headline) and per CPU-second of this process (steadier
//    on a shared machine, where other processes take the cores away), over all passes and for
//    the first pass alone (the bench's only pass until 2026-12-06); the memory (JS heap
//    plus ArrayBuffers, where our book keeps its order records) is measured after a forced gc
//    before and after, so the growth ÷ resting orders is the book's bytes per resting order
//    (ids and user ids are shared with the inputs, so neither book pays for them); after each
//    forced gc the bench sleeps 0.5 s, so the collector's concurrent sweeping is not charged
//    to the clock that starts next;
// 3. latency: a second pass on a fresh book with every operation timed by
//    process.hrtime.bigint(). Ours over the whole stream; nodejs-order-book over the first
//    MATCHING_BASELINE_LATENCY_OPS operations (the whole resting stream costs it well over a
//    minute per pass), with our p99 over the same prefix printed beside it.
// Then the cancel-cost check: 10,000 random cancels in a book of 100,000 orders spread over
// 1,000 levels of 100, and in one of a single level of 100,000 (ns per cancel, wall and CPU).
// The last line is the headline: the mixed stream's figure and its ratio.
//
// How an operation reaches each engine, with the same semantics on both:
// - limit: a GTC limit order. Ours: place({ tif: 'gtc' }); theirs: limit() (GTC is its default).
// - market: ours has no market type at the book (the service turns a market order into an
//   IOC at its protection price), so the bench sends an IOC limit at MARKET_BUY_PRICE_TICKS
//   (1e12, above any price in the streams) or MARKET_SELL_PRICE_TICKS (1); theirs: market().
//   Both walk the other side until the order is filled or the side is empty, and rest nothing.
// - cancel: cancel(id) on both (the streams cancel orders that may already have traded away).
// - self-trade: our book always cancels the resting order of the same user and goes on
//   matching. nodejs-order-book's equivalent is stpMode EXPIRE_MAKER with the user as
//   accountId; it is off by default there, but without it the two books would trade different
//   streams, so the bench turns it on (one string compare per maker touched).
//   MATCHING_BASELINE_STP=none measures it with its default instead.
// Journaling, stop orders and OCO are off by default in nodejs-order-book and stay off.
//
// Needs --expose-gc for the heap figures: run through `npm run bench:matching` (plain tsx),
// the script starts itself again as `node --expose-gc --import tsx bench/matching.ts`.
//
// Environment: MATCHING_OPS (1000000), MATCHING_WARMUP_OPS (100000),
// MATCHING_BASELINE_LATENCY_OPS (200000), MATCHING_PROFILES (mixed,resting,crossing),
// MATCHING_BASELINE_STP (expire_maker | none), MATCHING_MIN_PASS_SECONDS (2).
import { execFileSync, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { OrderBook as BaselineBook, SelfTradePreventionMode, type IProcessOrder, type LimitOrderOptions, type MarketOrderOptions, type Side as BaselineSide } from 'nodejs-order-book';
import { OrderBook, type IncomingOrder } from '../src/exchange/book.js';
import { orderStreamArray, type StreamOp, type StreamProfile } from '../test/support/order-streams.js';
import { mulberry32 } from '../test/support/random.js';
import { fmt, percentile } from './support.js';

const OPS = Number(process.env.MATCHING_OPS ?? 1_000_000);
const WARMUP_OPS = Number(process.env.MATCHING_WARMUP_OPS ?? 100_000);
const BASELINE_LATENCY_OPS = Math.min(OPS, Number(process.env.MATCHING_BASELINE_LATENCY_OPS ?? 200_000));
const PROFILES = (process.env.MATCHING_PROFILES ?? 'mixed,resting,crossing').split(',').map((p) => p.trim()) as StreamProfile[];
const BASELINE_STP = process.env.MATCHING_BASELINE_STP === 'none' ? SelfTradePreventionMode.NONE : SelfTradePreventionMode.EXPIRE_MAKER;
/** Fixed seeds, so every run feeds the same streams; the warm-up stream uses seed + 1000. */
const SEEDS: Record<StreamProfile, number> = { mixed: 1, resting: 2, crossing: 3 };
const WARMUP_SEED_OFFSET = 1000;
const TARGET_RATIO = 10;
/** A market buy reaches every ask: far above any price a stream draws (they stay near 10,000 ticks). */
const MARKET_BUY_PRICE_TICKS = 1e12;
const MARKET_SELL_PRICE_TICKS = 1;
/** How long the bench sleeps after a forced gc before it starts a clock. */
const SETTLE_MS = 500;
/** A throughput pass is repeated on a fresh book until this much wall time has gone by... */
const MIN_PASS_SECONDS = Number(process.env.MATCHING_MIN_PASS_SECONDS ?? 2);
/** ...or this many passes have run. */
const MAX_PASSES = 5;
/** Progress lines during a long pass, checked every 65,536 operations. */
const PROGRESS_EVERY_MS = 5_000;

const CANCEL_BOOK_ORDERS = 100_000;
const CANCEL_COUNT = 10_000;
const CANCEL_REPEATS = 7;
/** nodejs-order-book's queue removal walks its level, so it gets fewer cancels (for contrast only). */
const BASELINE_CANCEL_COUNT = 50;

type Gc = () => void;
const gc = (globalThis as { gc?: Gc }).gc;

const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const load = () => `load ${loadavg().map((l) => l.toFixed(2)).join(', ')}`;
const ns = (start: bigint) => Number(process.hrtime.bigint() - start);

/**
 * Sleeps SETTLE_MS (the thread blocks, using no CPU) after a forced gc, so the collector's
 * concurrent sweeping of the old generation ends before the next clock starts: otherwise the
 * first collections of the timed loop finish it and charge it to the engine (measured: the
 * first scavenge of our crossing pass took 150 ms instead of 2-20 ms).
 */
function settle(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, SETTLE_MS);
}

/** The JS heap plus ArrayBuffer memory (outside the heap: our book keeps its orders in typed arrays), after a forced gc; then settle(). */
function memoryUsedAfterGc(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  settle();
  return m.heapUsed + m.arrayBuffers;
}

// --- the two engines, each fed its own input objects built before the clock starts -------

interface Tally {
  /** Maker orders filled (one per maker per taker, as a trade feed would print them). */
  trades: number;
  filledLots: number;
  selfTradeCancels: number;
  cancels: number;
}

const newTally = (): Tally => ({ trades: 0, filledLots: 0, selfTradeCancels: 0, cancels: 0 });

interface EngineRun {
  readonly tally: Tally;
  apply(i: number): void;
  resting(): number;
}

interface Engine<Input> {
  readonly name: string;
  /** The engine's own input objects for a stream, built before any clock or heap reading. */
  prepare(ops: readonly StreamOp[]): Input[];
  /** A fresh book fed inputs[i] by apply(i). */
  open(inputs: readonly Input[]): EngineRun;
}

/** A cancel arrives as its order id; everything else as the book's own order object. */
type OurInput = IncomingOrder | string;

function ourInputs(ops: readonly StreamOp[]): OurInput[] {
  return ops.map((op): OurInput => {
    if (op.kind === 'cancel') return op.id;
    if (op.kind === 'limit') return { id: op.id, userId: op.userId, side: op.side, priceTicks: op.priceTicks, qtyLots: op.qtyLots, tif: 'gtc', postOnly: false };
    const priceTicks = op.side === 'buy' ? MARKET_BUY_PRICE_TICKS : MARKET_SELL_PRICE_TICKS;
    return { id: op.id, userId: op.userId, side: op.side, priceTicks, qtyLots: op.qtyLots, tif: 'ioc', postOnly: false };
  });
}

class OurRun implements EngineRun {
  readonly tally = newTally();
  private readonly book = new OrderBook();
  constructor(private readonly inputs: readonly OurInput[]) {}

  apply(i: number): void {
    const input = this.inputs[i]!;
    if (typeof input === 'string') {
      if (this.book.cancel(input) !== undefined) this.tally.cancels++;
      return;
    }
    const result = this.book.place(input);
    this.tally.trades += result.fills.length;
    this.tally.filledLots += result.filledLots;
    this.tally.selfTradeCancels += result.selfTradeCancels.length;
  }

  resting(): number {
    return this.book.size;
  }
}

const ours: Engine<OurInput> = { name: 'ours', prepare: ourInputs, open: (inputs) => new OurRun(inputs) };

interface BaselineMarket extends MarketOrderOptions {
  market: true;
}
type BaselineInput = LimitOrderOptions | BaselineMarket | string;

function baselineInputs(ops: readonly StreamOp[]): BaselineInput[] {
  const stp = BASELINE_STP === SelfTradePreventionMode.NONE ? {} : { stpMode: BASELINE_STP };
  return ops.map((op): BaselineInput => {
    if (op.kind === 'cancel') return op.id;
    const side = op.side as BaselineSide;
    const account = BASELINE_STP === SelfTradePreventionMode.NONE ? {} : { accountId: op.userId };
    if (op.kind === 'limit') return { id: op.id, side, price: op.priceTicks, size: op.qtyLots, ...account, ...stp };
    return { market: true, side, size: op.qtyLots, ...account, ...stp };
  });
}

/**
 * Makers a taker traded with, from nodejs-order-book's answer: `done` holds the makers it
 * filled whole (and the taker itself when a limit order filled whole); `partial` is the
 * maker it left part of, or the taker when the taker rests after trading.
 */
function baselineTrades(result: IProcessOrder, takerId: string | undefined): number {
  let trades = 0;
  for (const order of result.done) if (order.id !== takerId) trades++;
  if (result.partial !== null && result.partial.id !== takerId) trades++;
  return trades;
}

class BaselineRun implements EngineRun {
  readonly tally = newTally();
  private readonly book = new BaselineBook();
  constructor(private readonly inputs: readonly BaselineInput[]) {}

  apply(i: number): void {
    const input = this.inputs[i]!;
    if (typeof input === 'string') {
      if (this.book.cancel(input) !== undefined) this.tally.cancels++;
      return;
    }
    const isMarket = 'market' in input;
    const result = isMarket ? this.book.market(input) : this.book.limit(input);
    if (result.err !== null) throw new Error(`nodejs-order-book refused operation ${i}: ${result.err.message}`);
    this.tally.trades += baselineTrades(result, isMarket ? undefined : input.id);
    this.tally.filledLots += input.size - result.quantityLeft;
    this.tally.selfTradeCancels += result.stpExpired?.length ?? 0;
  }

  resting(): number {
    // Its order index is private; counting it once at the end is outside every timed loop.
    return Object.keys((this.book as unknown as { orders: object }).orders).length;
  }
}

const baseline: Engine<BaselineInput> = { name: 'nodejs-order-book', prepare: baselineInputs, open: (inputs) => new BaselineRun(inputs) };

// --- passes ------------------------------------------------------------------------------------

interface Throughput {
  /** Over every pass: operations run ÷ wall seconds. */
  opsPerSecond: number;
  seconds: number;
  /** Operations per second of this process's CPU time (user + system): steadier than wall time on a shared machine. */
  opsPerCpuSecond: number;
  passes: number;
  /** The first pass alone (the only pass before 2026-12-06): it carries the one-time costs a short pass cannot spread. */
  firstPass: { opsPerSecond: number; opsPerCpuSecond: number };
  resting: number;
  bytesPerResting: number;
  tally: Tally;
}

/**
 * The whole stream on a fresh book, again on another fresh book until MIN_PASS_SECONDS of wall
 * time have gone by (at most MAX_PASSES passes): the same rule for both engines, so a short pass
 * (ours take about half a second) is not dominated by one-time costs such as the first
 * collections after the forced gc, while a long one runs once. No timer in the loop beyond a
 * progress check every 65,536 operations. Every pass must end with the same tally.
 */
function throughputPass<Input>(engine: Engine<Input>, inputs: readonly Input[], label: string): Throughput {
  const memoryBefore = memoryUsedAfterGc();
  const count = inputs.length;
  let run: EngineRun | undefined;
  let firstPass: Throughput['firstPass'] | undefined;
  let firstTally = '';
  let passes = 0;
  let seconds = 0;
  let cpuSeconds = 0;
  while (passes === 0 || (seconds < MIN_PASS_SECONDS && passes < MAX_PASSES)) {
    run = engine.open(inputs);
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    let lastPrint = performance.now();
    for (let i = 0; i < count; i++) {
      run.apply(i);
      if ((i & 0xffff) === 0xffff && performance.now() - lastPrint > PROGRESS_EVERY_MS) {
        lastPrint = performance.now();
        console.log(`  ${label}: ${fmt(i + 1)} of ${fmt(count)} operations, ${fmt(ns(started) / 1e9, 1)} s, ${load()}`);
      }
    }
    const passSeconds = ns(started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    const passCpuSeconds = (cpu.user + cpu.system) / 1e6;
    passes += 1;
    seconds += passSeconds;
    cpuSeconds += passCpuSeconds;
    const tally = JSON.stringify(run.tally);
    if (firstPass === undefined) {
      firstPass = { opsPerSecond: count / passSeconds, opsPerCpuSecond: count / passCpuSeconds };
      firstTally = tally;
    } else if (tally !== firstTally) throw new Error(`${label}: pass ${passes} ended with ${tally}, the first with ${firstTally}`);
  }
  // The inputs were built before the first reading and are still alive, and so is the last
  // pass's book alone: the growth is one book.
  const memoryAfter = memoryUsedAfterGc();
  const resting = run!.resting();
  return {
    opsPerSecond: (passes * count) / seconds,
    seconds,
    opsPerCpuSecond: (passes * count) / cpuSeconds,
    passes,
    firstPass: firstPass!,
    resting,
    bytesPerResting: resting > 0 ? (memoryAfter - memoryBefore) / resting : NaN,
    tally: run!.tally,
  };
}

/** Every operation of inputs[0, count) timed on its own, in ns (the timer's own cost included). */
function latencyPass<Input>(engine: Engine<Input>, inputs: readonly Input[], count: number): Float64Array {
  const run = engine.open(inputs);
  const latencies = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    run.apply(i);
    latencies[i] = Number(process.hrtime.bigint() - started);
  }
  return latencies;
}

function warmUp<Input>(engine: Engine<Input>, profile: StreamProfile): void {
  const inputs = engine.prepare(orderStreamArray(profile, WARMUP_OPS, SEEDS[profile] + WARMUP_SEED_OFFSET));
  const run = engine.open(inputs);
  for (let i = 0; i < inputs.length; i++) run.apply(i);
}

/** What two back-to-back hrtime.bigint() reads cost: the floor under every latency figure. */
function timerFloorNs(): number {
  const samples = new Float64Array(100_000);
  for (let i = 0; i < samples.length; i++) {
    const started = process.hrtime.bigint();
    samples[i] = Number(process.hrtime.bigint() - started);
  }
  return percentile(samples.sort(), 50);
}

const describeLatency = (sorted: Float64Array) =>
  `p50 ${fmt(percentile(sorted, 50) / 1e3, 2)} µs, p99 ${fmt(percentile(sorted, 99) / 1e3, 2)} µs, p99.9 ${fmt(percentile(sorted, 99.9) / 1e3, 1)} µs, max ${fmt(sorted[sorted.length - 1]! / 1e3, 0)} µs`;

// --- one profile -------------------------------------------------------------------------------

interface EngineResult extends Throughput {
  /** Sorted per-operation latencies (ns) over the first `latencyOps` operations. */
  latencies: Float64Array;
  latencyOps: number;
}

/** Throughput pass, then the latency pass over the first `latencyOps` operations. */
function measure<Input>(engine: Engine<Input>, profile: StreamProfile, ops: readonly StreamOp[], latencyOps: number): EngineResult {
  const inputs = engine.prepare(ops);
  console.log(`[${profile}] ${engine.name}: throughput pass ... (${load()})`);
  const t = throughputPass(engine, inputs, `${profile} ${engine.name}`);
  console.log(
    `[${profile}] ${engine.name}: ${fmt(t.opsPerSecond)} operations/s (${t.passes} pass${t.passes === 1 ? '' : 'es'}, ${fmt(t.seconds, 2)} s; ${fmt(t.opsPerCpuSecond)} per CPU-second; ` +
      `first pass ${fmt(t.firstPass.opsPerSecond)}/s, ${fmt(t.firstPass.opsPerCpuSecond)} per CPU-second); ` +
      `${fmt(t.resting)} resting at the end, ${fmt(t.bytesPerResting)} bytes of heap and array buffers per resting order`,
  );
  const latencies = latencyPass(engine, inputs, latencyOps);
  return { ...t, latencies, latencyOps };
}

function runProfile(profile: StreamProfile): ProfileResult {
  const seed = SEEDS[profile];
  console.log(`\n[${profile}] building ${fmt(OPS)} operations (seed ${seed}) ...`);
  const ops = orderStreamArray(profile, OPS, seed);
  const kinds = { limit: 0, market: 0, cancel: 0 };
  for (const op of ops) kinds[op.kind]++;
  console.log(`[${profile}] ${fmt(kinds.limit)} limit, ${fmt(kinds.market)} market, ${fmt(kinds.cancel)} cancel; warm-up: ${fmt(WARMUP_OPS)} operations of seed ${seed + WARMUP_SEED_OFFSET} per engine`);
  warmUp(ours, profile);
  warmUp(baseline, profile);

  const o = measure(ours, profile, ops, ops.length);
  const b = measure(baseline, profile, ops, BASELINE_LATENCY_OPS);
  const oursPrefix = o.latencies.slice(0, BASELINE_LATENCY_OPS).sort();
  console.log(`[${profile}] latency, every operation timed: ours over all ${fmt(ops.length)}: ${describeLatency(o.latencies.sort())}`);
  console.log(`[${profile}] latency over the first ${fmt(BASELINE_LATENCY_OPS)}: ours ${describeLatency(oursPrefix)}`);
  console.log(`[${profile}] latency over the first ${fmt(BASELINE_LATENCY_OPS)}: nodejs-order-book ${describeLatency(b.latencies.sort())}`);
  checkSameOutcome(profile, o, b);
  return {
    profile,
    ours: o,
    baseline: b,
    ratio: o.opsPerSecond / b.opsPerSecond,
    cpuRatio: o.opsPerCpuSecond / b.opsPerCpuSecond,
    firstPassCpuRatio: o.firstPass.opsPerCpuSecond / b.firstPass.opsPerCpuSecond,
  };
}

interface ProfileResult {
  profile: StreamProfile;
  ours: EngineResult;
  baseline: EngineResult;
  ratio: number;
  cpuRatio: number;
  /** Per CPU-second, first passes only: how the bench measured before 2026-12-06. */
  firstPassCpuRatio: number;
}

/** The sanity check: both books were fed the same stream, so they should end the same. */
function checkSameOutcome(profile: StreamProfile, a: Throughput, b: Throughput): void {
  const pairs: Array<[string, number, number]> = [
    ['resting orders', a.resting, b.resting],
    ['trades', a.tally.trades, b.tally.trades],
    ['lots filled', a.tally.filledLots, b.tally.filledLots],
    ['self-trade cancels', a.tally.selfTradeCancels, b.tally.selfTradeCancels],
    ['cancels that found their order', a.tally.cancels, b.tally.cancels],
  ];
  const differ = pairs.filter(([, x, y]) => x !== y);
  const why = BASELINE_STP === SelfTradePreventionMode.NONE ? ' (expected: MATCHING_BASELINE_STP=none lets nodejs-order-book trade a user against itself, which ours never does)' : '';
  if (differ.length === 0) console.log(`[${profile}] same outcome on both books: ${pairs.map(([n, x]) => `${fmt(x)} ${n}`).join(', ')}`);
  else console.log(`[${profile}] OUTCOMES DIFFER${why}: ${differ.map(([n, x, y]) => `${n} ours ${fmt(x)} vs ${fmt(y)}`).join('; ')}`);
}

// --- cancel cost against the length of the level ------------------------------------------------

interface PerCancel {
  wallNs: number;
  /** This process's CPU time (user + system): what the cancels cost when other processes preempt this one. */
  cpuNs: number;
}

/**
 * Cost per cancel of `cancels` orders drawn at random from a book of CANCEL_BOOK_ORDERS bids
 * spread evenly over `levels` price levels. The book holds as many orders either way, so only
 * the level's length changes; too few cancels land on one level to empty it.
 */
function cancelCostNs(book: { limit: (id: string, priceTicks: number) => void; cancel: (id: string) => unknown }, levels: number, cancels: number, seed: number): PerCancel {
  const perLevel = CANCEL_BOOK_ORDERS / levels;
  const ids: string[] = [];
  for (let level = 0; level < levels; level++) {
    for (let k = 0; k < perLevel; k++) {
      const id = `c${level}-${k}`;
      ids.push(id);
      book.limit(id, 1_000 + level);
    }
  }
  const random = mulberry32(seed);
  for (let i = 0; i < cancels; i++) {
    const j = i + Math.floor(random() * (ids.length - i));
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  gc!(); // no collection of the build's garbage inside the timed loop
  settle();
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < cancels; i++) book.cancel(ids[i]!);
  const wallNs = ns(started);
  const cpu = process.cpuUsage(cpuBefore);
  return { wallNs: wallNs / cancels, cpuNs: ((cpu.user + cpu.system) * 1e3) / cancels };
}

const ourCancelBook = () => {
  const book = new OrderBook();
  return { limit: (id: string, priceTicks: number) => void book.place({ id, userId: 'u', side: 'buy', priceTicks, qtyLots: 1, tif: 'gtc', postOnly: false }), cancel: (id: string) => book.cancel(id) };
};
const baselineCancelBook = () => {
  const book = new BaselineBook();
  return { limit: (id: string, price: number) => void book.limit({ id, side: 'buy' as BaselineSide, price, size: 1 }), cancel: (id: string) => book.cancel(id) };
};

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface CancelCost {
  /** Medians over the rounds, ns per cancel, at a level of 100 and at a level of 100,000. */
  short: PerCancel;
  long: PerCancel;
}

function cancelCost(): CancelCost {
  console.log(`\n[cancel] ${fmt(CANCEL_COUNT)} random cancels in a book of ${fmt(CANCEL_BOOK_ORDERS)} orders: 1,000 levels of 100 vs 1 level of 100,000 (${CANCEL_REPEATS} rounds after a warm-up round, the two shapes alternating) ...`);
  const short: PerCancel[] = [];
  const long: PerCancel[] = [];
  for (let round = 0; round <= CANCEL_REPEATS; round++) {
    const s = cancelCostNs(ourCancelBook(), 1_000, CANCEL_COUNT, 7 + round);
    const l = cancelCostNs(ourCancelBook(), 1, CANCEL_COUNT, 7 + round);
    if (round === 0) continue;
    short.push(s);
    long.push(l);
  }
  const rounds = (xs: PerCancel[], key: keyof PerCancel) => xs.map((x) => fmt(x[key])).join(' / ');
  console.log(`[cancel] ours, ns per cancel by round, wall: level of 100 ${rounds(short, 'wallNs')}; level of 100,000 ${rounds(long, 'wallNs')}`);
  console.log(`[cancel] ours, ns per cancel by round, CPU:  level of 100 ${rounds(short, 'cpuNs')}; level of 100,000 ${rounds(long, 'cpuNs')}`);
  const medianOf = (xs: PerCancel[]): PerCancel => ({ wallNs: median(xs.map((x) => x.wallNs)), cpuNs: median(xs.map((x) => x.cpuNs)) });
  const cost = { short: medianOf(short), long: medianOf(long) };
  console.log(`[cancel] ours, medians: ${describeCancel(cost)}`);
  cancelCostNs(baselineCancelBook(), 1_000, BASELINE_CANCEL_COUNT, 6); // warm-up
  const baseShort = cancelCostNs(baselineCancelBook(), 1_000, BASELINE_CANCEL_COUNT, 7);
  const baseLong = cancelCostNs(baselineCancelBook(), 1, BASELINE_CANCEL_COUNT, 7);
  console.log(
    `[cancel] nodejs-order-book for contrast, ${BASELINE_CANCEL_COUNT} cancels, one round: ${fmt(baseShort.cpuNs)} ns of CPU at a level of 100, ` +
      `${fmt(baseLong.cpuNs)} ns at a level of 100,000 (${fmt(baseLong.cpuNs / baseShort.cpuNs, 0)}×: its queue renumbers the level on every removal)`,
  );
  return cost;
}

const describeCancel = (c: CancelCost) =>
  `${fmt(c.short.cpuNs)} ns of CPU per cancel at a level of 100 vs ${fmt(c.long.cpuNs)} ns at a level of 100,000 (${fmt(c.long.cpuNs / c.short.cpuNs, 2)}×); ` +
  `wall ${fmt(c.short.wallNs)} vs ${fmt(c.long.wallNs)} ns (${fmt(c.long.wallNs / c.short.wallNs, 2)}×)`;

// --- main --------------------------------------------------------------------------------------

function main(): void {
  const began = performance.now();
  console.log(`bench:matching — ${fmt(OPS)} operations per profile (${PROFILES.join(', ')}), node ${process.version}`);
  console.log(`uptime before: ${uptime()}`);
  console.log(`nodejs-order-book self-trade prevention: ${BASELINE_STP} (ours: always cancels the resting order)`);
  console.log(`market operations: ours IOC limit at ${MARKET_BUY_PRICE_TICKS} ticks (buy) / ${MARKET_SELL_PRICE_TICKS} tick (sell); nodejs-order-book market()`);
  console.log(`timer: two back-to-back process.hrtime.bigint() reads take ${fmt(timerFloorNs())} ns (p50), included in every latency below`);

  const results = PROFILES.map(runProfile);
  const cancel = cancelCost();

  console.log(`\nuptime after: ${uptime()}; whole run ${fmt((performance.now() - began) / 1e3, 0)} s`);
  for (const r of results) {
    const verdict = r.ratio >= TARGET_RATIO ? 'met' : 'NOT met';
    console.log(
      `${r.profile}: ours ${fmt(r.ours.opsPerSecond)} operations/s, nodejs-order-book ${fmt(r.baseline.opsPerSecond)}/s: ${fmt(r.ratio, 1)}x (target ≥ ${TARGET_RATIO}x: ${verdict}; ` +
        `per CPU-second ${fmt(r.cpuRatio, 1)}x, first passes only ${fmt(r.firstPassCpuRatio, 1)}x); p99 ${fmt(percentile(r.ours.latencies, 99) / 1e3, 2)} µs over all vs ${fmt(percentile(r.baseline.latencies, 99) / 1e3, 2)} µs over the first ${fmt(r.baseline.latencyOps)}`,
    );
  }
  const resting = results.find((r) => r.profile === 'resting');
  if (resting) console.log(`memory (resting stream, ${fmt(resting.ours.resting)} orders left): ${fmt(resting.ours.bytesPerResting)} bytes of heap and array buffers per resting order vs ${fmt(resting.baseline.bytesPerResting)}`);
  console.log(`cancel cost (median of ${CANCEL_REPEATS} rounds of ${fmt(CANCEL_COUNT)}): ${describeCancel(cancel)}`);
  const headline = results.find((r) => r.profile === 'mixed') ?? results[0]!;
  console.log(`matching: ${fmt(headline.ours.opsPerSecond)} orders/s on the ${headline.profile} stream, ${fmt(headline.ratio, 1)}x nodejs-order-book on the same stream`);
}

if (gc === undefined) {
  // Forced gc makes the heap figures mean something, and tsx has no way to pass the flag on.
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url)], { stdio: 'inherit', cwd: fileURLToPath(new URL('..', import.meta.url)) });
  process.exit(child.status ?? 1);
} else {
  main();
}
