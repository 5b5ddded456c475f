// Seeded streams of order-book operations, shared by the exchange's differential tests and
// bench:matching, so a failure or a figure names the stream (profile, count, seed) behind it.
// Prices are whole ticks around a mid that wanders slowly; quantities are whole lots.
import { mulberry32 } from './random.js';

export type StreamProfile = 'mixed' | 'resting' | 'crossing';

export type StreamOp =
  | { kind: 'limit'; id: string; userId: string; side: 'buy' | 'sell'; priceTicks: number; qtyLots: number }
  | { kind: 'market'; id: string; userId: string; side: 'buy' | 'sell'; qtyLots: number }
  | { kind: 'cancel'; id: string };

export interface StreamOptions {
  /** Distinct traders (self-trades happen when two orders of one trader meet). */
  users?: number;
  /** The mid price the stream starts at, in ticks. */
  midTicks?: number;
}

/**
 * `mixed`: limit orders within ±20 ticks of the mid (about a third cross), cancels and a few
 * market orders. `resting`: limit orders that never cross (bids below the mid, asks above),
 * with cancels — the book grows deep. `crossing`: most orders cross the spread, so nearly
 * every operation trades.
 */
export function* orderStream(profile: StreamProfile, count: number, seed: number, options: StreamOptions = {}): Generator<StreamOp> {
  const random = mulberry32(seed);
  const users = options.users ?? 100;
  let mid = options.midTicks ?? 10_000;
  const live: string[] = [];
  const int = (n: number) => Math.floor(random() * n);
  const cancelOne = (): StreamOp | null => {
    if (live.length === 0) return null;
    const at = int(live.length);
    const id = live[at]!;
    live[at] = live[live.length - 1]!;
    live.pop();
    return { kind: 'cancel', id };
  };
  for (let n = 1; n <= count; n++) {
    // The mid wanders a tick now and then, never below 100 ticks.
    if (random() < 0.01) mid = Math.max(100, mid + (random() < 0.5 ? -1 : 1));
    const id = `o${n}`;
    const userId = `u${int(users)}`;
    const side = random() < 0.5 ? 'buy' : 'sell';
    const qtyLots = 1 + int(profile === 'crossing' ? 20 : 10);
    const roll = random();
    let op: StreamOp | null = null;
    if (profile === 'mixed') {
      if (roll < 0.3) op = cancelOne();
      else if (roll < 0.35) op = { kind: 'market', id, userId, side, qtyLots };
      else {
        const offset = int(41) - 20;
        op = { kind: 'limit', id, userId, side, priceTicks: Math.max(1, mid + (side === 'buy' ? offset - 5 : offset + 5)), qtyLots };
      }
    } else if (profile === 'resting') {
      if (roll < 0.3) op = cancelOne();
      else {
        const away = 1 + int(50);
        op = { kind: 'limit', id, userId, side, priceTicks: Math.max(1, side === 'buy' ? mid - away : mid + away), qtyLots };
      }
    } else {
      if (roll < 0.1) op = cancelOne();
      else if (roll < 0.2) op = { kind: 'market', id, userId, side, qtyLots };
      else {
        // Both sides keep being refilled a little away from the mid and taken by orders reaching across.
        const aggressive = random() < 0.6;
        const offset = aggressive ? int(6) : 1 + int(5);
        const priceTicks = Math.max(1, side === 'buy' ? (aggressive ? mid + offset : mid - offset) : aggressive ? mid - offset : mid + offset);
        op = { kind: 'limit', id, userId, side, priceTicks, qtyLots };
      }
    }
    if (op === null) op = { kind: 'limit', id, userId, side, priceTicks: Math.max(1, side === 'buy' ? mid - 1 : mid + 1), qtyLots };
    if (op.kind === 'limit') live.push(op.id);
    yield op;
  }
}

/** The whole stream as an array (benchmarks build it before the clock starts). */
export function orderStreamArray(profile: StreamProfile, count: number, seed: number, options?: StreamOptions): StreamOp[] {
  return [...orderStream(profile, count, seed, options)];
}
