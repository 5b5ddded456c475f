// NATS under test: the JetStream server at NATS_TEST_URL (default nats://127.0.0.1:4222).
// Skipped with a message where unreachable, unless GAVEL_REQUIRE_SERVICES=1.
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { SERVICES_REQUIRED } from './databases.js';

export const NATS_TEST_URL = process.env.GAVEL_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

async function natsReachable(): Promise<boolean> {
  try {
    const nc = await connect({ servers: NATS_TEST_URL, timeout: 3000, reconnect: false });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

export const NATS_AVAILABLE = await natsReachable();
if (!NATS_AVAILABLE) {
  if (SERVICES_REQUIRED) throw new Error(`GAVEL_REQUIRE_SERVICES=1 but NATS is unreachable at ${NATS_TEST_URL}`);
  console.warn(`[skip] NATS tests skipped: nothing answers at ${NATS_TEST_URL} (set GAVEL_TEST_NATS_URL, or GAVEL_REQUIRE_SERVICES=1 to fail instead)`);
}

export function connectNats(): Promise<NatsConnection> {
  return connect({ servers: NATS_TEST_URL, timeout: 3000 });
}

/** A fresh KV bucket with a unique name and the given TTL; destroyed by `drop`. */
export async function scratchBucket(nc: NatsConnection, ttlMs: number): Promise<{ name: string; kv: KV; drop(): Promise<void> }> {
  const name = `gavel_test_${randomBytes(5).toString('hex')}`;
  const kv = await new Kvm(nc).create(name, { ttl: ttlMs, history: 1 });
  return { name, kv, drop: async () => void (await kv.destroy().catch(() => false)) };
}

/**
 * Names of its own for one test's cluster of nodes (event stream, subjects, lease bucket), so
 * tests sharing the NATS server never meet: pass `options` to startGavel. `drop` deletes them.
 */
export async function scratchClusterNames(nc: NatsConnection): Promise<{ options: { jetstream: { stream: string; subjectPrefix: string }; cluster: { subjectPrefix: string; leaseBucket: string } }; count(): Promise<number>; drop(): Promise<void> }> {
  const id = randomBytes(4).toString('hex');
  const stream = `GAVEL_TEST_${id}`;
  const leaseBucket = `gavel_test_leases_${id}`;
  return {
    options: { jetstream: { stream, subjectPrefix: `gavel_test_${id}.events` }, cluster: { subjectPrefix: `gavel_test_${id}`, leaseBucket } },
    /** Messages in the event stream. */
    count: async () => {
      const { jetstreamManager } = await import('@nats-io/jetstream');
      return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
    },
    drop: async () => {
      const { jetstreamManager } = await import('@nats-io/jetstream');
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(stream).catch(() => false);
      await new Kvm(nc).open(leaseBucket).then((kv) => kv.destroy()).catch(() => false);
    },
  };
}
