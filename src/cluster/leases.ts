// Leases: which engine process owns a market right now (DESIGN: single writer per market).
//
// A lease is a key ("auction.<id>", "instrument.<symbol>") held by one holder (an engine's
// node id) until it stops renewing: the store forgets it `ttlMs` after the last write. Each
// acquisition gets a fencing token, a number larger than every earlier token of that key; the
// holder writes it beside every journal append (fences.ts), so a holder that lost its lease
// without noticing (a long GC pause, a partition) is refused by storage, never believed.
//
// Two adapters behind one port:
// - InProcessLeases: one process (the embedded default, tests). Tokens count up in memory.
// - JetStreamLeases: a NATS JetStream KV bucket with a bucket-level TTL (`max_age`) and
//   compare-and-set by revision. Debian's nats-server is 2.9, which has no per-key TTL, so the
//   bucket's TTL is the lease time and every renewal is a CAS update that restarts the key's
//   age. The token is the revision (stream sequence) of the acquiring write: the stream's
//   sequence only grows, so a later acquisition always has a larger token than an earlier one.
import type { KV } from '@nats-io/kv';
import type { Clock } from '../platform/clock.js';

export interface Lease {
  key: string;
  holder: string;
  /** Fencing token: larger for every new acquisition of this key; unchanged by renewals. */
  token: number;
  /** The store's version of the lease entry, for compare-and-set renewals. */
  revision: number;
}

export interface LeaseStore {
  /** How long a lease lives without a renewal. */
  readonly ttlMs: number;
  /** Takes the lease if nobody holds it; null when someone does. */
  acquire(key: string, holder: string): Promise<Lease | null>;
  /** Extends a lease still held by `lease.holder` at `lease.revision`; null when it was lost. */
  renew(lease: Lease): Promise<Lease | null>;
  /** Gives the lease up if it is still this one (someone else's is left alone). */
  release(lease: Lease): Promise<void>;
  /** Who holds `key` now, if anyone. */
  holderOf(key: string): Promise<{ holder: string; token: number } | null>;
  /**
   * The live keys `<prefix>.<…>` (the engines' membership leases, market-host.ts). Optional: a
   * store without it gives no count of engines, and its keepers take every free market.
   */
  keysUnder?(prefix: string): Promise<string[]>;
}

/** Lease keys: letters, digits, '-', '_' and '.' separated words (JetStream KV's key rules). */
export const LEASE_KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

function checkKey(key: string): void {
  if (!LEASE_KEY.test(key) || key.length > 200) throw new RangeError(`"${key}" is not a lease key (words of letters, digits, - and _, separated by dots)`);
}

// --- in process --------------------------------------------------------------------------------

export class InProcessLeases implements LeaseStore {
  private readonly entries = new Map<string, { holder: string; token: number; revision: number; expiresAtMs: number }>();
  private sequence = 0;

  constructor(
    readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  async acquire(key: string, holder: string): Promise<Lease | null> {
    checkKey(key);
    const current = this.live(key);
    if (current) return null;
    const revision = ++this.sequence;
    this.entries.set(key, { holder, token: revision, revision, expiresAtMs: this.clock.nowMs() + this.ttlMs });
    return { key, holder, token: revision, revision };
  }

  async renew(lease: Lease): Promise<Lease | null> {
    const current = this.live(lease.key);
    if (!current || current.revision !== lease.revision || current.holder !== lease.holder) return null;
    current.revision = ++this.sequence;
    current.expiresAtMs = this.clock.nowMs() + this.ttlMs;
    return { ...lease, revision: current.revision };
  }

  async release(lease: Lease): Promise<void> {
    const current = this.live(lease.key);
    if (current && current.revision === lease.revision && current.holder === lease.holder) this.entries.delete(lease.key);
  }

  async holderOf(key: string): Promise<{ holder: string; token: number } | null> {
    const current = this.live(key);
    return current ? { holder: current.holder, token: current.token } : null;
  }

  async keysUnder(prefix: string): Promise<string[]> {
    checkKey(prefix);
    return [...this.entries.keys()].filter((key) => key.startsWith(`${prefix}.`) && this.live(key));
  }

  private live(key: string) {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAtMs <= this.clock.nowMs()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

// --- NATS JetStream KV -------------------------------------------------------------------------

interface StoredLease {
  holder: string;
  token: number;
}

export class JetStreamLeases implements LeaseStore {
  private constructor(
    private readonly kv: KV,
    readonly ttlMs: number,
  ) {}

  /**
   * Opens (creating it if need be) the bucket. Every process of a cluster must use the same
   * `ttlMs` for a bucket: it is the bucket's, fixed when the first process created it.
   */
  static async open(kv: KV, ttlMs: number): Promise<JetStreamLeases> {
    const status = await kv.status();
    if (status.ttl !== ttlMs) throw new Error(`lease bucket ${status.bucket} has a TTL of ${status.ttl} ms, not ${ttlMs} ms: every node must use the same lease time`);
    return new JetStreamLeases(kv, ttlMs);
  }

  async acquire(key: string, holder: string): Promise<Lease | null> {
    checkKey(key);
    // The token is this write's revision, which create() answers only after the write: store
    // the holder first, then learn the token from the revision (a reader uses the revision).
    try {
      const revision = await this.kv.create(key, JSON.stringify({ holder, token: 0 } satisfies StoredLease));
      return { key, holder, token: revision, revision };
    } catch (error) {
      if (isWrongLastSequence(error)) return null;
      throw error;
    }
  }

  async renew(lease: Lease): Promise<Lease | null> {
    try {
      const revision = await this.kv.update(lease.key, JSON.stringify({ holder: lease.holder, token: lease.token } satisfies StoredLease), lease.revision);
      return { ...lease, revision };
    } catch (error) {
      if (isWrongLastSequence(error)) return null;
      throw error;
    }
  }

  async release(lease: Lease): Promise<void> {
    try {
      await this.kv.delete(lease.key, { previousSeq: lease.revision });
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
    }
  }

  async holderOf(key: string): Promise<{ holder: string; token: number } | null> {
    checkKey(key);
    const entry = await this.kv.get(key);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return null;
    const stored = JSON.parse(entry.string()) as StoredLease;
    // The acquiring write carries token 0: its own revision is the token.
    return { holder: stored.holder, token: stored.token === 0 ? entry.revision : stored.token };
  }

  async keysUnder(prefix: string): Promise<string[]> {
    checkKey(prefix);
    // Released keys (a DEL marker) are not listed. On nats-server 2.9 a key past the TTL stays
    // listed until the server's max_age purge removes it (about a second later): a dead
    // engine is counted that much longer, which the keeper's liveness rule tolerates.
    const keys: string[] = [];
    for await (const key of await this.kv.keys(`${prefix}.>`)) keys.push(key);
    return keys;
  }
}

/** JetStream's answer to a create or CAS update whose expected last sequence did not match. */
function isWrongLastSequence(error: unknown): boolean {
  const e = error as { api_error?: { err_code?: number }; code?: unknown; message?: string };
  // 10071: "wrong last sequence"; create() of a live key answers the same.
  return e?.api_error?.err_code === 10071 || /wrong last sequence/i.test(String(e?.message ?? ''));
}
