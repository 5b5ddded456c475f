// Market leases on both adapters (in process; NATS JetStream KV against a real server), the
// keeper that holds them, and the fence that makes a superseded owner's writes fail.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { InProcessLeases, JetStreamLeases, type LeaseStore } from '../../src/cluster/leases.js';
import { LeaseKeeper } from '../../src/cluster/lease-keeper.js';
import { FencedError, checkFence, fenceOf } from '../../src/cluster/fences.js';
import { clusterMigrations } from '../../src/cluster/migrations.js';
import { ManualClock, systemClock } from '../../src/platform/clock.js';
import { openDatabase } from '../../src/platform/db/database.js';
import { migrateModule } from '../../src/platform/db/migrations.js';
import { createLogger } from '../../src/platform/logging.js';
import { DIALECTS, scratchStorage } from '../support/databases.js';
import { NATS_AVAILABLE, connectNats, scratchBucket } from '../support/nats.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const TTL_MS = 1_000;
const silent = createLogger('silent');
const cleanups = cleanupsAfterEach();

interface Adapter {
  store: LeaseStore;
  /** Lets more than the TTL pass. */
  expire(): Promise<void>;
  /** A second store on its own connection (another process). */
  another(): Promise<LeaseStore>;
}

const ADAPTERS: Array<[string, () => Promise<Adapter>]> = [
  [
    'in process',
    async () => {
      const clock = new ManualClock(1_750_000_000_000);
      const store = new InProcessLeases(TTL_MS, clock);
      return { store, expire: async () => clock.advance(TTL_MS + 1), another: async () => store };
    },
  ],
];
if (NATS_AVAILABLE) {
  ADAPTERS.push([
    'NATS JetStream KV',
    async () => {
      const nc = await connectNats();
      const bucket = await scratchBucket(nc, TTL_MS);
      cleanups.push(() => nc.close(), () => bucket.drop());
      const store = await JetStreamLeases.open(bucket.kv, TTL_MS);
      return {
        store,
        // The server removes a key once it is older than the bucket's max_age (checked about once a second).
        expire: async () => {
          const deadline = performance.now() + 10_000;
          do await sleep(200);
          while ((await store.holderOf('m.a')) && performance.now() < deadline);
        },
        another: async () => {
          const other = await connectNats();
          cleanups.push(() => other.close());
          return JetStreamLeases.open(await new Kvm(other).open(bucket.name), TTL_MS);
        },
      };
    },
  ]);
}

describe.each(ADAPTERS)('market leases (%s)', (_name, make) => {
  it('one holder at a time; renewals keep it; the token stays the same while held', async () => {
    const { store, another } = await make();
    const other = await another();
    const a = await store.acquire('m.a', 'engine-a');
    expect(a).toMatchObject({ key: 'm.a', holder: 'engine-a' });
    expect(await other.acquire('m.a', 'engine-b')).toBeNull();
    const renewed = await store.renew(a!);
    expect(renewed).toMatchObject({ token: a!.token });
    expect(renewed!.revision).toBeGreaterThan(a!.revision);
    expect(await other.holderOf('m.a')).toEqual({ holder: 'engine-a', token: a!.token });
    // A renewal with an old revision is refused: only the latest write of the holder counts.
    expect(await store.renew(a!)).toBeNull();
  });

  it('a lease not renewed expires; the next holder gets a larger token and the old holder can neither renew nor release it', async () => {
    const { store, expire, another } = await make();
    const other = await another();
    const a = (await store.acquire('m.a', 'engine-a'))!;
    await expire();
    const b = (await other.acquire('m.a', 'engine-b'))!;
    expect(b).not.toBeNull();
    expect(b.token).toBeGreaterThan(a.token);
    expect(await store.renew(a)).toBeNull();
    await store.release(a);
    expect(await other.holderOf('m.a')).toEqual({ holder: 'engine-b', token: b.token });
  });

  it('a released lease is free at once, and its next holder has a larger token', async () => {
    const { store, another } = await make();
    const other = await another();
    const a = (await store.acquire('m.a', 'engine-a'))!;
    await store.release(a);
    expect(await other.holderOf('m.a')).toBeNull();
    const b = (await other.acquire('m.a', 'engine-b'))!;
    expect(b.token).toBeGreaterThan(a.token);
  });

  it('of many contenders racing for one market, exactly one wins', async () => {
    const { store, another } = await make();
    const stores = [store, await another(), await another()];
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 3]!.acquire('m.race', `engine-${i}`)));
    const winners = results.filter((r) => r !== null);
    expect(winners).toHaveLength(1);
    expect(await store.holderOf('m.race')).toEqual({ holder: winners[0]!.holder, token: winners[0]!.token });
  });

  it('refuses keys the store cannot hold', async () => {
    const { store } = await make();
    for (const bad of ['', 'a b', 'a..b', '.a', 'a.', 'a*', 'a>']) await expect(store.acquire(bad, 'x')).rejects.toThrow(RangeError);
  });
});

