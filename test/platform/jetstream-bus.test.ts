// The bus over NATS JetStream against a real server, on SQLite and PostgreSQL: events appended
// in transactions reach durable consumers once each, in order, across nodes, through
// redeliveries, a failing handler and a time with no worker; and the purchase saga runs over it.
import { randomBytes } from 'node:crypto';
import { fdatasync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createJetStreamBus } from '../../src/platform/bus/jetstream-bus.js';
import type { Bus } from '../../src/platform/outbox/bus.js';
import type { OutboxEvent } from '../../src/platform/outbox/outbox.js';
import { systemClock } from '../../src/platform/clock.js';
import { openDatabase, type Dialect } from '../../src/platform/db/database.js';
import { openSqlite } from '../../src/platform/db/sqlite-adapter.js';
import { migrateModule } from '../../src/platform/db/migrations.js';
import { platformMigrations } from '../../src/platform/idempotency/idempotency.js';
import { createLogger } from '../../src/platform/logging.js';
import { DIALECTS, scratchStorage } from '../support/databases.js';
import { startTestNode } from '../support/gavel.js';
import { NATS_AVAILABLE, NATS_TEST_URL, connectNats, scratchClusterNames } from '../support/nats.js';
import { openShop } from '../orders/purchase-support.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const silent = createLogger('silent');
const cleanups = cleanupsAfterEach({ ignoreFailures: true });

/** A stream and subject prefix of this test's own, deleted afterwards. */
async function scratchStream(nc: NatsConnection): Promise<{ stream: string; subjectPrefix: string; count(): Promise<number> }> {
  const id = randomBytes(4).toString('hex');
  const stream = `GAVEL_TEST_${id}`;
  const jsm = await jetstreamManager(nc);
  cleanups.push(() => jsm.streams.delete(stream));
  return { stream, subjectPrefix: `gavel_test_${id}.events`, count: async () => (await jsm.streams.info(stream)).state.messages };
}

async function harness(dialect: Dialect) {
  const storage = await scratchStorage(dialect);
  const database = await openDatabase(storage);
  cleanups.push(() => storage.drop(), () => database.close());
  await migrateModule(database, platformMigrations);
  const db = database.kysely as unknown as Kysely<any>;
  await db.schema.createTable('effects').addColumn('consumer', 'text').addColumn('n', 'integer').execute();
  const nc = await connectNats();
  cleanups.push(() => nc.close());
  const names = await scratchStream(nc);
  const buses: Bus[] = [];
  cleanups.push(() => Promise.all(buses.map((b) => b.stop())));
  return {
    db,
    nc,
    names,
    bus(deliver: boolean): Bus {
      const b = createJetStreamBus(database, systemClock, silent, nc, { deliver, stream: names.stream, subjectPrefix: names.subjectPrefix, pollIntervalMs: 50, retryFirstDelayMs: 20, retryMaxDelayMs: 200 });
      buses.push(b);
      return b;
    },
    async append(bus: Bus, topic: string, n: number): Promise<void> {
      await db.transaction().execute(async (tx) => {
        await bus.append(tx, { topic, key: 'k', payload: { n } });
      });
      bus.poke();
    },
  };
}

/** A consumer that records each event's n in `effects`, through the delivery's transaction. */
function recorder(consumer: string, options: { failOnce?: number } = {}) {
  let failed = false;
  return async (event: OutboxEvent, delivery: { tx: Kysely<any> }) => {
    const n = (event.payload as { n: number }).n;
    if (n === options.failOnce && !failed) {
      failed = true;
      throw new Error('first try fails');
    }
    await delivery.tx.insertInto('effects').values({ consumer, n }).execute();
  };
}

