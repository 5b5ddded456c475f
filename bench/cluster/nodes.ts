// The processes bench/cluster.ts starts, and how it watches them: `gavel start` nodes with a
// role each (their log in a file, not a pipe: the default level writes a line per request, and
// reading that through a pipe would cost the measuring process CPU), forked client workers, a
// pid file per child, and a watchdog shell that outlives the bench to kill what is left and drop
// its database when the bench itself was killed (SIGKILL runs no handler of ours).
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { SERVER_NODE_FLAGS } from '../../src/platform/node-flags.js';
import { NatsNode } from '../../test/support/nats-cluster.js';
import { childEnv, REPO_ROOT, type Env } from '../../test/support/process.js';
import { sleep, tail } from '../support.js';

const READY_TIMEOUT_MS = 90_000;
const EXIT_TIMEOUT_MS = 15_000;

/** Every child started here, so a signal handler can kill them all synchronously. */
export const children = new Set<ChildProcess>();
let pidDir = '';

/** Where pid files go (the watchdog reads them); call once before starting anything. */
export function usePidDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  pidDir = dir;
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  const pidFile = pidDir && child.pid ? join(pidDir, `${child.pid}.pid`) : '';
  if (pidFile) writeFileSync(pidFile, String(child.pid));
  child.once('exit', () => {
    children.delete(child);
    if (pidFile) rmSync(pidFile, { force: true });
  });
  return child;
}

/** SIGKILL to every child, at once and synchronously: for signals, crashes and the deadline. */
export function killAllNow(): void {
  for (const child of children) child.kill('SIGKILL');
}

