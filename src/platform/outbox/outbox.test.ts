// The outbox and its relay on each dialect: an event exists only if its transaction commits,
// consumers get every event in order from a durable checkpoint, a failing handler is retried
// without skipping, and on PostgreSQL neither a late commit nor a second node breaks that.
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../../../test/support/databases.js';
import { ManualClock, systemClock, type Clock } from '../clock.js';
import { openDatabase, type Database } from '../db/database.js';
import { migrateAll } from '../db/migrations.js';
import { platformMigrations } from '../idempotency/idempotency.js';
import { createLogger } from '../logging.js';
import { OUTBOX_RETENTION_MS, Outbox, type NewEvent, type OutboxEvent } from './outbox.js';
import { OutboxRelay, retryDelayMs, type EventHandler, type RelayOptions } from './relay.js';

const FAST: Partial<RelayOptions> = { pollIntervalMs: 20, retryFirstDelayMs: 20, retryMaxDelayMs: 100 };
const silent = createLogger('silent');

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const event = (n: number, topic = 'test.thing.happened'): NewEvent => ({ topic, key: `key-${n % 3}`, payload: { n, amount: `${n}.00` } });

/** A consumer whose effect is a row per handled event, written through the delivery's transaction. */
function recordingHandler(consumer: string, seen: OutboxEvent[] = []): { handler: EventHandler; seen: OutboxEvent[] } {
  return {
    seen,
    handler: async (e, delivery) => {
      await sql`insert into test_effects (consumer, event_id, n) values (${consumer}, ${e.id}, ${(e.payload as { n: number }).n})`.execute(delivery.tx);
      seen.push(e);
    },
  };
}

