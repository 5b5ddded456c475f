// A NATS JetStream cluster of its own (3 nodes by default), started by a test and thrown away
// after it: the nats-server installed here, one config file per node, spare loopback ports and
// a temp dir. Tests kill a node (SIGKILL, as if its machine were gone) and start it again.
//
// Skipped with a message where `nats-server` is not on PATH, unless GAVEL_REQUIRE_SERVICES=1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { SERVICES_REQUIRED } from './databases.js';

/** Starting a node, waiting for JetStream, stopping: each must finish within this. */
const STEP_TIMEOUT_MS = 60_000;

function unavailableReason(): string | undefined {
  const probe = spawnSync('nats-server', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error) return `nats-server is not on PATH (${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message})`;
  if (probe.status !== 0) return `nats-server --version failed: ${probe.stderr}`;
  return undefined;
}

const reason = unavailableReason();
export const NATS_CLUSTER_AVAILABLE = reason === undefined;
if (reason !== undefined) {
  if (SERVICES_REQUIRED) throw new Error(`GAVEL_REQUIRE_SERVICES=1 but a NATS cluster cannot be started here: ${reason}`);
  console.warn(`[skip] NATS cluster tests skipped: ${reason} (GAVEL_REQUIRE_SERVICES=1 fails instead)`);
}

