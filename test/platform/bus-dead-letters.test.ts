// Dead letters of the bus, for both adapters (the in-process outbox relay and JetStream against
// the real server) on SQLite and PostgreSQL: an event a consumer keeps failing on is set aside
// after its last attempt and the consumer goes on; an admin redrives it (its effect once) or
// discards it; the count of attempts survives a restart; and the admin routes.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createJetStreamBus } from '../../src/platform/bus/jetstream-bus.js';
import { createOutboxBus, type Bus } from '../../src/platform/outbox/bus.js';
import type { EventHandler } from '../../src/platform/outbox/relay.js';
import type { Principal } from '../../src/platform/auth/principal.js';
import { systemClock } from '../../src/platform/clock.js';
import { ConfigError, loadConfig } from '../../src/platform/config.js';
import { openDatabase, type Dialect } from '../../src/platform/db/database.js';
import { migrateModule } from '../../src/platform/db/migrations.js';
import { platformMigrations } from '../../src/platform/idempotency/idempotency.js';
import { createLogger } from '../../src/platform/logging.js';
import { DIALECTS, scratchStorage } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { NATS_AVAILABLE, connectNats } from '../support/nats.js';
import { expectProblem, ROOMY_LIMITS } from '../support/problems.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const silent = createLogger('silent');
const TOPIC = 'test.thing.happened';
const FAST = { pollIntervalMs: 20, retryFirstDelayMs: 10, retryMaxDelayMs: 50 };
const ADMIN: Principal = { userId: 'admin-1', roles: ['admin'], sessionId: 'session-1' };

const cleanups = cleanupsAfterEach({ ignoreFailures: true });

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A consumer that records each event's n through the delivery's transaction, then fails on the
 * poisoned ones while `broken`: the effect written before the failure must be taken back.
 */
function poisoned(consumer: string, poison: readonly number[]) {
  const calls = new Map<number, number>();
  const state = { broken: true };
  const handler: EventHandler = async (event, delivery) => {
    const n = (event.payload as { n: number }).n;
    calls.set(n, (calls.get(n) ?? 0) + 1);
    await delivery.tx.insertInto('effects').values({ consumer, event_id: event.id, n }).execute();
    if (state.broken && poison.includes(n)) throw new Error(`consumer cannot handle ${n}`);
  };
  return { handler, calls, state };
}

type Kind = 'in-process' | 'jetstream';