async function effects(db: Kysely<any>, consumer: string): Promise<number[]> {
  return (await db.selectFrom('effects').select('n').where('consumer', '=', consumer).execute()).map((r) => Number(r.n));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.skipIf(!NATS_AVAILABLE).each(DIALECTS)('the JetStream bus on %s', (dialect) => {
  it('events reach each consumer once, in outbox order; a consumer of one topic never sees the others; a failing handler is retried and holds back what follows', async () => {
    const h = await harness(dialect);
    const bus = h.bus(true);
    bus.subscribe('test.all', ['test.a.done', 'test.b.done'], recorder('all', { failOnce: 5 }));
    bus.subscribe('test.only_b', ['test.b.done'], recorder('only_b'));
    await bus.start();
    for (const n of range(1, 20)) await h.append(bus, n % 2 ? 'test.a.done' : 'test.b.done', n);
    await until('every event handled', async () => (await effects(h.db, 'all')).length === 20 && (await effects(h.db, 'only_b')).length === 10);
    expect(await effects(h.db, 'all')).toEqual(range(1, 20));
    expect(await effects(h.db, 'only_b')).toEqual(range(1, 20).filter((n) => n % 2 === 0));
    expect(await h.names.count()).toBe(20);
  });

  it('two nodes: both publish, each event is stored in the stream once and handled once in all', async () => {
    const h = await harness(dialect);
    const a = h.bus(true);
    const b = h.bus(true);
    for (const bus of [a, b]) bus.subscribe('test.shared', ['test.a.done'], recorder('shared'));
    await a.start();
    await b.start();
    for (const n of range(1, 30)) await h.append(n % 2 ? a : b, 'test.a.done', n);
    await until('every event handled', async () => (await effects(h.db, 'shared')).length >= 30);
    await sleep(300);
    expect((await effects(h.db, 'shared')).sort((x, y) => x - y)).toEqual(range(1, 30));
    expect(await h.names.count()).toBe(30);
  });

  it('an event delivered again (a publisher that died before saving its checkpoint) takes effect once', async () => {
    const h = await harness(dialect);
    const bus = h.bus(true);
    bus.subscribe('test.once', ['test.a.done'], recorder('once'));
    await bus.start();
    await h.append(bus, 'test.a.done', 1);
    await until('the event handled', async () => (await effects(h.db, 'once')).length === 1);
    // The same event again under another message id, past the stream's duplicate check.
    const row = await h.db.selectFrom('platform_outbox').selectAll().executeTakeFirstOrThrow();
    const event = { id: row.id, topic: row.topic, key: row.key, version: Number(row.version), payload: JSON.parse(row.payload), createdAtMs: Number(row.created_at_ms) };
    await jetstream(h.nc).publish(`${h.names.subjectPrefix}.test.a.done`, JSON.stringify(event), { msgID: `${row.id}-again` });
    await h.append(bus, 'test.a.done', 2);
    await until('the next event handled', async () => (await effects(h.db, 'once')).length >= 2);
    await sleep(200);
    expect(await effects(h.db, 'once')).toEqual([1, 2]);
    expect(await h.names.count()).toBe(3);
  });

  it('nothing is lost while no worker runs: events appended meanwhile arrive once the worker starts', async () => {
    const h = await harness(dialect);
    const apiOnly = h.bus(false);
    apiOnly.subscribe('test.later', ['test.a.done'], recorder('later'));
    await apiOnly.start();
    for (const n of range(1, 10)) await h.append(apiOnly, 'test.a.done', n);
    await until('the events stored in the stream', async () => (await h.names.count()) === 10);
    expect(await effects(h.db, 'later')).toEqual([]);
    const worker = h.bus(true);
    worker.subscribe('test.later', ['test.a.done'], recorder('later'));
    await worker.start();
    await until('every event handled', async () => (await effects(h.db, 'later')).length === 10);
    expect(await effects(h.db, 'later')).toEqual(range(1, 10));
  });
});

describe.skipIf(!NATS_AVAILABLE)('the JetStream bus on SQLite, whose commits are seen before their fsync ends', () => {
  it('publishes no event before its commit is on disk, even one read inside the publishing transaction', async () => {
    // Each fsync of the WAL waits here until the test lets it finish.
    let held = false;
    const waiting: Array<() => void> = [];
    const dataDir = mkdtempSync(join(tmpdir(), 'gavel-jetstream-durable-'));
    const database = openSqlite(dataDir, { syncFile: (fd, done) => (held ? waiting.push(() => fdatasync(fd, done)) : fdatasync(fd, done)) });
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }), () => database.close());
    await migrateModule(database, platformMigrations);
    const db = database.kysely as unknown as Kysely<any>;
    const nc = await connectNats();
    cleanups.push(() => nc.close());
    const names = await scratchStream(nc);
    const bus = createJetStreamBus(database, systemClock, silent, nc, { deliver: false, stream: names.stream, subjectPrefix: names.subjectPrefix, pollIntervalMs: 60_000, minPassGapMs: 0 });
    cleanups.push(() => bus.stop());
    await bus.start();
    const append = (tx: Kysely<any>, n: number) => bus.append(tx, { topic: 'test.a.done', key: 'k', payload: { n } });
    await db.transaction().execute((tx) => append(tx, 0));
    bus.poke();
    await until('the first event published', async () => (await names.count()) === 1);

    // Walk the publisher's pass past its look at the outbox (answered only once what it saw is
    // on disk) into its transaction, with a commit made in between whose fsync is held.
    held = true;
    // Long enough for the pass to reach its next wait, under a loaded test run too.
    const settle = () => sleep(200);
    const first = await db.startTransaction().execute();
    bus.poke(); // the pass's look queues behind `first`
    await settle();
    await append(first, 1);
    const firstCommitted = first.commit().execute(); // its fsync is held
    await settle(); // the look ran, and waits for that fsync
    const second = await db.startTransaction().execute();
    waiting.shift()!();
    await firstCommitted;
    await settle(); // the look answered; the pass now waits for the connection, to start its transaction
    await append(second, 2);
    const secondCommitted = second.commit().execute();
    await settle(); // the pass's transaction has read events 1 and 2; the second's fsync is held
    expect(waiting.length).toBeGreaterThan(0);
    await sleep(300);
    expect(await names.count()).toBe(1);

    held = false;
    while (waiting.length > 0) waiting.shift()!();
    await secondCommitted;
    await until('every event published', async () => (await names.count()) === 3);
  });
});

