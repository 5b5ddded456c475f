// Gavel's NATS adapters on a 3-node JetStream cluster of the test's own, losing one node
// (SIGKILL) while they work: a market lease stays with its holder and nobody else can take it,
// and every event of the JetStream bus is handled exactly once.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamLeases, type Lease, type LeaseStore } from '../../src/cluster/leases.js';
import { LeaseKeeper } from '../../src/cluster/lease-keeper.js';
import { createJetStreamBus } from '../../src/platform/bus/jetstream-bus.js';
import { systemClock } from '../../src/platform/clock.js';
import { openDatabase } from '../../src/platform/db/database.js';
import { migrateModule } from '../../src/platform/db/migrations.js';
import { platformMigrations } from '../../src/platform/idempotency/idempotency.js';
import { createLogger, type Logger } from '../../src/platform/logging.js';
import { scratchStorage } from '../support/databases.js';
import { NATS_CLUSTER_AVAILABLE, startNatsCluster, type NatsCluster } from '../support/nats-cluster.js';

// nats-server 2.9 elects a new Raft leader 4–9 s after the old one went silent (5–9 s measured
// here): a lease must outlive that with room for a loaded machine. Renewing every second (not
// the keeper's default third of the TTL) lets the first renewal after the election get through
// well before the keeper's own deadline (TTL minus a fifth: 16 s after the last renewal that
// got through).
const LEASE_TTL_MS = 20_000;
const KEEPER_TICK_MS = 1_000;
const TEST_TIMEOUT_MS = 120_000;

let cluster: NatsCluster;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  if (NATS_CLUSTER_AVAILABLE) cluster = await startNatsCluster({ nodes: 3 });
}, 90_000);

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  // The next test starts with all three nodes again.
  if (cluster) for (const node of cluster.nodes) if (!node.running) await cluster.restart(node.index);
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

/** A connection as Gavel makes one (src/gavel.ts): every server listed, reconnecting forever. */
async function connectAll(servers: string[] = cluster.urls, options: { noRandomize?: boolean } = {}): Promise<NatsConnection> {
  const nc = await connect({ servers, maxReconnectAttempts: -1, timeout: 5_000, ...options });
  cleanups.push(() => nc.close());
  return nc;
}

/** Warnings and errors the code under test logs, to show when an assertion fails. */
function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk).trim());
      done();
    },
  });
  return { logger: createLogger('warn', destination), lines };
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, context: () => string = () => ''): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    await sleep(50);
  }
}

/** The server (by index) leading a stream's Raft group now. */
async function streamLeader(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  let leader: string | undefined;
  await until(`stream ${stream} to have a leader`, async () => {
    leader = (await jsm.streams.info(stream)).cluster?.leader;
    return leader !== undefined;
  }, 30_000);
  return cluster.indexOf(leader!);
}

/** The server (by index) leading a durable consumer's Raft group now. */
async function consumerLeader(nc: NatsConnection, stream: string, durable: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  let leader: string | undefined;
  await until(`consumer ${durable} to have a leader`, async () => {
    leader = (await jsm.consumers.info(stream, durable)).cluster?.leader;
    return leader !== undefined;
  }, 30_000);
  return cluster.indexOf(leader!);
}

/** A lease store that remembers when each renewal was sent and whether it got through. */
function recordingStore(store: LeaseStore) {
  const renewals: Array<{ sentAtMs: number; outcome: 'renewed' | 'lost' | 'failed' }> = [];
  const recorded: LeaseStore = {
    ttlMs: store.ttlMs,
    acquire: (key, holder) => store.acquire(key, holder),
    release: (lease) => store.release(lease),
    holderOf: (key) => store.holderOf(key),
    async renew(lease: Lease) {
      const sentAtMs = performance.now();
      try {
        const renewed = await store.renew(lease);
        renewals.push({ sentAtMs, outcome: renewed ? 'renewed' : 'lost' });
        return renewed;
      } catch (error) {
        renewals.push({ sentAtMs, outcome: 'failed' });
        throw error;
      }
    },
  };
  return { store: recorded, renewals };
}

