// What bench/fanout.ts and its client workers share: the clock, a small log-bucket latency
// histogram (so a worker sends a summary of its sockets' deliveries, not every sample), and
// the messages they exchange over the IPC channel.

/**
 * Milliseconds on one clock shared by every process on this machine: the wall-clock time this
 * process started, plus the monotonic time since. Sub-millisecond, and comparable between the
 * bidding driver and the client workers (the driver checks the offset at start).
 */
export const now = (): number => performance.timeOrigin + performance.now();

/** Buckets 1 % wide from 1 µs up: bucket b holds values in (1.01^(b−1), 1.01^b] µs; the last reaches about 440 s. */
export const HISTOGRAM_BUCKETS = 2_000;
const LOG_STEP = Math.log(1.01);

export class Histogram {
  readonly counts: Float64Array;
  total = 0;
  maxMs = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Float64Array(HISTOGRAM_BUCKETS);
    if (counts) this.merge({ counts, maxMs: 0 });
  }

  add(ms: number): void {
    const us = Math.max(0, ms) * 1000;
    const bucket = us <= 1 ? 0 : Math.min(HISTOGRAM_BUCKETS - 1, Math.ceil(Math.log(us) / LOG_STEP));
    this.counts[bucket]! += 1;
    this.total += 1;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  merge(other: { counts: ArrayLike<number>; maxMs: number }): void {
    for (let b = 0; b < HISTOGRAM_BUCKETS; b++) {
      const c = other.counts[b] ?? 0;
      this.counts[b]! += c;
      this.total += c;
    }
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }

  /** The upper edge of the bucket holding the nearest-rank p-th percentile (at most 1 % high), in ms. */
  percentile(p: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let b = 0; b < HISTOGRAM_BUCKETS; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return Math.min(this.maxMs, Math.exp(b * LOG_STEP) / 1000);
    }
    return this.maxMs;
  }
}

// --- driver ⇄ client worker --------------------------------------------------------------------

export type WorkerRequest =
  /** Open `count` sockets to `url`, `inFlight` handshakes at a time, each subscribing to `topic`. */
  | { type: 'connect'; url: string; count: number; inFlight: number; localAddress: string; topic: string }
  /** Start recording a new phase: per-socket counts and latency samples start from zero. */
  | { type: 'phase'; name: string }
  /** How many price events arrived so far (all phases) and how many sockets are open. */
  | { type: 'count' }
  /** The phase's summary, given every bid's send time by price (cents) and the price now expected. */
  | { type: 'report'; sendTimes: Array<[number, number]>; finalPriceCents: number }
  | { type: 'clock'; driverMs: number }
  /** Close every socket (normal closure) and forget them. */
  | { type: 'close' };

export type ToWorker = WorkerRequest & { id: number };

export interface ConnectAnswer {
  opened: number;
  failed: number;
  firstError: string;
  seconds: number;
}

export interface CountAnswer {
  priceEvents: number;
  keyEvents: number;
  open: number;
}

export interface PhaseReport {
  histogram: number[];
  maxMs: number;
  /** Price events delivered in the phase (every socket). */
  delivered: number;
  /** Deliveries whose price no bid was sent for (should be 0). */
  unmatched: number;
  /** Per price (cents): the latest arrival at any of this worker's sockets, in ms after the bid was sent. */
  lastArrival: Array<[number, number]>;
  /** Fewest and most price events any one socket got in the phase. */
  perSocketMin: number;
  perSocketMax: number;
  open: number;
  /** Sockets that closed without being asked to, with their close codes. */
  dropped: number;
  dropCodes: Record<string, number>;
  /** Open sockets whose latest price equals finalPriceCents. */
  holdingFinalPrice: number;
  /** Open sockets that received the key event (AuctionCancelled). */
  keyEvents: number;
  /** When the last of them got it (ms on the shared clock), 0 if none did. */
  keyArrivalLast: number;
  /** WebSocket pings (the gateway's heartbeat) received in the phase. */
  pings: number;
  /** Bytes of one price event as received (the payload of its frame). */
  priceEventBytes: number;
}

export type FromWorker = { id: number } & ({ type: 'answer'; answer: unknown } | { type: 'failed'; error: string });

/** A progress line from a worker while it connects (no id: not an answer). */
export interface ConnectProgress {
  type: 'progress';
  opened: number;
  failed: number;
}