async function harness(dialect: Dialect, kind: Kind) {
  const storage = await scratchStorage(dialect);
  const database = await openDatabase(storage);
  cleanups.push(() => storage.drop(), () => database.close());
  await migrateModule(database, platformMigrations);
  const db = database.kysely as unknown as Kysely<any>;
  await db.schema.createTable('effects').addColumn('consumer', 'text').addColumn('event_id', 'text').addColumn('n', 'integer').execute();
  let nc: NatsConnection | undefined;
  const id = randomBytes(4).toString('hex');
  const stream = `GAVEL_TEST_${id}`;
  if (kind === 'jetstream') {
    nc = await connectNats();
    const jsm = await jetstreamManager(nc);
    cleanups.push(() => nc!.close(), () => jsm.streams.delete(stream));
  }
  const buses: Bus[] = [];
  cleanups.push(() => Promise.all(buses.map((b) => b.stop())));
  return {
    db,
    nc,
    subjectPrefix: `gavel_test_${id}.events`,
    bus(options: { maxAttempts: number; deliver?: boolean; retryFirstDelayMs?: number; retryMaxDelayMs?: number }): Bus {
      const common = { ...FAST, deliver: true, ...options };
      // A short ack wait: a nak lost while a bus stops comes back soon.
      const b = nc ? createJetStreamBus(database, systemClock, silent, nc, { ...common, stream, subjectPrefix: `gavel_test_${id}.events`, ackWaitMs: 2_000 }) : createOutboxBus(database, systemClock, silent, common);
      buses.push(b);
      return b;
    },
    async append(bus: Bus, n: number): Promise<string> {
      const eventId = await db.transaction().execute((tx) => bus.append(tx, { topic: TOPIC, key: `k${n}`, payload: { n } }));
      bus.poke();
      return eventId;
    },
    async effects(consumer: string): Promise<number[]> {
      return (await db.selectFrom('effects').select('n').where('consumer', '=', consumer).execute()).map((r) => Number(r.n));
    },
    async deadLetterRows(): Promise<any[]> {
      return db.selectFrom('platform_bus_dead_letters').selectAll().orderBy('id').execute();
    },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const KINDS: readonly Kind[] = ['in-process', 'jetstream'];

describe.each(DIALECTS)('bus dead letters on %s', (dialect) => {
  describe.each(KINDS)('the %s bus', (kind) => {
    const skip = kind === 'jetstream' && !NATS_AVAILABLE;

    it.skipIf(skip)('an event its consumer keeps failing on is dead-lettered after maxAttempts failures; the events after it arrive in order, each once', async () => {
      const h = await harness(dialect, kind);
      const bus = h.bus({ maxAttempts: 3 });
      const poison = poisoned('test.poisoned', [3]);
      bus.subscribe('test.poisoned', [TOPIC], poison.handler);
      await bus.start();
      const ids = [];
      for (const n of range(1, 8)) ids.push(await h.append(bus, n));
      await until('every other event handled', async () => (await h.effects('test.poisoned')).length === 7);
      // Nothing more comes: the dead letter is not retried, nothing is delivered twice.
      await sleep(300);
      expect(await h.effects('test.poisoned')).toEqual([1, 2, 4, 5, 6, 7, 8]);
      expect(poison.calls.get(3)).toBe(3);
      expect([...poison.calls.entries()].filter(([n, calls]) => n !== 3 && calls !== 1)).toEqual([]);

      const [row, ...more] = await h.deadLetterRows();
      expect(more).toEqual([]);
      expect(row).toMatchObject({ consumer: 'test.poisoned', event_id: ids[2], topic: TOPIC, key: 'k3', state: 'pending', resolved_at_ms: null, resolved_by: null });
      expect(JSON.parse(row.payload)).toEqual({ n: 3 });
      expect(Number(row.attempts)).toBe(3);
      expect(row.last_error).toBe('Error: consumer cannot handle 3');
      expect(Number(row.first_failed_at_ms)).toBeLessThanOrEqual(Number(row.last_failed_at_ms));
      // Its failure count is cleared with it.
      expect(await h.db.selectFrom('platform_bus_failures').selectAll().where('event_id', '=', ids[2]!).execute()).toEqual([]);
      expect(bus.deadLetters.deadLetteredSinceStart().get('test.poisoned')).toBe(1);
    });

    it.skipIf(skip)('a redrive after the handler is fixed takes effect once and marks it redriven; a second redrive is refused; a failing redrive leaves it pending with one more attempt; discard', async () => {
      const h = await harness(dialect, kind);
      const bus = h.bus({ maxAttempts: 2 });
      const poison = poisoned('test.redriven', [2, 4]);
      bus.subscribe('test.redriven', [TOPIC], poison.handler);
      await bus.start();
      for (const n of range(1, 5)) await h.append(bus, n);
      await until('two dead letters and the rest handled', async () => (await h.deadLetterRows()).length === 2 && (await h.effects('test.redriven')).length === 3);
      const [two, four] = (await bus.deadLetters.list(ADMIN, { limit: 10 })).items.reverse();
      expect([two?.payload, four?.payload]).toEqual([{ n: 2 }, { n: 4 }]);

      // Still broken: refused with the error, nothing stays of what it did, one more attempt.
      await expect(bus.deadLetters.redrive(ADMIN, two!.id)).rejects.toMatchObject({ code: 'DEAD_LETTER_REDRIVE_FAILED', message: expect.stringContaining('consumer cannot handle 2') });
      expect((await bus.deadLetters.list(ADMIN, { limit: 10, state: 'pending' })).items.find((l) => l.id === two!.id)).toMatchObject({ state: 'pending', attempts: 3 });
      expect(await h.effects('test.redriven')).toEqual([1, 3, 5]);

      poison.state.broken = false;
      // Two admins at once: one runs it, the other is refused.
      const both = await Promise.allSettled([bus.deadLetters.redrive(ADMIN, two!.id), bus.deadLetters.redrive(ADMIN, two!.id)]);
      const redriven = both.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      expect(redriven).toHaveLength(1);
      expect(both.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'DEAD_LETTER_NOT_PENDING' } });
      expect(redriven[0]).toMatchObject({ state: 'redriven', resolvedBy: ADMIN.userId, attempts: 3 });
      expect((await h.effects('test.redriven')).sort()).toEqual([1, 2, 3, 5]);
      await expect(bus.deadLetters.redrive(ADMIN, two!.id)).rejects.toMatchObject({ code: 'DEAD_LETTER_NOT_PENDING' });
      expect((await h.effects('test.redriven')).filter((n) => n === 2)).toEqual([2]);
      if (kind === 'jetstream') {
        // The inbox keeps the event as handled: a delivery of it from the stream stays a no-op.
        expect(await h.db.selectFrom('platform_bus_inbox').select('event_id').where('consumer', '=', 'test.redriven').where('event_id', '=', two!.eventId).execute()).toHaveLength(1);
      }

      const discarded = await bus.deadLetters.discard(ADMIN, four!.id);
      expect(discarded).toMatchObject({ state: 'discarded', resolvedBy: ADMIN.userId });
      await expect(bus.deadLetters.redrive(ADMIN, four!.id)).rejects.toMatchObject({ code: 'DEAD_LETTER_NOT_PENDING' });
      await expect(bus.deadLetters.discard(ADMIN, four!.id)).rejects.toMatchObject({ code: 'DEAD_LETTER_NOT_PENDING' });
      expect(await h.effects('test.redriven')).not.toContain(4);
      expect((await bus.deadLetters.list(ADMIN, { limit: 10, state: 'pending' })).total).toBe(0);
    });

    it.skipIf(skip)('a node that does not deliver events (an api node) redrives too: the handler runs there once; a consumer it does not know is refused', async () => {
      const h = await harness(dialect, kind);
      const worker = h.bus({ maxAttempts: 1 });
      const poison = poisoned('test.elsewhere', [1]);
      worker.subscribe('test.elsewhere', [TOPIC], poison.handler);
      await worker.start();
      await h.append(worker, 1);
      await until('the dead letter', async () => (await h.deadLetterRows()).length === 1);
      const [letter] = (await worker.deadLetters.list(ADMIN, { limit: 1 })).items;
      const apiOnly = h.bus({ maxAttempts: 1, deliver: false });
      apiOnly.subscribe('test.elsewhere', [TOPIC], poisoned('test.elsewhere', []).handler);
      expect(apiOnly.deadLetters.runsHere('test.elsewhere')).toBe(true);
      expect(await apiOnly.deadLetters.redrive(ADMIN, letter!.id)).toMatchObject({ state: 'redriven' });
      expect(await h.effects('test.elsewhere')).toEqual([1]);
      // A node whose modules do not consume it (renamed, removed) cannot run it.
      const stranger = h.bus({ maxAttempts: 1, deliver: false });
      expect(stranger.deadLetters.runsHere('test.elsewhere')).toBe(false);
    });

    it.skipIf(skip)('the count of attempts survives a restart: a node stopped between failures and started again dead-letters after maxAttempts failures in all', async () => {
      const h = await harness(dialect, kind);
      const poison = poisoned('test.restarted', [1]);
      // Retried slowly, so that it stops between the first failures.
      const before = h.bus({ maxAttempts: 4, retryFirstDelayMs: 300, retryMaxDelayMs: 300 });
      before.subscribe('test.restarted', [TOPIC], poison.handler);
      await before.start();
      await h.append(before, 1);
      await until('a failure', async () => (poison.calls.get(1) ?? 0) >= 1);
      await before.stop();
      const failedBefore = poison.calls.get(1)!;
      const recorded = await h.db.selectFrom('platform_bus_failures').selectAll().where('consumer', '=', 'test.restarted').executeTakeFirstOrThrow();
      expect(Number(recorded.attempts)).toBe(failedBefore);

      if (failedBefore < 4) {
        const after = h.bus({ maxAttempts: 4 });
        after.subscribe('test.restarted', [TOPIC], poison.handler);
        await after.start();
        await h.append(after, 2);
        await until('the dead letter and the next event', async () => (await h.deadLetterRows()).length === 1 && (await h.effects('test.restarted')).includes(2));
      }
      await sleep(200);
      expect(poison.calls.get(1)).toBe(4);
      expect(Number((await h.deadLetterRows())[0].attempts)).toBe(4);
    });
  });
});