export function forkTracked(script: string): ChildProcess {
  return track(fork(script, [], { cwd: REPO_ROOT, execArgv: ['--import', 'tsx'], env: childEnv(), serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
}

/**
 * A shell started detached: once this process is gone, however it went, it kills the children
 * whose pid files remain, drops the database (psql, where installed) and removes `dirs`.
 * Stopped by the bench after its own clean-up.
 */
export function startWatchdog(options: { pidDir: string; adminUrl: string; database: string; dirs: string[] }): ChildProcess {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
    `for f in ${quote(options.pidDir)}/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done`,
    `command -v psql >/dev/null && psql ${quote(options.adminUrl)} -qc ${quote(`drop database if exists ${options.database} with (force)`)} >/dev/null 2>&1`,
    ...options.dirs.map((d) => `rm -rf ${quote(d)}`),
  ].join('\n');
  const watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return watchdog;
}

export interface LogLine {
  level: number;
  time: number;
  msg: string;
  [field: string]: unknown;
}

/** One `gavel start` process of the cluster. */
export class GavelNode {
  port = 0;
  private constructor(
    readonly name: string,
    readonly role: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns `gavel start` from source with `env` (GAVEL_ROLE and the rest) and waits until it listens; with `profileDir`, under --cpu-prof. */
  static async start(dir: string, name: string, role: string, env: Env, profileDir?: string): Promise<GavelNode> {
    const logFile = join(dir, `${name}.log`);
    const fd = openSync(logFile, 'w');
    const args = [...SERVER_NODE_FLAGS, '--import', 'tsx', 'src/cli.ts', 'start', '--host', '127.0.0.1', '--port', '0'];
    // node writes the profile when the process exits normally (SIGTERM), one per thread.
    if (profileDir) args.unshift('--cpu-prof', '--cpu-prof-dir', join(profileDir, name));
    const child = track(spawn(process.execPath, args, { cwd: REPO_ROOT, env: childEnv({ ...env, GAVEL_ROLE: role, GAVEL_DATA_DIR: join(dir, `${name}-data`) }), stdio: ['ignore', fd, fd] }));
    closeSync(fd);
    const node = new GavelNode(name, role, child, logFile);
    const began = Date.now();
    while (Date.now() - began < READY_TIMEOUT_MS) {
      if (!node.running) throw new Error(`${name} (${role}) exited (code ${child.exitCode}, signal ${child.signalCode}) before listening:\n${tail(logFile)}`);
      const match = /listening on http:\/\/[^:\s]+:(\d+)/.exec(readFileSync(logFile, 'utf8'));
      if (match) {
        node.port = Number(match[1]);
        return node;
      }
      await sleep(100);
    }
    child.kill('SIGKILL');
    throw new Error(`${name} (${role}) did not listen within ${READY_TIMEOUT_MS} ms:\n${tail(logFile)}`);
  }

  /** Log lines whose message is `msg` (pino writes one JSON object per line). */
  logLines(msg: string): LogLine[] {
    const lines: LogLine[] = [];
    for (const line of readFileSync(this.logFile, 'utf8').split('\n')) {
      if (!line.includes(msg)) continue;
      try {
        const parsed = JSON.parse(line) as LogLine;
        if (parsed.msg === msg) lines.push(parsed);
      } catch {
        // a line cut short by a kill
      }
    }
    return lines;
  }

  /**
   * Warnings and errors in its log (pino level ≥ 40), in one line. Requests answered 503 (no
   * engine holds the auction during a failover: what the bench provokes) are counted apart.
   */
  problems(): string {
    const bad = readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter((line) => Number(/^\{"level":(\d+)/.exec(line)?.[1] ?? 0) >= 40);
    const unavailable = bad.filter((line) => line.includes('"msg":"request"') && line.includes('"status":503')).length;
    const rest = bad.filter((line) => !(line.includes('"msg":"request"') && line.includes('"status":503')));
    const others = rest.length ? `${rest.length} warnings/errors, the first: ${rest[0]!.slice(0, 300)}` : 'no other warnings or errors';
    return unavailable ? `${unavailable} requests answered 503; ${others}` : others.replace('other ', '');
  }

  /** `signal`, then a bounded wait; SIGKILL if it has not gone by then. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill(signal);
    if (await Promise.race([exited.then(() => false), sleep(EXIT_TIMEOUT_MS).then(() => true)])) {
      this.child.kill('SIGKILL');
      await exited;
    }
  }
}

// --- NATS ------------------------------------------------------------------------------------------

/** A port nothing listens on right now (the OS picks it). */
async function sparePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * One nats-server with JetStream and no cluster block (JetStream refuses a cluster of one),
 * started through nats-cluster.ts's NatsNode; its pid file is in the bench's pid dir, so the
 * watchdog kills it too. Resolves once JetStream answers.
 */
export async function startNatsServer(dir: string): Promise<NatsNode> {
  mkdirSync(dir, { recursive: true });
  const [port, monitorPort] = [await sparePort(), await sparePort()];
  const node = new NatsNode(0, 'bench', port, monitorPort, join(dir, 'nats.conf'), join(pidDir, 'nats.pid'), join(dir, 'nats.log'));
  writeFileSync(
    node.configFile,
    [
      'server_name: bench',
      `listen: 127.0.0.1:${port}`,
      `http: 127.0.0.1:${monitorPort}`,
      `pid_file: "${node.pidFile}"`,
      `log_file: "${node.logFile}"`,
      `jetstream { store_dir: "${join(dir, 'store')}", max_memory_store: 64MB, max_file_store: 256MB }`,
      '',
    ].join('\n'),
  );
  await node.start();
  const nc = await connect({ servers: node.url, timeout: 5_000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false });
    const began = Date.now();
    for (;;) {
      try {
        await jsm.getAccountInfo();
        return node;
      } catch (error) {
        if (Date.now() - began > 30_000) throw new Error(`JetStream did not answer within 30 s: ${String(error)}\n${node.log()}`);
        await sleep(100);
      }
    }
  } finally {
    await nc.close().catch(() => {});
  }
}

// --- /proc ------------------------------------------------------------------------------------

/** Seconds the process's main thread (its event loop) was runnable but waiting for a CPU. */
export function cpuWaitSecondsOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return NaN;
  }
}