describe('the lease keeper', () => {
  it('two keepers split the wanted markets, each held by exactly one; when one stops, the other takes its markets over with larger tokens', async () => {
    const clock = new ManualClock(1_750_000_000_000);
    const store = new InProcessLeases(TTL_MS, clock);
    const events: string[] = [];
    const keeper = (holder: string) =>
      new LeaseKeeper({ store, holder, clock, logger: silent, onAcquired: (key, token) => void events.push(`${holder} +${key}#${token}`), onLost: (key, token) => void events.push(`${holder} -${key}#${token}`) });
    const a = keeper('a');
    const b = keeper('b');
    a.want(['m.1', 'm.2']);
    b.want(['m.1', 'm.2', 'm.3']);
    await a.tick();
    await b.tick();
    expect([...a.owned().keys()].sort()).toEqual(['m.1', 'm.2']);
    expect([...b.owned().keys()]).toEqual(['m.3']);
    const before = a.owned();
    await a.stop();
    expect(a.owned().size).toBe(0);
    await b.tick();
    expect([...b.owned().keys()].sort()).toEqual(['m.1', 'm.2', 'm.3']);
    for (const key of ['m.1', 'm.2']) expect(b.tokenOf(key)!).toBeGreaterThan(before.get(key)!);
    expect(events.filter((e) => e.startsWith('a -')).sort()).toEqual([`a -m.1#${before.get('m.1')}`, `a -m.2#${before.get('m.2')}`]);
  });

  it('a keeper whose renewals stop getting through stops serving before the store would let another take over', async () => {
    const clock = new ManualClock(1_750_000_000_000);
    const inner = new InProcessLeases(TTL_MS, clock);
    let reachable = true;
    const flaky: LeaseStore = {
      ttlMs: TTL_MS,
      acquire: (k, h) => (reachable ? inner.acquire(k, h) : Promise.reject(new Error('no NATS'))),
      renew: (l) => (reachable ? inner.renew(l) : Promise.reject(new Error('no NATS'))),
      release: (l) => inner.release(l),
      holderOf: (k) => inner.holderOf(k),
    };
    const lost: string[] = [];
    const keeper = new LeaseKeeper({ store: flaky, holder: 'a', clock, logger: silent, onAcquired: () => {}, onLost: (key) => void lost.push(key) });
    keeper.want(['m.1']);
    await keeper.tick();
    expect(keeper.tokenOf('m.1')).toBeDefined();
    reachable = false;
    clock.advance(TTL_MS / 2);
    await keeper.tick(); // the renewal fails, but the lease is still good for a while
    expect(keeper.tokenOf('m.1')).toBeDefined();
    clock.advance(TTL_MS * 0.35); // past TTL minus the safety margin, still before the store's expiry
    expect(await inner.holderOf('m.1')).not.toBeNull();
    expect(keeper.tokenOf('m.1')).toBeUndefined();
    expect(lost).toEqual(['m.1']);
  });
});