describe.skipIf(!NATS_AVAILABLE).each(DIALECTS)('bus dead letters over JetStream on %s', (dialect) => {
it('the event delivered again after its dead letter was written (a node that died before its ack) is acknowledged without running or a second dead letter', async () => {
    const h = await harness(dialect, 'jetstream');
    const bus = h.bus({ maxAttempts: 2 });
    const poison = poisoned('test.acked', [1]);
    bus.subscribe('test.acked', [TOPIC], poison.handler);
    await bus.start();
    await h.append(bus, 1);
    await until('the dead letter', async () => (await h.deadLetterRows()).length === 1);
    // The same event again under another message id, past the stream's duplicate check.
    const row = await h.db.selectFrom('platform_outbox').selectAll().executeTakeFirstOrThrow();
    const event = { id: row.id, topic: row.topic, key: row.key, version: Number(row.version), payload: JSON.parse(row.payload), createdAtMs: Number(row.created_at_ms) };
    await jetstream(h.nc!).publish(`${h.subjectPrefix}.${TOPIC}`, JSON.stringify(event), { msgID: `${row.id}-again` });
    await h.append(bus, 2);
    await until('the next event', async () => (await h.effects('test.acked')).includes(2));
    await sleep(200);
    expect(poison.calls.get(1)).toBe(2);
    expect(await h.deadLetterRows()).toHaveLength(1);
    expect(await h.effects('test.acked')).toEqual([2]);
  });
});