for (const dialect of DIALECTS) {
  describe(`the outbox on ${dialect}`, () => {
    let storage: ScratchStorage;
    let database: Database;
    const relays: OutboxRelay[] = [];
    const extraDatabases: Database[] = [];

    beforeAll(async () => {
      storage = await scratchStorage(dialect);
      database = await openDatabase(storage);
      await migrateAll(database, [platformMigrations]);
      await sql`create table test_effects (consumer text not null, event_id text not null, n integer not null)`.execute(database.kysely);
    });
    afterEach(async () => {
      await Promise.all(relays.splice(0).map((r) => r.stop()));
    });
    afterAll(async () => {
      await Promise.all(extraDatabases.map((d) => d.close()));
      await database?.close();
      await storage?.drop();
    });

    const relayOn = (db: Database, clock: Clock = systemClock, options: Partial<RelayOptions> = {}) => {
      const relay = new OutboxRelay(db, new Outbox(db, clock), clock, silent, { ...FAST, ...options });
      relays.push(relay);
      return relay;
    };
    const effects = async (consumer: string) =>
      (await sql<{ event_id: string; n: number | bigint }>`select event_id, n from test_effects where consumer = ${consumer} order by n`.execute(database.kysely)).rows.map((r) => Number(r.n));
    const appendIn = async (outbox: Outbox, events: NewEvent[]) => {
      const ids: string[] = [];
      await database.kysely.transaction().execute(async (tx) => {
        for (const e of events) ids.push(await outbox.append(tx, e));
      });
      return ids;
    };

    it('an event appended in a transaction that rolls back is never delivered; one that commits is', async () => {
      const outbox = new Outbox(database, systemClock);
      await expect(
        database.kysely.transaction().execute(async (tx) => {
          await outbox.append(tx, event(1, 'test.rollback.happened'));
          throw new Error('the change failed');
        }),
      ).rejects.toThrow('the change failed');
      const [committedId] = await appendIn(outbox, [event(2, 'test.rollback.happened')]);

      const relay = relayOn(database);
      const { handler, seen } = recordingHandler('rollback');
      relay.subscribe('rollback', ['test.rollback.happened'], handler);
      relay.start();
      await until('the committed event', async () => (await effects('rollback')).length === 1);
      await pause(100);
      expect(seen.map((e) => e.id)).toEqual([committedId]);
      expect(await effects('rollback')).toEqual([2]);
    });

    it('refuses an append outside a transaction: the event would be a dual write', async () => {
      const outbox = new Outbox(database, systemClock);
      await expect(outbox.append(database.kysely, event(1))).rejects.toThrow(/inside the transaction/);
    });

    it('a consumer gets its topics in commit order across batches, each event once, and skips other topics', async () => {
      const outbox = new Outbox(database, systemClock);
      const appended: string[] = [];
      for (let n = 1; n <= 250; n += 5) appended.push(...(await appendIn(outbox, [1, 2, 3, 4, 5].map((i) => event(n + i - 1, (n + i) % 10 === 0 ? 'test.other.happened' : 'test.order.happened')))));
      const relay = relayOn(database, systemClock, { batchSize: 30 });
      const { handler, seen } = recordingHandler('order');
      relay.subscribe('order', ['test.order.happened'], handler);
      relay.start();
      const wanted = Array.from({ length: 250 }, (_, i) => i + 1).filter((n) => (n + 1) % 10 !== 0);
      await until('every event', async () => (await effects('order')).length >= wanted.length);
      await pause(100);
      expect(seen.map((e) => (e.payload as { n: number }).n)).toEqual(wanted);
      expect(seen.map((e) => e.id)).toEqual(appended.filter((_, i) => (i + 2) % 10 !== 0));
      expect(seen[0]).toMatchObject({ topic: 'test.order.happened', key: 'key-1', version: 1, payload: { n: 1, amount: '1.00' } });
      expect(await effects('order')).toEqual(wanted);
    });

    it('a consumer passes over other consumers\' events without a transaction each, still gets its own, and saves how far it got now and then', async () => {
      const outbox = new Outbox(database, systemClock);
      const relay = relayOn(database, systemClock, { skippedSaveIntervalMs: 2_000 });
      const { handler } = recordingHandler('rare');
      relay.subscribe('rare', ['test.rare.happened'], handler);
      relay.start();
      await until('the consumer is set up', async () => (await sql`select 1 from platform_outbox_consumers where consumer = 'rare'`.execute(database.kysely)).rows.length === 1);
      const checkpointOf = async () => (await sql<{ last_id: string }>`select last_id from platform_outbox_consumers where consumer = 'rare'`.execute(database.kysely)).rows[0]!.last_id;

      const transactions = { n: 0 };
      const start = database.kysely.startTransaction.bind(database.kysely);
      database.kysely.startTransaction = (() => {
        transactions.n += 1;
        return start();
      }) as typeof database.kysely.startTransaction;
      try {
        for (let i = 0; i < 20; i++) {
          await appendIn(outbox, [event(1_000 + i, 'test.common.happened')]);
          relay.poke();
          await pause(5);
        }
        await pause(100);
        // Twenty foreign events, far fewer than twenty delivery transactions (none, as a rule).
        expect(transactions.n).toBeLessThan(5);
      } finally {
        database.kysely.startTransaction = start;
      }
      // Its own event still arrives; and after the interval its checkpoint has moved on.
      await appendIn(outbox, [event(2_000, 'test.rare.happened')]);
      await until('its own event', async () => (await effects('rare')).includes(2_000));
      await appendIn(outbox, [event(2_001, 'test.common.happened')]);
      const afterOwn = await checkpointOf();
      await until('the skipped position is saved', async () => (await checkpointOf()) !== afterOwn, 5_000);
    });

    it('consumers standing at the same checkpoint look at the outbox once per pass, not once each', async () => {
      const outbox = new Outbox(database, systemClock);
      const looks = { n: 0 };
      const readAfter = outbox.readAfter.bind(outbox);
      outbox.readAfter = (executor, after, limit) => {
        if (!executor.isTransaction) looks.n += 1;
        return readAfter(executor, after, limit);
      };
      const relay = new OutboxRelay(database, outbox, systemClock, silent, { ...FAST, pollIntervalMs: 60_000, minPassGapMs: 0 });
      relays.push(relay);
      const handlers = [1, 2, 3, 4, 5].map((i) => recordingHandler(`peer${i}`));
      handlers.forEach(({ handler }, i) => relay.subscribe(`peer${i + 1}`, [`test.peer${i + 1}.happened`], handler));
      relay.start();
      // Only pokes start a pass here (the poll is a minute): wait until the catch-up over the
      // events of earlier tests is over and the count stands still.
      const settled = async () => {
        let before = -1;
        await until('the relay to settle', async () => {
          const now = looks.n;
          const still = now === before;
          before = now;
          await pause(150);
          return still;
        });
      };
      relay.poke();
      await settled();
      looks.n = 0;
      await appendIn(outbox, Array.from({ length: 10 }, (_, i) => event(3_000 + i, 'test.common.happened')));
      relay.poke();
      await settled();
      expect(looks.n).toBe(1);
      // And each still gets its own events.
      await appendIn(outbox, [event(4_001, 'test.peer1.happened'), event(4_002, 'test.peer4.happened')]);
      relay.poke();
      await until('both events delivered', async () => (await effects('peer1')).includes(4_001) && (await effects('peer4')).includes(4_002));
      expect(handlers.map((h) => h.seen.length)).toEqual([1, 0, 0, 1, 0]);
    });

    it('a slow consumer commits within its time budget and goes on in the next batch: each event once, in order', async () => {
      const outbox = new Outbox(database, systemClock);
      const relay = new OutboxRelay(database, outbox, systemClock, silent, { ...FAST, batchBudgetMs: 30, pollIntervalMs: 60_000, minPassGapMs: 0 });
      relays.push(relay);
      const { handler: record } = recordingHandler('slow');
      // At least 15 ms an event: past the 30 ms budget after at most three.
      relay.subscribe('slow', ['test.slow.happened'], async (e, delivery) => {
        await pause(15);
        await record(e, delivery);
      });
      relay.start();
      relay.poke();
      await until('the consumer is set up', async () => (await sql`select 1 from platform_outbox_consumers where consumer = 'slow'`.execute(database.kysely)).rows.length === 1);
      await pause(100);
      const saves = { n: 0 };
      const saveCheckpoint = outbox.saveCheckpoint.bind(outbox);
      outbox.saveCheckpoint = (tx, consumer, at) => {
        if (consumer === 'slow') saves.n += 1;
        return saveCheckpoint(tx, consumer, at);
      };
      await appendIn(outbox, Array.from({ length: 10 }, (_, i) => event(5_000 + i, 'test.slow.happened')));
      relay.poke();
      await until('every event', async () => (await effects('slow')).length === 10);
      expect(await effects('slow')).toEqual(Array.from({ length: 10 }, (_, i) => 5_000 + i));
      // One delivery transaction per checkpoint saved: at most three events each.
      expect(saves.n).toBeGreaterThanOrEqual(4);
    });

    it('a consumer catches up from its checkpoint after a restart, handling each event once', async () => {
      const outbox = new Outbox(database, systemClock);
      await appendIn(outbox, [event(1, 'test.restart.happened'), event(2, 'test.restart.happened')]);
      const first = relayOn(database);
      const before = recordingHandler('restart');
      first.subscribe('restart', ['test.restart.happened'], before.handler);
      first.start();
      await until('the first two', async () => (await effects('restart')).length === 2);
      await first.stop();

      // Appended while nothing delivers: they wait in the outbox.
      await appendIn(outbox, [event(3, 'test.restart.happened')]);
      await appendIn(outbox, [event(4, 'test.restart.happened'), event(5, 'test.restart.happened')]);
      const second = relayOn(database);
      const after = recordingHandler('restart');
      second.subscribe('restart', ['test.restart.happened'], after.handler);
      second.start();
      await until('the three appended while down', async () => (await effects('restart')).length === 5);
      await pause(100);
      expect(after.seen.map((e) => (e.payload as { n: number }).n)).toEqual([3, 4, 5]);
      expect(await effects('restart')).toEqual([1, 2, 3, 4, 5]);
    });

    it('a failing handler is retried with backoff until it succeeds; nothing behind it is skipped or reordered', async () => {
      const outbox = new Outbox(database, systemClock);
      await appendIn(outbox, [1, 2, 3].map((n) => event(n, 'test.retry.happened')));
      const relay = relayOn(database);
      const attempts = new Map<number, number>();
      const handled: number[] = [];
      const committed: number[] = [];
      relay.subscribe('retry', ['test.retry.happened'], async (e, delivery) => {
        const n = (e.payload as { n: number }).n;
        attempts.set(n, (attempts.get(n) ?? 0) + 1);
        // The effect is written before the failure: the rollback must take it back.
        await sql`insert into test_effects (consumer, event_id, n) values ('retry', ${e.id}, ${n})`.execute(delivery.tx);
        if (n === 2 && attempts.get(n)! < 3) throw new Error('downstream is down');
        handled.push(n);
        delivery.afterCommit(() => committed.push(n));
      });
      relay.start();
      await until('all three committed', () => committed.length === 3);
      expect(handled).toEqual([1, 2, 3]);
      expect(attempts.get(2)).toBe(3);
      expect(attempts.get(3)).toBe(1);
      expect(committed).toEqual([1, 2, 3]);
      expect(await effects('retry')).toEqual([1, 2, 3]);
    });

    it('backs off doubling up to a cap', () => {
      const options = { retryFirstDelayMs: 100, retryMaxDelayMs: 30_000 };
      expect([1, 2, 3, 4, 9, 50].map((f) => retryDelayMs(f, options))).toEqual([100, 200, 400, 800, 25_600, 30_000]);
    });

    it('prunes events every consumer has passed once they are past the retention, keeping the newest', async () => {
      // Its own database: every consumer with a checkpoint decides what may go.
      const own = await scratchStorage(dialect);
      const db = await openDatabase(own);
      try {
        await migrateAll(db, [platformMigrations]);
        const clock = new ManualClock(Date.now());
        const outbox = new Outbox(db, clock);
        const relay = relayOn(db, clock);
        const seen: string[] = [];
        relay.subscribe('prune', ['test.prune.happened'], async (e) => {
          seen.push(e.id);
        });
        relay.start();
        const ids: string[] = [];
        for (const n of [1, 2, 3]) await db.kysely.transaction().execute(async (tx) => void ids.push(await outbox.append(tx, event(n, 'test.prune.happened'))));
        relay.poke();
        await until('delivery', () => seen.length === 3);
        // Stopped, so its own prunes do not race the ones below; its checkpoint stays.
        await relay.stop();
        const left = async () => (await sql<{ id: string }>`select id from platform_outbox order by id`.execute(db.kysely)).rows.map((r) => r.id);

        expect((await outbox.prune(clock.nowMs())).deleted).toBe(0);
        clock.advance(OUTBOX_RETENTION_MS + 1);
        // A consumer that has not read them holds them back, and is named.
        await outbox.ensureConsumer('laggard');
        expect(await outbox.prune(clock.nowMs())).toEqual({ deleted: 0, laggards: ['laggard'] });
        expect(await left()).toEqual(ids);
        await sql`delete from platform_outbox_consumers where consumer = 'laggard'`.execute(db.kysely);
        expect(await outbox.prune(clock.nowMs())).toEqual({ deleted: 2, laggards: [] });
        // The newest row stays: SQLite counts on from it.
        expect(await left()).toEqual([ids[2]]);
      } finally {
        await Promise.all(relays.splice(0).map((r) => r.stop()));
        await db.close();
        await own.drop();
      }
    });

    if (dialect === 'postgres') {
      it('an event whose transaction commits late is delivered first, never skipped behind the checkpoint', async () => {
        const outbox = new Outbox(database, systemClock);
        const relay = relayOn(database);
        const { handler, seen } = recordingHandler('late');
        relay.subscribe('late', ['test.late.happened'], handler);
        relay.start();

        const slow = await database.kysely.startTransaction().execute();
        const slowId = await outbox.append(slow, event(1, 'test.late.happened'));
        const [fastId] = await appendIn(outbox, [event(2, 'test.late.happened')]);
        relay.poke();
        await pause(300);
        // The later event waits while an earlier transaction that could still add rows runs.
        expect(seen).toEqual([]);
        await slow.commit().execute();
        await until('both', () => seen.length === 2);
        expect(seen.map((e) => e.id)).toEqual([slowId, fastId]);
      });

      it('two nodes relaying the same consumer on one database apply each event once', async () => {
        const other = await openDatabase(storage);
        extraDatabases.push(other);
        const outboxes = [new Outbox(database, systemClock), new Outbox(other, systemClock)];
        const calls = [0, 0];
        [database, other].forEach((db, i) => {
          const relay = relayOn(db, systemClock, { batchSize: 7, pollIntervalMs: 5 });
          relay.subscribe('pair', ['test.pair.happened'], async (e, delivery) => {
            calls[i]! += 1;
            await sql`insert into test_effects (consumer, event_id, n) values ('pair', ${e.id}, ${(e.payload as { n: number }).n})`.execute(delivery.tx);
          });
          relay.start();
        });
        // Both nodes append concurrently while both deliver.
        await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            [database, other][i % 2]!.kysely.transaction().execute(async (tx) => {
              for (let j = 0; j < 5; j++) await outboxes[i % 2]!.append(tx, event(i * 5 + j + 1, 'test.pair.happened'));
            }),
          ),
        );
        relays.forEach((r) => r.poke());
        await until('all 200', async () => (await effects('pair')).length >= 200);
        await pause(200);
        expect(await effects('pair')).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        expect(calls[0]! + calls[1]!).toBe(200);
      });
    }
  });
}
