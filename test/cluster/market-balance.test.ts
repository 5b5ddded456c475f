// Markets spread over the live engines: each market host keeps a membership lease, takes free
// markets up to its fair share, gives one back per rescan while it holds more than its share
// plus one, and takes any market that stays free (a dead engine still counted). In process with
// a manual clock, rounds driven by hand; and once over a real NATS JetStream KV bucket.
import { describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { InProcessLeases, JetStreamLeases, LEASE_KEY, type LeaseStore } from '../../src/cluster/leases.js';
import { MarketHost, membershipKey } from '../../src/cluster/market-host.js';
import { MarketRouter } from '../../src/cluster/market-router.js';
import { ManualClock, systemClock, type Clock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logging.js';
import { NATS_AVAILABLE, connectNats, scratchBucket } from '../support/nats.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const TTL_MS = 900;
/** The keeper's default tick: a third of the TTL. */
const TICK_MS = TTL_MS / 3;
const MARKETS = Array.from({ length: 10 }, (_, i) => `a${i}`);
const silent = createLogger('silent');
const cleanups = cleanupsAfterEach();

interface Engine {
  name: string;
  host: MarketHost;
  router: MarketRouter;
  /** Markets the engine's module serves now (taken and not dropped since). */
  serving: Set<string>;
}

function engine(name: string, store: LeaseStore, clock: Clock, listed: () => string[] = () => MARKETS): Engine {
  const router = new MarketRouter({ nats: null, logger: silent });
  const host = new MarketHost({ router, leases: store, holder: name, clock, logger: silent });
  const serving = new Set<string>();
  host.register({
    kind: 'auction',
    wanted: async () => listed(),
    take: async (id) => {
      expect(serving.has(id), `${name} takes auction.${id} twice`).toBe(false);
      serving.add(id);
    },
    drop: (id) => void serving.delete(id),
  });
  cleanups.push(() => host.stop());
  return { name, host, router, serving };
}

const held = (e: Engine) => e.host.owned().length;

/**
 * No market is served by two engines, each engine serves and routes exactly what it holds, and
 * the store agrees. Returns the markets nobody holds.
 */
async function checkOwnership(store: LeaseStore, engines: Engine[]): Promise<string[]> {
  const unowned: string[] = [];
  for (const id of MARKETS) {
    const key = `auction.${id}`;
    const owners = engines.filter((e) => e.host.owned().includes(key));
    expect(owners.length, `${key} held by ${owners.map((e) => e.name)}`).toBeLessThanOrEqual(1);
    expect(engines.filter((e) => e.serving.has(id))).toEqual(owners);
    expect(engines.filter((e) => e.router.owns(key))).toEqual(owners);
    const holder = await store.holderOf(key);
    if (owners.length === 1) expect(holder?.holder).toBe(owners[0]!.name);
    else unowned.push(key);
  }
  return unowned;
}

describe('markets spread over the engines (in process)', () => {
  function setup() {
    const clock = new ManualClock(1_750_000_000_000);
    const store = new InProcessLeases(TTL_MS, clock);
    /** One tick of time, then a rescan of each engine in turn. */
    const round = async (...engines: Engine[]) => {
      clock.advance(TICK_MS);
      for (const e of engines) await e.host.rescan();
    };
    return { clock, store, round };
  }

  it('the membership key of a holder named after a dotted hostname is a lease key, and two names that read alike stay apart', () => {
    const key = membershipKey('engine-1.eu-west.example.com-4242-a1b2c3');
    expect(key).toMatch(LEASE_KEY);
    expect(key.startsWith('engines.engine-1_eu-west_example_com-4242-a1b2c3-')).toBe(true);
    expect(membershipKey('a.b-1')).not.toBe(membershipKey('a_b-1'));
    expect(membershipKey('x'.repeat(300))).toMatch(LEASE_KEY);
    expect(membershipKey('x'.repeat(300)).length).toBeLessThan(200);
  });

  it('two engines starting together split ten markets five and five, give or take one', async () => {
    const { clock, store, round } = setup();
    const a = engine('engine-a', store, clock);
    const b = engine('engine-b', store, clock);
    // Both rescans run at once: neither has counted the other when it starts.
    await Promise.all([a.host.rescan(), b.host.rescan()]);
    for (let i = 0; i < 4; i++) await round(a, b);
    expect(await checkOwnership(store, [a, b])).toEqual([]);
    expect(held(a) + held(b)).toBe(10);
    expect(Math.abs(held(a) - held(b))).toBeLessThanOrEqual(2);
  });

  it('with another engine live, an engine takes free markets only up to its fair share, and the other takes the rest', async () => {
    const { clock, store, round } = setup();
    let listed: string[] = [];
    const a = engine('engine-a', store, clock, () => listed);
    const b = engine('engine-b', store, clock, () => listed);
    await a.host.rescan();
    await b.host.rescan();
    // Ten markets appear (say, both engines restarted and A lists them first).
    listed = MARKETS;
    clock.advance(TICK_MS);
    await a.host.rescan();
    expect(held(a)).toBe(5);
    expect(await checkOwnership(store, [a, b])).toHaveLength(5);
    await b.host.rescan();
    expect(held(b)).toBe(5);
    await round(a, b);
    expect(held(a)).toBe(5);
    expect(await checkOwnership(store, [a, b])).toEqual([]);
  });

  it('an engine that holds everything gives markets back one per rescan to a newcomer; none is ever held twice or left unowned for long; when the newcomer stops, the first takes all again', async () => {
    const { clock, store, round } = setup();
    const a = engine('engine-a', store, clock);
    const b = engine('engine-b', store, clock);
    await a.host.rescan();
    expect(held(a)).toBe(10);

    const unownedFor = new Map<string, number>();
    let longest = 0;
    for (let i = 0; i < 10; i++) {
      const heldBefore = held(a);
      await round(a, b);
      // At most one market given back per rescan.
      expect(held(a)).toBeGreaterThanOrEqual(Math.min(heldBefore - 1, 6));
      const unowned = await checkOwnership(store, [a, b]);
      for (const id of MARKETS) unownedFor.set(id, unowned.includes(`auction.${id}`) ? (unownedFor.get(id) ?? 0) + 1 : 0);
      longest = Math.max(longest, ...unownedFor.values());
    }
    expect(held(a)).toBeLessThanOrEqual(6);
    expect(held(a)).toBeGreaterThanOrEqual(5);
    expect(held(b)).toBe(10 - held(a));
    expect(longest).toBeLessThanOrEqual(1);
    // Balanced: further rounds move nothing.
    const settled = a.host.owned().sort();
    await round(a, b);
    await round(a, b);
    expect(a.host.owned().sort()).toEqual(settled);

    await b.host.stop();
    expect(b.serving.size).toBe(0);
    await round(a);
    expect(held(a)).toBe(10);
    expect(await checkOwnership(store, [a, b])).toEqual([]);
  });

  it("a dead engine's markets are taken by the survivor within the TTL and a few ticks, even while the dead engine is still counted", async () => {
    const { clock, store: inner, round } = setup();
    // The survivor's listing of engines keeps a member whose lease has expired, as nats-server
    // 2.9 does until its max_age purge runs: its fair share stays five of ten meanwhile.
    const dead = new Set<string>();
    let purgedAtMs = Number.POSITIVE_INFINITY;
    const listings: number[] = [];
    const survivorView: LeaseStore = {
      ttlMs: inner.ttlMs,
      acquire: (k, h) => inner.acquire(k, h),
      renew: (l) => inner.renew(l),
      release: (l) => inner.release(l),
      holderOf: (k) => inner.holderOf(k),
      keysUnder: async (prefix) => {
        const stale = clock.nowMs() < purgedAtMs ? [...dead] : [];
        const keys = [...new Set([...(await inner.keysUnder(prefix)), ...stale])];
        listings.push(keys.length);
        return keys;
      },
    };
    const a = engine('engine-a', survivorView, clock);
    const b = engine('engine-b', inner, clock);
    await Promise.all([a.host.rescan(), b.host.rescan()]);
    for (let i = 0; i < 4; i++) await round(a, b);
    expect(held(a) + held(b)).toBe(10);
    const bMarkets = b.host.owned();
    expect(bMarkets.length).toBeGreaterThanOrEqual(4);

    // B dies: it renews nothing more and releases nothing.
    dead.add(membershipKey('engine-b'));
    const diedAtMs = clock.nowMs();
    purgedAtMs = diedAtMs + TTL_MS + 3 * TICK_MS;
    let takenAfterMs: number | undefined;
    for (let i = 0; i < 10 && takenAfterMs === undefined; i++) {
      await round(a);
      expect(listings.at(-1)).toBe(2);
      if (bMarkets.every((key) => a.host.owned().includes(key))) takenAfterMs = clock.nowMs() - diedAtMs;
      else if (clock.nowMs() - diedAtMs >= TTL_MS) {
        // Free now, but A is at its share: it leaves them a tick to an engine under its share.
        expect(await inner.holderOf(bMarkets[0]!)).toBeNull();
      }
    }
    expect(takenAfterMs).toBeDefined();
    expect(takenAfterMs!).toBeLessThanOrEqual(TTL_MS + 2 * TICK_MS);
    for (const key of bMarkets) expect((await inner.holderOf(key))?.holder).toBe('engine-a');
    // Still counting the dead engine, A holds more than its share plus one and gives one back
    // per rescan, taking it again a tick later; once the dead member is gone it keeps all ten.
    for (let i = 0; i < 8; i++) {
      await round(a);
      expect((await checkOwnership(inner, [a, b])).length).toBeLessThanOrEqual(1);
    }
    expect(listings.at(-1)).toBe(1);
    expect(held(a)).toBe(10);
    expect(await checkOwnership(inner, [a, b])).toEqual([]);
  });

  it('in one process (no leases) every market is local and nothing is given back', async () => {
    const router = new MarketRouter({ nats: null, logger: silent });
    const host = new MarketHost({ router, leases: null, holder: 'solo', clock: systemClock, logger: silent });
    let dropped = 0;
    host.register({ kind: 'auction', wanted: async () => MARKETS, take: async () => {}, drop: () => void dropped++ });
    await host.start();
    await host.rescan();
    expect(host.tokenOf('auction', 'a1')).toBeNull();
    expect(dropped).toBe(0);
    await host.stop();
  });
});

describe.skipIf(!NATS_AVAILABLE)('markets spread over the engines (NATS JetStream KV)', () => {
  it('a newcomer gets its share from an engine that held all ten; when it stops, the first takes all again', async () => {
    const admin = await connectNats();
    const bucket = await scratchBucket(admin, 1_000);
    cleanups.push(() => admin.close(), () => bucket.drop());
    const open = async () => {
      const nc = await connectNats();
      cleanups.push(() => nc.close());
      return JetStreamLeases.open(await new Kvm(nc).open(bucket.name), 1_000);
    };
    const store = await open();
    // Holder names with dots, as hostnames have.
    const a = engine('engine-a.example.com-1-aaaaaa', store, systemClock);
    const b = engine('engine-b.example.com-2-bbbbbb', await open(), systemClock);

    await a.host.rescan();
    expect(held(a)).toBe(10);
    await b.host.rescan();
    expect(held(b)).toBe(0);
    expect((await store.keysUnder('engines')).sort()).toEqual([membershipKey(a.name), membershipKey(b.name)].sort());

    for (let i = 0; i < 8 && held(a) > 6; i++) {
      await a.host.rescan();
      await b.host.rescan();
      // The one market A gave back is B's after B's rescan: none unowned, none held twice.
      expect(await checkOwnership(store, [a, b])).toEqual([]);
    }
    expect(held(a)).toBeLessThanOrEqual(6);
    expect(held(b)).toBe(10 - held(a));

    await b.host.stop();
    expect(await store.keysUnder('engines')).toEqual([membershipKey(a.name)]);
    await a.host.rescan();
    expect(held(a)).toBe(10);
    expect(await checkOwnership(store, [a, b])).toEqual([]);
  });
});