describe.each(DIALECTS)('fencing on %s', (dialect) => {
  it('a write with a token lower than one that has written is refused inside its transaction, and nothing of that transaction commits', async () => {
    const storage = await scratchStorage(dialect);
    const database = await openDatabase(storage);
    cleanups.push(() => storage.drop(), () => database.close());
    await migrateModule(database, clusterMigrations);
    const db = database.kysely as never as import('kysely').Kysely<any>;
    await db.schema.createTable('journal').addColumn('market', 'text').addColumn('entry', 'text').execute();
    const append = (token: number, entry: string) =>
      db.transaction().execute(async (tx) => {
        await tx.insertInto('journal').values({ market: 'auction.1', entry }).execute();
        await checkFence(tx, 'auction.1', token, 1);
      });
    await append(5, 'by 5');
    await append(5, 'by 5 again');
    await expect(append(3, 'by 3, superseded')).rejects.toThrow(FencedError);
    await append(7, 'by 7');
    await expect(append(5, 'by 5, superseded')).rejects.toThrow(FencedError);
    expect((await db.selectFrom('journal').select('entry').execute()).map((r) => r.entry)).toEqual(['by 5', 'by 5 again', 'by 7']);
    expect(await fenceOf(db, 'auction.1')).toBe(7);
    expect(await fenceOf(db, 'auction.2')).toBeUndefined();
  });
});

describe.skipIf(!NATS_AVAILABLE)('failover over NATS: keeper, lease and fence together', () => {
  let nc: NatsConnection | undefined;
  afterAll(async () => void (await nc?.close()));

  it('an engine that dies without releasing is replaced within the TTL; a write it attempts afterwards is fenced out', async () => {
    nc = await connectNats();
    const bucket = await scratchBucket(nc, TTL_MS);
    cleanups.push(() => bucket.drop());
    const dying = await connectNats();
    const storeA = await JetStreamLeases.open(await new Kvm(dying).open(bucket.name), TTL_MS);
    const storeB = await JetStreamLeases.open(bucket.kv, TTL_MS);
    const storage = await scratchStorage('sqlite');
    const database = await openDatabase(storage);
    cleanups.push(() => storage.drop(), () => database.close());
    await migrateModule(database, clusterMigrations);
    const db = database.kysely as never as import('kysely').Kysely<any>;

    const a = new LeaseKeeper({ store: storeA, holder: 'engine-a', clock: systemClock, logger: silent, onAcquired: () => {}, onLost: () => {} });
    a.want(['auction.1']);
    await a.tick();
    const tokenA = a.tokenOf('auction.1')!;
    await checkFence(db, 'auction.1', tokenA, Date.now());

    let acquiredAt = 0;
    const b = new LeaseKeeper({ store: storeB, holder: 'engine-b', clock: systemClock, logger: silent, tickMs: 100, onAcquired: () => void (acquiredAt = performance.now()), onLost: () => {} });
    cleanups.push(() => b.stop());
    b.want(['auction.1']);
    b.start();
    await sleep(300);
    expect(b.owned().size).toBe(0);

    // Engine A dies: its connection goes, nothing is released, its keeper never runs again.
    const diedAt = performance.now();
    await dying.close();
    const deadline = performance.now() + 15_000;
    while (!acquiredAt && performance.now() < deadline) await sleep(50);
    expect(acquiredAt).toBeGreaterThan(0);
    const tokenB = b.tokenOf('auction.1')!;
    expect(tokenB).toBeGreaterThan(tokenA);
    await checkFence(db, 'auction.1', tokenB, Date.now());
    // A write from A, had it been paused rather than dead, is refused by storage.
    await expect(checkFence(db, 'auction.1', tokenA, Date.now())).rejects.toThrow(FencedError);
    console.log(`[failover] lease taken over ${Math.round(acquiredAt - diedAt)} ms after the holder died (TTL ${TTL_MS} ms)`);
  });
});
