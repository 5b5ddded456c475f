// Three Gavel nodes in one test process, scaled out (docs/cluster.md): an api node (HTTP and
// WebSocket on 127.0.0.1, no engine) and two engines, one also a worker, on one scratch
// PostgreSQL database and the NATS server under test, with names of their own on NATS.
import type { NatsConnection } from '@nats-io/transport-node';
import type { Role } from '../../src/platform/config.js';
import { scratchStorage, type ScratchStorage } from './databases.js';
import { attachTestNode, type TestNode } from './gavel.js';
import { NATS_TEST_URL, connectNats, scratchClusterNames } from './nats.js';
import { ROOMY_LIMITS } from './problems.js';

export interface NodesCluster {
  storage: ScratchStorage;
  api: TestNode;
  engines: TestNode[];
  /** The engines holding `market` (e.g. `auction.<id>`) now: one, unless it is moving. */
  ownersOf(market: string): TestNode[];
  close(): Promise<void>;
}

export async function startNodesCluster(leaseMs: number): Promise<NodesCluster> {
  const storage = await scratchStorage('postgres');
  let nc: NatsConnection | undefined;
  let names: Awaited<ReturnType<typeof scratchClusterNames>> | undefined;
  const nodes: TestNode[] = [];
  const close = async () => {
    for (const t of nodes) await t.close().catch(() => {});
    await names?.drop();
    await nc?.close();
    await storage.drop();
  };
  try {
    nc = await connectNats();
    names = await scratchClusterNames(nc);
    const options = names.options;
    const node = async (roles: Role[], listen = false) => {
      const t = await attachTestNode(
        storage,
        { natsUrl: NATS_TEST_URL, marketLeaseMs: leaseMs, roles: new Set(roles), ...(listen && { host: '127.0.0.1', port: 0 }) },
        { ...options, listen, loginLimits: ROOMY_LIMITS },
      );
      nodes.push(t);
      return t;
    };
    const engines = [await node(['engine', 'worker']), await node(['engine'])];
    const api = await node(['api'], true);
    return { storage, api, engines, ownersOf: (market) => engines.filter((e) => e.node.markets.owned().includes(market)), close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Polls `probe` every 50 ms until it answers something, for at most `ms`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
