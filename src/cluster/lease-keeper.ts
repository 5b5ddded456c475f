// Keeps the leases of the markets this engine wants: takes free ones, renews held ones, and
// says when one is gained or lost. A market is served only while its lease is held, and only
// until `validUntil` by our own clock: a renewal that does not get through (NATS unreachable,
// a stalled process) makes us stop before the store lets another engine take over, with a
// margin for clock rates. The fencing token is the backstop when even that is not enough.
//
// With `membership`, markets are spread over the live engines: each keeper keeps a lease of
// its own under a shared prefix, counts the live ones every round, and takes a free market
// only while it holds fewer than its fair share (wanted / engines, rounded up), except a
// market found free in consecutive rounds at least a tick apart, which anyone takes: a count
// that still includes a dead engine must never leave its markets unowned. `shedOne` gives a
// market back when this keeper holds more than its share plus one.
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
  /**
   * Spread markets over the engines: this process's membership key (`<prefix>.<…>`, held like
   * a lease while the keeper runs) and the prefix every engine's is under. Needs a store with
   * `keysUnder`. Unset: every free wanted market is taken.
   */
  membership?: { prefix: string; key: string };
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
  /** This process's membership lease, while held. */
  private member: Lease | undefined;
  /** Live engines at the last count; undefined (no membership, or not counted yet): take every free market. */
  private engines: number | undefined;
  /** How many markets this keeper takes from the free ones, as of the last round. */
  private share = Number.POSITIVE_INFINITY;
  /** Wanted markets found free in the last round (while at our share), and since when by our clock. */
  private freeSinceMs = new Map<string, number>();

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

  /**
   * Gives one market back when this keeper holds more than its fair share plus one and the last
   * round found no wanted market free (another engine under its share takes it at its next
   * tick). The market given back, if any.
   */
  async shedOne(): Promise<string | undefined> {
    await this.running;
    if (this.stopped || this.held.size <= this.share + 1) return undefined;
    // A market still free (an engine died, or one given back has not been taken yet): not
    // settled, and giving one more back would only leave more unowned at once.
    if (this.freeSinceMs.size > 0) return undefined;
    // The longest held: not one a `claim` has just taken and whose creation may still be running.
    const [key, held] = this.held.entries().next().value!;
    this.held.delete(key);
    this.o.logger.info({ key, token: held.lease.token, held: this.held.size, fairShare: this.share }, 'market lease given back to balance the engines');
    this.o.onLost(key, held.lease.token);
    await this.o.store.release(held.lease).catch((error) => this.o.logger.warn({ err: error, key }, 'a lease could not be given back; it expires by itself'));
    return key;
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
    const member = this.member;
    this.member = undefined;
    if (member) await this.o.store.release(member).catch(() => {});
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
    await this.keepMembership();
    this.share = this.engines === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Math.ceil(this.wanted.size / this.engines));
    const previousFree = this.freeSinceMs;
    const freeSinceMs = new Map<string, number>();
    this.freeSinceMs = freeSinceMs;
    for (const key of this.wanted) {
      if (this.stopped) return;
      if (this.held.has(key) || this.claiming.has(key)) continue;
      const sentAtMs = clock.nowMs();
      let lease: Lease | null;
      try {
        if (this.held.size < this.share) lease = await store.acquire(key, holder);
        else {
          // At our share: leave it to an engine under its share, unless it stays free.
          if (await store.holderOf(key)) continue;
          const since = previousFree.get(key) ?? sentAtMs;
          if (sentAtMs - since < this.tickMs) {
            freeSinceMs.set(key, since);
            continue;
          }
          lease = await store.acquire(key, holder);
        }
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

  /**
   * Renews (or takes) this process's membership lease and counts the live engines, this one
   * included. When the store does not answer, the last count stands.
   */
  private async keepMembership(): Promise<void> {
    const { membership, store, holder } = this.o;
    if (!membership || !store.keysUnder || this.stopped) return;
    try {
      // Lost (it expired during a stall): taken again, a new entry under the same key.
      if (this.member) this.member = (await store.renew(this.member)) ?? undefined;
      this.member ??= (await store.acquire(membership.key, holder)) ?? undefined;
      const live = new Set(await store.keysUnder(membership.prefix));
      live.add(membership.key);
      this.engines = live.size;
    } catch (error) {
      this.o.logger.warn({ err: error }, 'the engines could not be counted; the last count stands this round');
    }
  }

  private lose(key: string, held: Held, why: string): void {
    this.held.delete(key);
    this.o.logger.warn({ key, token: held.lease.token, why }, 'market lease lost');
    this.o.onLost(key, held.lease.token);
  }
}