describe.skipIf(!NATS_AVAILABLE).each(DIALECTS)('a node with NATS_URL on %s', (dialect) => {
  it('runs the purchase saga over JetStream: a purchase completes, one that cannot be paid is compensated', async () => {
    const nc = await connectNats();
    cleanups.push(() => nc.close());
    const names = await scratchClusterNames(nc);
    cleanups.push(() => names.drop());
    const t = await startTestNode(dialect, { natsUrl: NATS_TEST_URL }, names.options);
    cleanups.push(() => t.close());
    const shop = await openShop(t);
    const seller = await shop.seller();
    const productId = await shop.product(seller, { price: '10.00', stock: 3 });
    const buyer = await shop.buyer(5_000n);
    const ok = await shop.purchase(buyer, { items: [{ productId, quantity: 2 }], currency: 'USD' });
    expect([201, 202], ok.text).toContain(ok.status);
    expect((await shop.ended(buyer, ok.body.id)).status).toBe('completed');
    const poor = await shop.buyer(500n);
    const refused = await shop.purchase(poor, { items: [{ productId, quantity: 1 }], currency: 'USD' });
    expect([201, 202], refused.text).toContain(refused.status);
    expect((await shop.ended(poor, refused.body.id)).status).toBe('compensated');
    expect(await shop.stock(productId)).toMatchObject({ stock: 1, reserved: 0, available: 1 });
    // The saga's commands and replies went through the stream.
    expect(await names.count()).toBeGreaterThan(4);
  });
});