describe.skipIf(!NATS_CLUSTER_AVAILABLE)('a market lease on a 3-node NATS cluster', () => {
  async function leaseSetup() {
    const admin = await connectAll();
    const bucket = `gavel_leases_${randomBytes(4).toString('hex')}`;
    await new Kvm(admin).create(bucket, { ttl: LEASE_TTL_MS, history: 1, replicas: 3 });
    cleanups.push(async () => new Kvm(admin).open(bucket).then((kv) => kv.destroy()));
    const leader = await streamLeader(admin, `KV_${bucket}`);
    return { admin, bucket, leader };
  }

  async function keeper(nc: NatsConnection, bucket: string, holder: string) {
    const { logger, lines } = capturingLogger();
    const { store, renewals } = recordingStore(await JetStreamLeases.open(await new Kvm(nc).open(bucket), LEASE_TTL_MS));
    const acquired: Array<{ key: string; token: number }> = [];
    const lost: Array<{ key: string; token: number }> = [];
    const k = new LeaseKeeper({
      store,
      holder,
      clock: systemClock,
      logger,
      tickMs: KEEPER_TICK_MS,
      onAcquired: (key, token) => void acquired.push({ key, token }),
      onLost: (key, token) => void lost.push({ key, token }),
    });
    cleanups.push(() => k.stop());
    return { keeper: k, store, renewals, acquired, lost, lines };
  }

  /**
   * Engine A holds `auction.1`, engine B wants it too. One node is killed; A must keep the lease
   * throughout (never told it lost it, same token), a renewal sent after the kill must get
   * through, and B never gets it. Returns how long after the kill that renewal got through.
   */
  async function holdThrough(victim: number, a: Awaited<ReturnType<typeof keeper>>, b: Awaited<ReturnType<typeof keeper>>): Promise<number> {
    a.keeper.want(['auction.1']);
    a.keeper.start();
    await until('engine A to take the lease', () => a.acquired.length === 1, 15_000, () => a.lines.join('\n'));
    const token = a.acquired[0]!.token;
    b.keeper.want(['auction.1']);
    b.keeper.start();
    await until('engine A to renew at least twice', () => a.renewals.filter((r) => r.outcome === 'renewed').length >= 2, 15_000, () => a.lines.join('\n'));

    const killedAtMs = performance.now();
    await cluster.kill(victim);
    const context = () => `engine A:\n${a.lines.join('\n')}\nengine B:\n${b.lines.join('\n')}\nrenewals: ${JSON.stringify(a.renewals.map((r) => ({ ...r, sentAtMs: Math.round(r.sentAtMs - killedAtMs) })))}`;
    // The first renewal sent after the kill that got through, then a few ticks more for B to try.
    await until('a renewal sent after the kill to get through', () => a.renewals.some((r) => r.sentAtMs > killedAtMs && r.outcome === 'renewed'), 40_000, context);
    const failoverMs = performance.now() - killedAtMs;
    await sleep(3 * KEEPER_TICK_MS);

    expect(a.lost, context()).toEqual([]);
    expect(a.keeper.tokenOf('auction.1'), context()).toBe(token);
    expect(a.renewals.filter((r) => r.outcome === 'lost'), context()).toEqual([]);
    expect(b.acquired, context()).toEqual([]);
    expect(b.keeper.tokenOf('auction.1')).toBeUndefined();
    expect(await a.store.holderOf('auction.1')).toEqual({ holder: 'engine-a', token });
    return failoverMs;
  }

  it(
    "the node the holder's client is connected to dies: the client reconnects, renewals go on, the lease stays",
    async () => {
      const { bucket, leader } = await leaseSetup();
      // Engine A connects first to a node that does not lead the bucket's stream: losing it
      // is a client failover alone, no Raft election.
      const follower = [0, 1, 2].find((i) => i !== leader)!;
      const ncA = await connectAll([cluster.urls[follower]!, ...cluster.urls.filter((_, i) => i !== follower)], { noRandomize: true });
      expect(ncA.info?.server_name).toBe(cluster.nodes[follower]!.name);
      const ncB = await connectAll();
      const a = await keeper(ncA, bucket, 'engine-a');
      const b = await keeper(ncB, bucket, 'engine-b');
      const failoverMs = await holdThrough(follower, a, b);
      expect(ncA.info?.server_name).not.toBe(cluster.nodes[follower]!.name);
      console.info(`[nats-cluster] client's node killed: a renewal got through ${Math.round(failoverMs)} ms after the kill`);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "the leader of the lease bucket's stream dies: a new leader is elected within the TTL, renewals go on, the lease stays",
    async () => {
      const { admin, bucket, leader } = await leaseSetup();
      // Engine A's client stays connected (it is on another node): this is the Raft failover alone.
      const other = [0, 1, 2].find((i) => i !== leader)!;
      const ncA = await connectAll([cluster.urls[other]!, ...cluster.urls.filter((_, i) => i !== other)], { noRandomize: true });
      const ncB = await connectAll();
      const a = await keeper(ncA, bucket, 'engine-a');
      const b = await keeper(ncB, bucket, 'engine-b');
      const failoverMs = await holdThrough(leader, a, b);
      const newLeader = await streamLeader(admin, `KV_${bucket}`);
      expect(newLeader).not.toBe(leader);
      console.info(`[nats-cluster] lease stream leader killed: a renewal got through ${Math.round(failoverMs)} ms after the kill`);
    },
    TEST_TIMEOUT_MS,
  );
});

/** Which node to kill while events flow. */
type BusVictim = 'the stream leader' | "the consumer's leader" | 'the node the bus is connected to';

describe.skipIf(!NATS_CLUSTER_AVAILABLE)('the JetStream bus on a 3-node NATS cluster', () => {
  it.each<BusVictim>(['the stream leader', "the consumer's leader", 'the node the bus is connected to'])(
    '%s dies while events flow: every event appended is handled exactly once',
    async (which) => {
      const storage = await scratchStorage('sqlite');
      const database = await openDatabase(storage);
      cleanups.push(() => storage.drop(), () => database.close());
      await migrateModule(database, platformMigrations);
      const db = database.kysely as unknown as Kysely<any>;
      await db.schema.createTable('effects').addColumn('n', 'integer').addColumn('event_id', 'text').execute();

      const nc = await connectAll();
      const id = randomBytes(4).toString('hex');
      const stream = `GAVEL_TEST_${id}`;
      const subjectPrefix = `gavel_test_${id}.events`;
      const jsm = await jetstreamManager(nc);
      cleanups.push(() => jsm.streams.delete(stream));
      const { logger, lines } = capturingLogger();
      const bus = createJetStreamBus(database, systemClock, logger, nc, { deliver: true, stream, subjectPrefix, replicas: 3, pollIntervalMs: 50, retryFirstDelayMs: 50, retryMaxDelayMs: 1_000 });
      bus.subscribe('test.effects', ['test.a.done'], async (event, delivery) => {
        await delivery.tx.insertInto('effects').values({ n: (event.payload as { n: number }).n, event_id: event.id }).execute();
      });
      await bus.start();
      cleanups.push(() => bus.stop());

      const TOTAL = 120;
      const KILL_AFTER = 40;
      const appended: string[] = [];
      const handled = async () => Number((await db.selectFrom('effects').select((e) => e.fn.countAll().as('c')).executeTakeFirstOrThrow()).c);
      const context = () => lines.join('\n');
      let killedAtMs = 0;
      let victim = -1;
      let roles = { stream: -1, consumer: -1, client: -1 };
      for (let n = 1; n <= TOTAL; n++) {
        await db.transaction().execute(async (tx) => {
          appended.push(await bus.append(tx, { topic: 'test.a.done', key: `k${n % 7}`, payload: { n } }));
        });
        bus.poke();
        if (n === KILL_AFTER) {
          // Kill the stream's leader once the first events are through, with more still coming.
          await until('the first events handled', async () => (await handled()) >= KILL_AFTER / 2, 30_000, context);
          roles = { stream: await streamLeader(nc, stream), consumer: await consumerLeader(nc, stream, 'test_effects'), client: cluster.indexOf(nc.info!.server_name) };
          victim = which === 'the stream leader' ? roles.stream : which === "the consumer's leader" ? roles.consumer : roles.client;
          killedAtMs = performance.now();
          await cluster.kill(victim);
        }
        await sleep(40);
      }
      const handledBefore = await handled();
      await until('every event handled', async () => (await handled()) >= TOTAL, 90_000, context);
      const recoveredMs = performance.now() - killedAtMs;
      await sleep(1_000); // a redelivery after that would show up as a second row

      const effects = await db.selectFrom('effects').select(['n', 'event_id']).execute();
      const inbox = await db.selectFrom('platform_bus_inbox').select('event_id').where('consumer', '=', 'test.effects').execute();
      expect(effects.map((e) => Number(e.n)).sort((x, y) => x - y), context()).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
      expect(new Set(effects.map((e) => e.event_id))).toEqual(new Set(appended));
      expect(new Set(inbox.map((r) => r.event_id))).toEqual(new Set(appended));
      expect(inbox).toHaveLength(TOTAL);
      // The stream holds each event once: a publish repeated across the election was dropped as a duplicate.
      expect((await jsm.streams.info(stream)).state.messages).toBe(TOTAL);
      console.info(`[nats-cluster] bus: ${which} (${cluster.nodes[victim]!.name}) killed after ${KILL_AFTER} events (leaders: stream n${roles.stream}, consumer n${roles.consumer}; client on n${roles.client}; ${handledBefore} handled when the last was appended): all ${TOTAL} handled within ${Math.round(recoveredMs)} ms of the kill; ${lines.length} warnings logged`);
    },
    TEST_TIMEOUT_MS,
  );
});