/** A port nothing listens on right now (the OS picks it; free again once we close). */
async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One nats-server of the cluster. */
export class NatsNode {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly index: number,
    /** Its server_name, which JetStream reports as a stream's leader and replicas. */
    readonly name: string,
    readonly port: number,
    readonly monitorPort: number,
    readonly configFile: string,
    readonly pidFile: string,
    readonly logFile: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn('nats-server', ['-c', this.configFile], { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => {
      const gone = () => {
        if (this.child === child) this.child = undefined;
        resolve();
      };
      child.once('exit', gone);
      // Could not be started at all (an unhandled 'error' would crash the test process).
      child.once('error', gone);
    });
    // Up once its monitoring endpoint answers (JetStream may still be electing: see waitForJetStream).
    const deadline = performance.now() + STEP_TIMEOUT_MS;
    for (;;) {
      if (this.child !== child) throw new Error(`${this.name} exited while starting\n${this.log()}`);
      try {
        const response = await fetch(`http://127.0.0.1:${this.monitorPort}/varz`, { signal: AbortSignal.timeout(2_000) });
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      if (performance.now() > deadline) throw new Error(`${this.name} did not start within ${STEP_TIMEOUT_MS} ms\n${this.log()}`);
      await sleep(50);
    }
  }

  /** SIGKILL: no shutdown, no goodbye to its routes or clients. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await Promise.race([this.exited, sleep(10_000).then(() => Promise.reject(new Error(`${this.name} still alive 10 s after SIGKILL`)))]);
    // A killed server leaves its pid file; the watchdog must not kill whoever gets that pid next.
    rmSync(this.pidFile, { force: true });
  }

  /** Whether its own /healthz says JetStream is current on it (meta group and its streams). */
  async healthy(): Promise<boolean> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.monitorPort}/healthz`, { signal: AbortSignal.timeout(2_000) });
      return response.ok;
    } catch {
      return false;
    }
  }

  /** Synchronous, for process exit. */
  killNow(): void {
    this.child?.kill('SIGKILL');
    rmSync(this.pidFile, { force: true });
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').split('\n').slice(-40).join('\n') : '';
  }
}

export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  /** One client URL per node. */
  readonly urls: string[];
  /** Every node's URL, comma-separated: what NATS_URL gets. */
  readonly url: string;
  /** SIGKILL node i and wait until its process is gone. */
  kill(i: number): Promise<void>;
  /** Start node i again (same name, ports and store) and wait until JetStream is healthy everywhere. */
  restart(i: number): Promise<void>;
  /** Index of the node with this server_name (a stream's `cluster.leader`, `nc.info.server_name`). */
  indexOf(serverName: string): number;
  /** Bounded wait: a JetStream meta leader answers, and every running node reports itself healthy. */
  waitForJetStream(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the files. Safe to call twice. */
  stop(): Promise<void>;
}

/** How to kill each cluster still running, synchronously, when this process exits. */
const running = new Set<() => void>();
process.once('exit', () => {
  for (const killNow of running) killNow();
});

/**
 * A shell that outlives this process by design: once this process is gone (even by SIGKILL,
 * when no exit handler runs), it kills the servers still running and removes their files.
 */
function startWatchdog(base: string): ChildProcess {
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
    `for f in '${base}'/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done`,
    `rm -rf '${base}'`,
  ].join('\n');
  const watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return watchdog;
}

export async function startNatsCluster({ nodes: count = 3, clusterName = 'gavel_test' } = {}): Promise<NatsCluster> {
  const base = mkdtempSync(join(tmpdir(), 'gavel-nats-'));
  const watchdog = startWatchdog(base);
  // Three ports a node, none twice (the OS may hand a just-closed port out again).
  const taken = new Set<number>();
  while (taken.size < 3 * count) taken.add(await sparePort());
  const free = [...taken];
  const ports = Array.from({ length: count }, (_, i) => ({ client: free[3 * i]!, route: free[3 * i + 1]!, monitor: free[3 * i + 2]! }));
  const nodes = ports.map((p, i) => {
    const name = `n${i}`;
    const node = new NatsNode(i, name, p.client, p.monitor, join(base, `${name}.conf`), join(base, `${name}.pid`), join(base, `${name}.log`));
    const routes = ports.filter((_, j) => j !== i).map((o) => `nats-route://127.0.0.1:${o.route}`);
    writeFileSync(
      node.configFile,
      [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${p.client}`,
        `http: 127.0.0.1:${p.monitor}`,
        `pid_file: "${node.pidFile}"`,
        `log_file: "${node.logFile}"`,
        // Small limits: a throwaway cluster on a shared machine.
        `jetstream {`,
        `  store_dir: "${join(base, name)}"`,
        `  max_memory_store: 64MB`,
        `  max_file_store: 256MB`,
        `}`,
        `cluster {`,
        `  name: ${clusterName}`,
        `  listen: 127.0.0.1:${p.route}`,
        `  routes: [${routes.join(', ')}]`,
        `}`,
        '',
      ].join('\n'),
    );
    return node;
  });

  let stopped = false;
  const killNow = () => {
    for (const node of nodes) node.killNow();
    rmSync(base, { recursive: true, force: true });
    watchdog.kill('SIGKILL');
  };

  const cluster: NatsCluster = {
    nodes,
    urls: nodes.map((n) => n.url),
    url: nodes.map((n) => n.url).join(','),
    kill: (i) => nodes[i]!.kill(),
    async restart(i) {
      await nodes[i]!.start();
      await cluster.waitForJetStream();
    },
    indexOf(serverName) {
      const i = nodes.findIndex((n) => n.name === serverName);
      if (i < 0) throw new Error(`no node is named ${serverName}`);
      return i;
    },
    async waitForJetStream(timeoutMs = STEP_TIMEOUT_MS) {
      const live = nodes.filter((n) => n.running);
      const deadline = performance.now() + timeoutMs;
      const nc = await connect({ servers: live.map((n) => n.url), timeout: 5_000, maxReconnectAttempts: -1 });
      try {
        // checkAPI off: jetstreamManager() would otherwise ask once, outside the loop.
        const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false });
        let last: unknown;
        for (;;) {
          try {
            // Account info needs the meta leader; /healthz that each node caught up with it.
            await jsm.getAccountInfo();
            const unhealthy = [];
            for (const n of live) if (!(await n.healthy())) unhealthy.push(n.name);
            if (unhealthy.length === 0) return;
            last = new Error(`not healthy: ${unhealthy.join(', ')}`);
          } catch (error) {
            last = error;
          }
          if (performance.now() > deadline) throw new Error(`JetStream not ready within ${timeoutMs} ms: ${String(last)}\n${live.map((n) => `--- ${n.name}\n${n.log()}`).join('\n')}`);
          await sleep(100);
        }
      } finally {
        await nc.close().catch(() => {});
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(nodes.map((n) => n.kill().catch(() => n.killNow())));
      rmSync(base, { recursive: true, force: true });
      running.delete(killNow);
      watchdog.kill('SIGKILL');
    },
  };
  running.add(killNow);
  try {
    await Promise.all(nodes.map((n) => n.start()));
    await cluster.waitForJetStream();
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
