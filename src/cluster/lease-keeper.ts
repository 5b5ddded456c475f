// Keeps the leases of the markets this engine wants: takes free ones, renews held ones, and
// says when one is gained or lost. A market is served only while its lease is held, and only
// until `validUntil` by our own clock: a renewal that does not get through (NATS unreachable,
// a stalled process) makes us stop before the store lets another engine take over, with a
// margin for clock rates. The fencing token is the backstop when even that is not enough.
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logging.js';
import type { Lease, LeaseStore } from './leases.js';

export interface LeaseKeeperOptions {
  store: LeaseStore;
  /** This process's name in the store (unique per process: host, pid and a random part). */
  holder: string;
  clock: Clock;
  logger: Logger;
  /** How often leases are renewed and free ones sought. Default: a third of the TTL. */
  tickMs?: number;
  /** A held lease counts as lost this long before it would expire in the store. Default: a fifth of the TTL. */
  safetyMarginMs?: number;
  /** A market this process now owns, with its fencing token: rebuild it, then serve it. */
  onAcquired(key: string, token: number): void | Promise<void>;
  /** A market this process no longer owns: stop serving it at once. */
  onLost(key: string, token: number): void;
}

interface Held {
  lease: Lease;
  /** By our clock, when we stop trusting the lease unless a renewal gets through. */
  validUntilMs: number;
}

export class LeaseKeeper {
  private readonly wanted = new Set<string>();
  private readonly held = new Map<string, Held>();
  /** Keys being claimed by `claim` right now: the round leaves them alone. */
  private readonly claiming = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  readonly tickMs: number;
  private readonly marginMs: number;

  constructor(private readonly o: LeaseKeeperOptions) {
    this.tickMs = o.tickMs ?? Math.max(50, Math.floor(o.store.ttlMs / 3));
    this.marginMs = o.safetyMarginMs ?? Math.floor(o.store.ttlMs / 5);
  }

  /** Markets this process would serve when free. Takes effect at the next tick (or `tick()`). */
  want(keys: Iterable<string>): void {
    for (const key of keys) this.wanted.add(key);
  }

  /** No longer wanted: released at the next tick if held. */
  unwant(key: string): void {
    this.wanted.delete(key);
  }

  /**
   * Takes a free key now, without `onAcquired`: for a market this process is creating, which
   * has nothing to rebuild yet. The fencing token, or undefined when another process holds it.
   */
  async claim(key: string): Promise<number | undefined> {
    this.wanted.add(key);
    if (this.held.has(key)) return this.tokenOf(key);
    this.claiming.add(key);
    try {
      const sentAtMs = this.o.clock.nowMs();
      const lease = await this.o.store.acquire(key, this.o.holder);
      if (!lease) return undefined;
      this.held.set(key, { lease, validUntilMs: sentAtMs + this.o.store.ttlMs - this.marginMs });
      this.o.logger.info({ key, token: lease.token }, 'market lease acquired');
      return lease.token;
    } finally {
      this.claiming.delete(key);
    }
  }

  /** The fencing token of a market this process may serve now, or undefined. */
  tokenOf(key: string): number | undefined {
    const held = this.held.get(key);
    if (!held) return undefined;
    if (this.o.clock.nowMs() >= held.validUntilMs) {
      this.lose(key, held, 'its renewal did not get through in time');
      return undefined;
    }
    return held.lease.token;
  }

  /** The markets held now, with their tokens. */
  owned(): Map<string, number> {
    const out = new Map<string, number>();
    for (const key of [...this.held.keys()]) {
      const token = this.tokenOf(key);
      if (token !== undefined) out.set(key, token);
    }
    return out;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** One round now: renew what is held, release what is no longer wanted, take what is free. */
  tick(): Promise<void> {
    return (this.running ??= this.round().finally(() => (this.running = undefined)));
  }

  /** Stops renewing and gives every lease back, so another engine takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await Promise.all(
      [...this.held].map(async ([key, held]) => {
        this.held.delete(key);
        this.o.onLost(key, held.lease.token);
        await this.o.store.release(held.lease).catch((error) => this.o.logger.warn({ err: error, key }, 'a lease could not be released; it expires by itself'));
      }),
    );
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule(this.tickMs));
    }, delayMs);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    const { store, holder, clock } = this.o;
    await Promise.all(
      [...this.held].map(async ([key, held]) => {
        if (!this.wanted.has(key)) {
          this.held.delete(key);
          this.o.onLost(key, held.lease.token);
          await store.release(held.lease).catch(() => {});
          return;
        }
        const sentAtMs = clock.nowMs();
        try {
          const renewed = await store.renew(held.lease);
          if (this.held.get(key) !== held) return; // lost meanwhile (tokenOf found it stale)
          if (renewed) this.held.set(key, { lease: renewed, validUntilMs: sentAtMs + store.ttlMs - this.marginMs });
          else this.lose(key, held, 'another process holds it now');
        } catch (error) {
          this.o.logger.warn({ err: error, key }, 'a lease renewal failed; retrying at the next tick');
          if (clock.nowMs() >= held.validUntilMs && this.held.get(key) === held) this.lose(key, held, 'its renewal did not get through in time');
        }
      }),
    );
    for (const key of this.wanted) {
      if (this.stopped) return;
      if (this.held.has(key) || this.claiming.has(key)) continue;
      const sentAtMs = clock.nowMs();
      let lease: Lease | null;
      try {
        lease = await store.acquire(key, holder);
      } catch (error) {
        this.o.logger.warn({ err: error, key }, 'a lease could not be sought; retrying at the next tick');
        return;
      }
      if (!lease) continue;
      const held = { lease, validUntilMs: sentAtMs + store.ttlMs - this.marginMs };
      this.held.set(key, held);
      this.o.logger.info({ key, token: lease.token }, 'market lease acquired');
      try {
        await this.o.onAcquired(key, lease.token);
      } catch (error) {
        // Could not take the market up (its rebuild failed): give it back for another engine.
        this.o.logger.error({ err: error, key }, 'a market could not be taken up; its lease is given back');
        this.held.delete(key);
        await store.release(lease).catch(() => {});
      }
    }
  }

  private lose(key: string, held: Held, why: string): void {
    this.held.delete(key);
    this.o.logger.warn({ key, token: held.lease.token, why }, 'market lease lost');
    this.o.onLost(key, held.lease.token);
  }
}
