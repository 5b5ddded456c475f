// What the end-to-end benchmarks share: a `gavel start` child process on a temp data dir with
// its log in a file, a keep-alive HTTP client, CPU accounting from /proc, and percentiles.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createReadStream, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SERVER_NODE_FLAGS } from '../src/platform/node-flags.js';
import { childEnv, REPO_ROOT, request as sharedRequest, type Answer } from '../test/support/process.js';

const READY_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 30_000;

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const load = () => `load average ${loadavg().map((l) => l.toFixed(2)).join(', ')}`;
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, all threads) a process has used so far, from /proc. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
}

export class Client {
  readonly agent: http.Agent;
  constructor(
    readonly port: number,
    sockets: number,
    localAddress?: string,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, ...(localAddress && { localAddress }) });
  }

  request(method: string, path: string, options: { token?: string; json?: unknown } = {}): Promise<Answer> {
    return sharedRequest(`http://127.0.0.1:${this.port}`, method, path, { ...options, agent: this.agent, timeoutMs: REQUEST_TIMEOUT_MS });
  }

  /** A request that must answer `status`; its body. */
  async ok(method: string, path: string, status: number, options: { token?: string; json?: unknown } = {}): Promise<any> {
    const res = await this.request(method, path, options);
    if (res.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${res.status}: ${res.text.slice(0, 500)}`);
    return res.body;
  }

  /**
   * Opens `sockets` keep-alive connections before anything is measured: clients stay
   * connected, and connection set-up under load (a SYN dropped from a full accept queue is
   * retried a second later) would otherwise land in the first measured requests.
   */
  async warmUp(sockets: number): Promise<void> {
    await Promise.all(Array.from({ length: sockets }, () => this.ok('GET', '/up', 200)));
    const open = Object.values(this.agent.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0);
    if (open < sockets) console.log(`  warm-up: only ${open} of ${sockets} connections stayed open`);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Cents as a decimal amount: 1234 → "12.34". */
export const usd = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;

/**
 * `count` lots, each with a timed USD auction that starts now and ends in an hour (a flat
 * increment, no soft close), and waits until the engine has opened every one. `title(i)` names
 * lot i. Returns the auctions' ids.
 */
export async function openTimedAuctions(
  ok: ExpectAnswer,
  o: { sellerToken: string; categoryId: string; count: number; title: (i: number) => string; description: string; startingCents: number; incrementCents: number; inFlight: number; openWithinMs?: number },
): Promise<string[]> {
  const openWithinMs = o.openWithinMs ?? 10_000;
  const ids: string[] = new Array(o.count);
  const startsAt = Date.now();
  await forEach(o.count, o.inFlight, async (i) => {
    const lot = await ok('POST', '/api/lots', 201, { token: o.sellerToken, json: { title: o.title(i), description: o.description, categoryId: o.categoryId, condition: 'used_good' } });
    const created = await ok('POST', '/api/auctions', 201, {
      token: o.sellerToken,
      json: {
        lotId: (lot.lot?.id ?? lot.id) as string,
        kind: 'timed',
        currency: 'USD',
        startingPrice: usd(o.startingCents),
        increments: [{ from: '0', increment: usd(o.incrementCents) }],
        startsAt: new Date(startsAt).toISOString(),
        endsAt: new Date(startsAt + 3_600_000).toISOString(),
        softCloseSeconds: 0,
      },
    });
    ids[i] = created.auction.id as string;
  });
  // They start "now": the engine opens each on a timer that fires at once.
  await forEach(o.count, o.inFlight, async (i) => {
    for (let tries = 0; ; tries++) {
      const page = await ok('GET', `/api/auctions/${ids[i]}`, 200);
      if (page.live.status === 'open') return;
      if (tries * 100 >= openWithinMs) throw new Error(`auction ${ids[i]} is still ${page.live.status} after ${openWithinMs / 1000} s`);
      await sleep(100);
    }
  });
  return ids;
}

/** Runs `task(i)` for i in [0, n) with `inFlight` at a time. */
export async function forEach(n: number, inFlight: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, inFlight) }, worker));
}

export interface Server {
  child: ChildProcess;
  pid: number;
  port: number;
  logFile: string;
}

/**
 * `gavel start` from source, as tests run it (with node's flags as `npm start` passes them), with its log in a file: the default level writes
 * a line per request, and reading that through a pipe would cost this process CPU.
 */
export async function startServer(dataDir: string, options: { env?: Record<string, string>; profileDir?: string | undefined } = {}): Promise<Server> {
  const logFile = join(dataDir, '..', 'gavel.log');
  const fd = openSync(logFile, 'w');
  const env = childEnv(options.env ?? {});
  const profile = options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [];
  const child = spawn(process.execPath, [...profile, ...SERVER_NODE_FLAGS, '--import', 'tsx', 'src/cli.ts', 'start', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir], { cwd: REPO_ROOT, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const server = { child, pid: child.pid!, port: 0, logFile };
  const began = Date.now();
  while (Date.now() - began < READY_TIMEOUT_MS) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`gavel exited (code ${child.exitCode}, signal ${child.signalCode}) before listening:\n${tail(logFile)}`);
    const match = /listening on http:\/\/[^:\s]+:(\d+)/.exec(readFileSync(logFile, 'utf8'));
    if (match) return { ...server, port: Number(match[1]) };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`gavel did not listen within ${READY_TIMEOUT_MS} ms:\n${tail(logFile)}`);
}

export async function stopServer(server: Server): Promise<string> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return `had already exited (code ${child.exitCode}, signal ${child.signalCode})`;
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`exited with code ${code}${signal ? `, signal ${signal}` : ''}`)));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), EXIT_TIMEOUT_MS)));
  const how = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  if (how !== 'timeout') return how;
  child.kill('SIGKILL');
  return `did not stop within ${EXIT_TIMEOUT_MS} ms of SIGTERM: killed (${await exited})`;
}

/** The server log's size and its warnings and errors (pino level ≥ 40). */
export async function logSummary(file: string): Promise<string> {
  let warnings = 0;
  let first = '';
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    const level = /^\{"level":(\d+)/.exec(line);
    if (level && Number(level[1]) >= 40) {
      warnings++;
      first ||= line.slice(0, 400);
    }
  }
  return `server log ${fmt(statSync(file).size / 1e6, 1)} MB, ${warnings} warnings/errors${first ? `; the first: ${first}` : ''}`;
}

export function tail(file: string, lines = 20): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/** One request that must answer `status`; its JSON body. */
export type ExpectAnswer = (method: string, path: string, status: number, options?: { token?: string; json?: unknown }) => Promise<any>;

/**
 * What bench:fanout and bench:cluster bid on: a seller, two bidders funded by an admin
 * adjustment (their tokens), and one timed auction open now with a flat ladder, both joined.
 */
export async function openBenchAuction(
  ok: ExpectAnswer,
  o: { admin: { email: string; password: string }; password: string; name: string; lotDescription: string; startingCents: number; incrementCents: number; openWithinMs: number },
): Promise<{ auctionId: string; bidders: string[]; adminToken: string }> {
  const adminToken = (await ok('POST', '/api/auth/login', 200, { json: o.admin })).token as string;
  const categoryId = (await ok('POST', '/api/categories', 201, { token: adminToken, json: { name: `${o.name} bench` } })).id as string;
  await ok('POST', '/api/user', 201, { token: adminToken, json: { name: 'Bench seller', email: 'seller@bench.test', roles: ['seller'], password: o.password } });
  const sellerToken = (await ok('POST', '/api/auth/login', 200, { json: { email: 'seller@bench.test', password: o.password } })).token as string;
  const bidders: string[] = [];
  for (const i of [1, 2]) {
    const user = await ok('POST', '/api/user', 201, { token: adminToken, json: { name: `Bidder ${i}`, email: `bidder-${i}@bench.test`, roles: ['bidder'], password: o.password } });
    bidders.push((await ok('POST', '/api/auth/login', 200, { json: { email: `bidder-${i}@bench.test`, password: o.password } })).token as string);
    await ok('POST', '/api/ledger/adjustments', 201, { token: adminToken, json: { userId: user.id, currency: 'USD', amount: '100000000.00', direction: 'credit', memo: 'bench funds' } });
  }
  const [auctionId] = await openTimedAuctions(ok, { sellerToken, categoryId, count: 1, title: () => `${o.name} lot`, description: o.lotDescription, startingCents: o.startingCents, incrementCents: o.incrementCents, inFlight: 1, openWithinMs: o.openWithinMs });
  for (const token of bidders) await ok('POST', `/api/auctions/${auctionId!}/join`, 200, { token });
  return { auctionId: auctionId!, bidders, adminToken };
}