describe.each(DIALECTS)('the bus dead-letter admin routes on %s', (dialect) => {
  const path = '/api/admin/bus/dead-letters';

  async function nodeWithPoison(t: TestNode, poison: number[]) {
    const p = poisoned('test.poison', poison);
    const db = t.node.database.kysely as unknown as Kysely<any>;
    await db.schema.createTable('effects').addColumn('consumer', 'text').addColumn('event_id', 'text').addColumn('n', 'integer').execute();
    t.node.bus.subscribe('test.poison', [TOPIC], p.handler);
    const append = async (n: number) => {
      await db.transaction().execute((tx) => t.node.bus.append(tx, { topic: TOPIC, key: `k${n}`, payload: { n } }));
      t.node.bus.poke();
    };
    const effects = async () => (await db.selectFrom('effects').select('n').where('consumer', '=', 'test.poison').execute()).map((r) => Number(r.n));
    return { ...p, db, append, effects };
  }

  it('admins list (filtered, newest first, paged), redrive and discard; anyone else is refused; bad ids and queries are 4xx problems; the counter counts', async () => {
    const t = await startTestNode(dialect, { busMaxAttempts: 2 }, { outbox: FAST, loginLimits: ROOMY_LIMITS });
    cleanups.push(() => t.close());
    const p = await nodeWithPoison(t, [1, 2, 3]);
    for (const n of range(1, 4)) await p.append(n);
    const admin = await t.adminToken();
    await until('three dead letters', async () => (await t.call('GET', `${path}?consumer=test.poison`, { token: admin })).body.total === 3);
    expect(await p.effects()).toEqual([4]);

    const page1 = await t.call('GET', `${path}?consumer=test.poison&state=pending&limit=2`, { token: admin });
    expect(page1.status, page1.text).toBe(200);
    expect(page1.body.items.map((l: any) => l.payload.n)).toEqual([3, 2]);
    expect(page1.body.items[0]).toMatchObject({ consumer: 'test.poison', topic: TOPIC, key: 'k3', version: 1, attempts: 2, lastError: 'Error: consumer cannot handle 3', state: 'pending', resolvedAt: null, resolvedBy: null, redrivableHere: true });
    const page2 = await t.call('GET', `${path}?consumer=test.poison&state=pending&limit=2&cursor=${page1.body.nextCursor}`, { token: admin });
    expect(page2.body).toMatchObject({ nextCursor: null, total: 3 });
    expect(page2.body.items.map((l: any) => l.payload.n)).toEqual([1]);
    expect((await t.call('GET', `${path}?consumer=test.nobody`, { token: admin })).body).toEqual({ items: [], nextCursor: null, total: 0 });
    const [three, two, one] = page1.body.items.concat(page2.body.items);

    // Anyone but an admin is refused.
    const person = await t.newUser();
    expectProblem(await t.call('GET', path), 401, 'UNAUTHENTICATED');
    expectProblem(await t.call('GET', path, { token: person.token }), 403, 'FORBIDDEN');
    expectProblem(await t.call('POST', `${path}/${one.id}/redrive`), 401, 'UNAUTHENTICATED');
    expectProblem(await t.call('POST', `${path}/${one.id}/redrive`, { token: person.token }), 403, 'FORBIDDEN');
    expectProblem(await t.call('POST', `${path}/${one.id}/discard`, { token: person.token }), 403, 'FORBIDDEN');
    // Bad ids and queries.
    expectProblem(await t.call('POST', `${path}/not-a-uuid/redrive`, { token: admin }), 400, 'VALIDATION');
    expectProblem(await t.call('POST', `${path}/not-a-uuid/discard`, { token: admin }), 400, 'VALIDATION');
    expectProblem(await t.call('POST', `${path}/01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f/redrive`, { token: admin }), 404, 'NOT_FOUND');
    expectProblem(await t.call('POST', `${path}/01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f/discard`, { token: admin }), 404, 'NOT_FOUND');
    expectProblem(await t.call('GET', `${path}?state=lost`, { token: admin }), 400, 'VALIDATION');
    expectProblem(await t.call('GET', `${path}?cursor=bogus`, { token: admin }), 400, 'VALIDATION');
    expectProblem(await t.call('GET', `${path}?limit=0`, { token: admin }), 400, 'VALIDATION');
    expect((await p.effects()).sort()).toEqual([4]);

    // Still broken: 409 with the error; it stays pending with one more attempt.
    const failed = await t.call('POST', `${path}/${one.id}/redrive`, { token: admin });
    expectProblem(failed, 409, 'DEAD_LETTER_REDRIVE_FAILED');
    expect(failed.body.detail).toContain('consumer cannot handle 1');
    p.state.broken = false;
    const redriven = await t.call('POST', `${path}/${one.id}/redrive`, { token: admin });
    expect(redriven.status, redriven.text).toBe(200);
    expect(redriven.body).toMatchObject({ id: one.id, state: 'redriven', attempts: 3, redrivableHere: false, resolvedAt: expect.any(String), resolvedBy: expect.any(String) });
    expectProblem(await t.call('POST', `${path}/${one.id}/redrive`, { token: admin }), 409, 'DEAD_LETTER_NOT_PENDING');
    const discarded = await t.call('POST', `${path}/${two.id}/discard`, { token: admin });
    expect(discarded.status, discarded.text).toBe(200);
    expect(discarded.body).toMatchObject({ id: two.id, state: 'discarded' });
    expectProblem(await t.call('POST', `${path}/${two.id}/redrive`, { token: admin }), 409, 'DEAD_LETTER_NOT_PENDING');
    expectProblem(await t.call('POST', `${path}/${two.id}/discard`, { token: admin }), 409, 'DEAD_LETTER_NOT_PENDING');
    expect((await p.effects()).sort()).toEqual([1, 4]);

    const byState = async (state: string) => (await t.call('GET', `${path}?state=${state}`, { token: admin })).body.items.map((l: any) => l.id);
    expect(await byState('pending')).toEqual([three.id]);
    expect(await byState('redriven')).toEqual([one.id]);
    expect(await byState('discarded')).toEqual([two.id]);

    const metrics = await t.call('GET', '/metrics');
    expect(metrics.text).toMatch(/^gavel_bus_dead_letters_total\{consumer="test.poison"\} 3$/m);
  });

  it('an api node without the worker role lists dead letters, redrives them (its modules register the same consumers) and discards them', async () => {
    const t = await startTestNode(dialect, { roles: new Set(['api'] as const) }, { loginLimits: ROOMY_LIMITS });
    cleanups.push(() => t.close());
    const p = await nodeWithPoison(t, []);
    const event = { id: '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f', topic: TOPIC, key: 'k1', version: 1, payload: { n: 1 }, createdAtMs: Date.now() };
    // As a worker node would have written them.
    await p.db.transaction().execute(async (tx) => {
      for (const id of [event.id, '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e50']) {
        const failure = await t.node.bus.deadLetters.recordFailure(tx, 'test.poison', { ...event, id }, new Error('worker failed'));
        await t.node.bus.deadLetters.deadLetter(tx, 'test.poison', { ...event, id }, failure);
      }
    });
    const admin = await t.adminToken();
    const list = await t.call('GET', path, { token: admin });
    expect(list.body.items.map((l: any) => [l.redrivableHere, l.lastError])).toEqual([
      [true, 'Error: worker failed'],
      [true, 'Error: worker failed'],
    ]);
    const redriven = await t.call('POST', `${path}/${list.body.items[0].id}/redrive`, { token: admin });
    expect(redriven.status, redriven.text).toBe(200);
    expect(redriven.body).toMatchObject({ state: 'redriven' });
    expect(await p.effects()).toEqual([1]);
    const discarded = await t.call('POST', `${path}/${list.body.items[1].id}/discard`, { token: admin });
    expect(discarded.body).toMatchObject({ state: 'discarded' });
    expect(await p.effects()).toEqual([1]);
  });
});

describe('--bus-max-attempts', () => {
  it('defaults to 10 and takes 1–1000 from the flag or GAVEL_BUS_MAX_ATTEMPTS', () => {
    expect(loadConfig({}, {}).busMaxAttempts).toBe(10);
    expect(loadConfig({}, { GAVEL_BUS_MAX_ATTEMPTS: '3' }).busMaxAttempts).toBe(3);
    expect(loadConfig({ busMaxAttempts: '1000' }, { GAVEL_BUS_MAX_ATTEMPTS: '3' }).busMaxAttempts).toBe(1000);
    expect(() => loadConfig({}, { GAVEL_BUS_MAX_ATTEMPTS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({}, { GAVEL_BUS_MAX_ATTEMPTS: '1001' })).toThrow(ConfigError);
    expect(() => loadConfig({}, { GAVEL_BUS_MAX_ATTEMPTS: 'ten' })).toThrow(ConfigError);
  });
});
