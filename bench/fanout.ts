// Fan-out of one auction room to N WebSocket subscribers: bid sent → price event received at
// each subscriber (p50/p95/p99), server CPU per delivered message and memory per connection,
// beside a bare `ws` broadcast of a message of the same shape and size to the same N in the
// same run (bench/fanout/bare-server.ts).
//
// Processes: the server under test is a child (`gavel start`, embedded SQLite in a temp dir, or
// the bare server), fresh for every level so its memory with 0 sockets is a clean baseline.
// The subscribers live in K forked client workers (bench/fanout/clients.ts), each connecting
// from its own loopback address (127.1.x.y) so closed sockets waiting in TIME_WAIT never
// exhaust the ephemeral ports of the next level. This process only places bids over HTTP
// (alternating two funded bidders, each bid the minimum next bid, so every bid moves the price)
// and notes when each bid was sent, by price; the workers note when each price event
// arrived and send back histograms. All processes read one clock (shared.ts `now`).
//
// Per level and server: warm-up bids with no subscriber (their CPU is what a bid costs without
// fan-out), ramp up N sockets (FANOUT_BATCH handshakes in flight), then FANOUT_SLOW_RATE bids/s
// for FANOUT_SLOW_SECONDS and FANOUT_FAST_RATE bids/s for FANOUT_FAST_SECONDS (overload: price
// updates may conflate), then a key event (the admin cancels the auction; the bare server
// broadcasts the same) that every socket must get, and every socket must hold the final price.
//
// A gateway process takes at most WS_LIMITS_DEFAULT.socketsMax sockets and a process here may
// hold only `ulimit -n` files: a level above that is measured at the most one gateway process
// holds, with a line saying how many gateway processes the level needs.
//
// Environment: FANOUT_LEVELS (1000,10000,15000,20000), FANOUT_SERVERS (bare,gavel),
// FANOUT_SLOW_RATE (2), FANOUT_SLOW_SECONDS (10), FANOUT_FAST_RATE (10), FANOUT_FAST_SECONDS (5),
// FANOUT_BATCH (500), FANOUT_SOCKETS_PER_CLIENT (8000), FANOUT_MAX_SECONDS (900: the whole run is
// stopped past it), FANOUT_SERVER_PROFILE (a directory: servers run with --cpu-prof).
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WS_LIMITS_DEFAULT } from '../src/gateway/ws.js';
import { SERVER_NODE_FLAGS } from '../src/platform/node-flags.js';
import { childEnv, REPO_ROOT, request as sharedRequest } from '../test/support/process.js';
import { openBenchAuction, usd } from './support.js';
import { SubscriberWorker } from './fanout/workers.js';
import { Histogram, now, type ConnectAnswer, type CountAnswer, type PhaseReport, type WorkerRequest } from './fanout/shared.js';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const LEVELS = (process.env.FANOUT_LEVELS ?? '1000,10000,15000,20000').split(',').map((s) => Number(s.trim()));
const SERVERS = (process.env.FANOUT_SERVERS ?? 'bare,gavel').split(',').map((s) => s.trim()) as ServerKind[];
const SLOW_RATE = num('FANOUT_SLOW_RATE', 2);
const SLOW_SECONDS = num('FANOUT_SLOW_SECONDS', 10);
const FAST_RATE = num('FANOUT_FAST_RATE', 10);
const FAST_SECONDS = num('FANOUT_FAST_SECONDS', 5);
const BATCH = num('FANOUT_BATCH', 500);
const SOCKETS_PER_CLIENT = num('FANOUT_SOCKETS_PER_CLIENT', 8_000);
const MAX_SECONDS = num('FANOUT_MAX_SECONDS', 900);
/** A directory: the server under test runs with --cpu-prof and writes its profile there when it stops. */
const SERVER_PROFILE_DIR = process.env.FANOUT_SERVER_PROFILE;
const MIN_CLIENTS = 2;
const WARMUP_BIDS = 10;
/** Files a process needs besides its sockets: the database, logs, listeners, node's own. */
const FD_RESERVE = 256;
const TARGET = { subscribers: 15_000, p95Ms: 50, cpuRatio: 1.2 } as const;
const READY_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = 30_000;
const KEY_EVENT_TIMEOUT_MS = 30_000;
const ADMIN = { email: 'bench-admin@gavel.test', password: 'bench-admin-password-1' } as const;
const PASSWORD = 'bench-password-long';
const STARTING_CENTS = 1_000; // 10.00 USD
const INCREMENT_CENTS = 100; // a flat 1.00 ladder: bid k is 10.00 + k × 1.00
const BARE_SCRIPT = fileURLToPath(new URL('./fanout/bare-server.ts', import.meta.url));

type ServerKind = 'bare' | 'gavel';

// --- figures ----------------------------------------------------------------------------------

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : String(n));
const ms = (n: number) => fmt(n, n < 10 ? 1 : 0);
const load = () => `load average ${loadavg().map((l) => l.toFixed(2)).join(', ')}`;
const sleep = (t: number) => new Promise<void>((r) => setTimeout(r, t));

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds a process has used so far, all threads: the sum of each thread's time on a CPU
 * from /proc/<pid>/task/<tid>/schedstat (nanoseconds), falling back to utime + stime from
 * /proc/<pid>/stat (clock ticks, 10 ms here: too coarse for a few hundred messages).
 */
function cpuSecondsOf(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    if (Number.isFinite(ns) && ns > 0) return ns / 1e9;
  } catch {
    // a thread ended between the listing and the read, or no schedstat: use the coarse figure
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
}

/** Nanoseconds the process's main thread (its event loop) has spent runnable but waiting for a CPU. */
function cpuWaitNsOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]);
  } catch {
    return NaN;
  }
}

/** Resident memory of a process, in bytes. */
function rssOf(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return kb ? Number(kb[1]) * 1024 : NaN;
}

/** This process's soft limit on open files; children inherit it. */
function openFilesLimit(): number {
  const line = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return line && line[1] !== 'unlimited' ? Number(line[1]) : Infinity;
}

function within<T>(timeoutMs: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// --- HTTP -------------------------------------------------------------------------------------

interface Answer {
  status: number;
  body: any;
  text: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function request(port: number, method: string, path: string, options: { token?: string; json?: unknown } = {}): Promise<Answer> {
  return sharedRequest(`http://127.0.0.1:${port}`, method, path, { ...options, agent, timeoutMs: REQUEST_TIMEOUT_MS });
}

async function ok(port: number, method: string, path: string, status: number, options: { token?: string; json?: unknown } = {}): Promise<any> {
  const res = await request(port, method, path, options);
  if (res.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${res.status}: ${res.text.slice(0, 500)}`);
  return res.body;
}

// --- child processes --------------------------------------------------------------------------

const running = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

interface Server {
  kind: ServerKind;
  child: ChildProcess;
  pid: number;
  port: number;
  logFile: string;
}

/** A server child with its output in a file; resolves once it prints "listening on http://…:<port>". */
async function startServer(kind: ServerKind, dir: string, label: string): Promise<Server> {
  const logFile = join(dir, `${label}.log`);
  const fd = openSync(logFile, 'w');
  const args =
    kind === 'gavel'
      ? [...SERVER_NODE_FLAGS, '--import', 'tsx', 'src/cli.ts', 'start', '--host', '127.0.0.1', '--port', '0', '--data-dir', join(dir, `${label}-data`)]
      : [...SERVER_NODE_FLAGS, '--import', 'tsx', BARE_SCRIPT]; // the baseline runs with the same heap
  // One directory per server: node writes a profile per thread (tsx's loader has its own), named by pid and thread.
  if (SERVER_PROFILE_DIR) args.unshift('--cpu-prof', '--cpu-prof-dir', join(SERVER_PROFILE_DIR, label));
  const env = childEnv({ GAVEL_ADMIN_EMAIL: ADMIN.email, GAVEL_ADMIN_PASSWORD: ADMIN.password });
  // The bare server exits when its stdin closes, i.e. when this process is gone.
  const child = track(spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: [kind === 'bare' ? 'pipe' : 'ignore', fd, fd] }));
  closeSync(fd);
  const began = Date.now();
  while (Date.now() - began < READY_TIMEOUT_MS) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${kind} server exited (code ${child.exitCode}, signal ${child.signalCode}) before listening:\n${tail(logFile)}`);
    const match = /listening on http:\/\/[^:\s]+:(\d+)/.exec(readFileSync(logFile, 'utf8'));
    if (match) return { kind, child, pid: child.pid!, port: Number(match[1]), logFile };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`${kind} server did not listen within ${READY_TIMEOUT_MS} ms:\n${tail(logFile)}`);
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timedOut = await Promise.race([exited.then(() => false), sleep(EXIT_TIMEOUT_MS).then(() => true)]);
  if (timedOut) {
    child.kill('SIGKILL');
    await exited;
  }
}

function tail(file: string, lines = 20): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/** The server log's warnings and errors (pino level ≥ 40); the bare server logs nothing. */
function logProblems(file: string): string {
  const bad = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => Number(/^\{"level":(\d+)/.exec(line)?.[1] ?? 0) >= 40);
  return bad.length ? `${bad.length} warnings/errors in its log; the first: ${bad[0]!.slice(0, 300)}` : 'no warnings or errors in its log';
}

/** A forked client worker and its request/answer channel. */
const askAll = <T>(workers: SubscriberWorker[], message: WorkerRequest, timeoutMs?: number) => Promise.all(workers.map((w) => w.ask<T>(message, timeoutMs)));

async function counts(workers: SubscriberWorker[]): Promise<CountAnswer> {
  const all = await askAll<CountAnswer>(workers, { type: 'count' }, 30_000);
  return all.reduce((a, c) => ({ priceEvents: a.priceEvents + c.priceEvents, keyEvents: a.keyEvents + c.keyEvents, open: a.open + c.open }), { priceEvents: 0, keyEvents: 0, open: 0 });
}

// --- the rooms --------------------------------------------------------------------------------

/** What a bid does on one kind of server, and how the room is set up and ended there. */
interface Room {
  topic: string;
  /** Places bid k (price 10.00 + k × 1.00) and resolves with the HTTP status. */
  bid(k: number): Promise<Answer>;
  /** The status an accepted bid answers (with bids overtaking each other, not every accepted bid moves the price). */
  acceptedStatus: number;
  /** The key event: every subscriber must get it. */
  end(): Promise<void>;
  finalPriceCents(): Promise<number>;
  metrics(): Promise<Record<string, number>>;
}

const priceOf = (k: number) => STARTING_CENTS + k * INCREMENT_CENTS;

async function gavelRoom(server: Server): Promise<Room> {
  const { port } = server;
  const { auctionId, bidders, adminToken } = await openBenchAuction((...args) => ok(port, ...args), { admin: ADMIN, password: PASSWORD, name: 'Fan-out', lotDescription: 'One lot, many watchers', startingCents: STARTING_CENTS, incrementCents: INCREMENT_CENTS, openWithinMs: 10_000 });
  return {
    topic: `auction:${auctionId}`,
    acceptedStatus: 201,
    bid: (k) => request(port, 'POST', `/api/auctions/${auctionId}/bids`, { token: bidders[k % 2]!, json: { amount: usd(priceOf(k)), currency: 'USD' } }),
    end: async () => void (await ok(port, 'POST', `/api/auctions/${auctionId}/cancel`, 200, { token: adminToken, json: { reason: 'fan-out bench over' } })),
    finalPriceCents: async () => Math.round(Number((await ok(port, 'GET', `/api/auctions/${auctionId}`, 200)).live.price) * 100),
    metrics: async () => {
      const text = (await request(port, 'GET', '/metrics')).text;
      const out: Record<string, number> = {};
      for (const m of text.matchAll(/^(gavel_ws_\w+) ([0-9.eE+-]+)$/gm)) out[m[1]!] = Number(m[2]);
      return out;
    },
  };
}

function bareRoom(server: Server): Room {
  const { port } = server;
  return {
    topic: 'auction:0190a000-0000-7000-8000-00000000bare',
    acceptedStatus: 204,
    bid: (k) => request(port, 'POST', '/broadcast', { json: { price: usd(priceOf(k)), minimumNextBid: usd(priceOf(k + 1)), bidCount: k + 1 } }),
    end: async () => void (await ok(port, 'POST', '/cancel', 204, { json: {} })),
    finalPriceCents: async () => Math.round(Number((await ok(port, 'GET', '/last', 200)).price) * 100),
    metrics: async () => ({}),
  };
}

// --- one level, one server ----------------------------------------------------------------------

interface PhaseResult {
  name: string;
  rate: number;
  bids: number;
  /** Bids the server accepted (201 / 204); with bids overtaking each other not every one moves the price. */
  accepted: number;
  /** Distinct price events the server published in the phase (prices any socket saw). */
  published: number;
  refused: Record<string, number>;
  ackMs: number[];
  seconds: number;
  delivered: number;
  expected: number;
  histogram: Histogram;
  /** Per bid: when the last subscriber got it. */
  everyone: Histogram;
  unmatched: number;
  cpuSeconds: number;
  cpuPerMessageUs: number;
  /** The same, less what the bids cost the server with no subscriber (warm-up figure). */
  netCpuPerMessageUs: number;
  serverCpuPercent: number;
  /** % of the phase the server's event loop was runnable but waiting for a CPU. */
  serverWaitPercent: number;
  /** The client workers together: % of a core, and µs per delivered message. */
  clientCpuPercent: number;
  clientCpuPerMessageUs: number;
  pings: number;
  perSocketMin: number;
  perSocketMax: number;
  open: number;
  dropped: number;
  dropCodes: Record<string, number>;
  holdingFinalPrice: number;
  keyEvents: number;
  keyLastMs: number;
  priceEventBytes: number;
  metrics: Record<string, number>;
  load: string;
}

interface RunResult {
  kind: ServerKind;
  subscribers: number;
  connectSeconds: number;
  bytesPerConnection: number;
  rssIdle: number;
  rssWith: number;
  cpuPerBidMs: number;
  /** Median answer to a bid with nobody subscribed. */
  idleAckMs: number;
  phases: PhaseResult[];
}

async function measure(kind: ServerKind, n: number, workers: SubscriberWorker[], dir: string, addresses: () => string): Promise<RunResult> {
  const label = `${kind}-${n}`;
  const server = await startServer(kind, dir, label);
  try {
    const room = kind === 'gavel' ? await gavelRoom(server) : bareRoom(server);
    console.log(`  ${label}: pid ${server.pid} on 127.0.0.1:${server.port}${kind === 'gavel' ? ', embedded SQLite in a temp dir, one timed auction open, 2 funded bidders joined' : ''}; log ${server.logFile}`);
    const sendTimes = new Map<number, number>();
    let k = 0;

    // Warm-up with nobody subscribed: the second half's CPU is what a bid costs without fan-out.
    for (let i = 0; i < WARMUP_BIDS; i++) await room.bid(k++);
    const warmCpu = cpuSecondsOf(server.pid);
    const warmAcks: number[] = [];
    for (let i = 0; i < WARMUP_BIDS; i++) {
      const sent = now();
      const res = await room.bid(k++);
      warmAcks.push(now() - sent);
      if (res.status !== room.acceptedStatus) throw new Error(`warm-up bid: ${res.status} ${res.text.slice(0, 300)}`);
    }
    const cpuPerBidMs = ((cpuSecondsOf(server.pid) - warmCpu) / WARMUP_BIDS) * 1000;
    warmAcks.sort((a, b) => a - b);
    await sleep(500);
    const rssIdle = rssOf(server.pid);

    // Ramp up: each worker keeps its share of BATCH handshakes in flight.
    const shares = workers.map((_, i) => Math.floor(n / workers.length) + (i < n % workers.length ? 1 : 0));
    const url = `ws://127.0.0.1:${server.port}/ws`;
    const connectBegan = performance.now();
    for (const w of workers) w.opened = w.failed = 0;
    const connectProgress = setInterval(() => {
      const opened = workers.reduce((a, w) => a + w.opened, 0);
      const failed = workers.reduce((a, w) => a + w.failed, 0);
      console.log(`  ${label}: connecting ${fmt(opened)}/${fmt(n)} subscribed${failed ? `, ${fmt(failed)} failed` : ''} (${((performance.now() - connectBegan) / 1000).toFixed(1)} s; ${load()})`);
    }, 2000);
    let connected: ConnectAnswer[];
    try {
      connected = await Promise.all(
        workers.map((w, i) => w.ask<ConnectAnswer>({ type: 'connect', url, count: shares[i]!, inFlight: Math.ceil(BATCH / workers.length), localAddress: addresses(), topic: room.topic }, 600_000)),
      );
    } finally {
      clearInterval(connectProgress);
    }
    const connectSeconds = (performance.now() - connectBegan) / 1000;
    const failed = connected.reduce((a, c) => a + c.failed, 0);
    if (failed) throw new Error(`${label}: ${fmt(failed)} of ${fmt(n)} sockets failed to subscribe; the first: ${connected.find((c) => c.firstError)?.firstError}`);
    await sleep(1000);
    const rssWith = rssOf(server.pid);
    const bytesPerConnection = (rssWith - rssIdle) / n;
    console.log(
      `  ${label}: ${fmt(n)} sockets subscribed in ${connectSeconds.toFixed(1)} s (${fmt(n / connectSeconds)}/s, ${BATCH} handshakes in flight); ` +
        `server RSS ${fmt(rssIdle / 2 ** 20)} → ${fmt(rssWith / 2 ** 20)} MiB = ${fmt(bytesPerConnection / 1024, 1)} KiB per connection; a bid without subscribers costs it ${fmt(cpuPerBidMs, 2)} ms CPU and is answered in ${ms(percentileOf(warmAcks, 50))} ms (median of ${WARMUP_BIDS}, one at a time)`,
    );

    const phases: PhaseResult[] = [];
    const phaseSpecs = [
      { name: `${SLOW_RATE} bids/s`, rate: SLOW_RATE, seconds: SLOW_SECONDS },
      { name: `${FAST_RATE} bids/s`, rate: FAST_RATE, seconds: FAST_SECONDS },
    ].filter((p) => p.seconds > 0 && p.rate > 0);
    for (const [index, spec] of phaseSpecs.entries()) {
      const last = index === phaseSpecs.length - 1;
      await askAll(workers, { type: 'phase', name: spec.name });
      const metricsBefore = await room.metrics();
      const before = await counts(workers);
      const cpuBefore = cpuSecondsOf(server.pid);
      const waitBefore = cpuWaitNsOf(server.pid);
      const clientCpuBefore = workers.reduce((a, w) => a + cpuSecondsOf(w.pid), 0);
      const began = performance.now();
      const count = Math.max(1, Math.round(spec.rate * spec.seconds));
      const acks: Array<Promise<Answer & { ms: number }>> = [];
      let acked = 0;
      const ackMs: number[] = [];
      const progress = setInterval(() => {
        void counts(workers)
          .then((c) => {
            const wall = (performance.now() - began) / 1000;
            console.log(`  ${label} @ ${spec.name}: ${wall.toFixed(1)} s, ${acks.length}/${count} bids sent, ${acked} answered, ${fmt(c.priceEvents - before.priceEvents)} price events delivered (${fmt(c.open)} sockets open), server CPU ${fmt(((cpuSecondsOf(server.pid) - cpuBefore) / wall) * 100)} % (${load()})`);
          })
          .catch(() => {});
      }, 2000);
      try {
        for (let i = 0; i < count; i++) {
          const due = began + (i * 1000) / spec.rate;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
          const bidK = k++;
          const sent = now();
          sendTimes.set(priceOf(bidK), sent);
          // A failed request is counted, not thrown: nothing awaits these until the phase ends.
          const answered = room.bid(bidK).catch((error: NodeJS.ErrnoException): Answer => ({ status: 0, body: { code: error.code ?? error.message }, text: error.message }));
          acks.push(
            answered.then((res) => {
              acked += 1;
              const took = now() - sent;
              ackMs.push(took);
              return { ...res, ms: took };
            }),
          );
        }
        const answers = await within(REQUEST_TIMEOUT_MS * 2, `${label}: the bids of ${spec.name} to be answered`, Promise.all(acks));
        // Drained: the deliveries stop growing (or every socket has every price).
        let seen = -1;
        let still = 0;
        const drainBegan = performance.now();
        while (performance.now() - drainBegan < DRAIN_TIMEOUT_MS) {
          const c = await counts(workers);
          still = c.priceEvents === seen ? still + 1 : 0;
          seen = c.priceEvents;
          if (still >= 3) break;
          await sleep(250);
        }
        const seconds = (performance.now() - began) / 1000;
        const cpuSeconds = cpuSecondsOf(server.pid) - cpuBefore;
        const waitSeconds = (cpuWaitNsOf(server.pid) - waitBefore) / 1e9;
        const clientCpuSeconds = workers.reduce((a, w) => a + cpuSecondsOf(w.pid), 0) - clientCpuBefore;
        const metricsAfter = await room.metrics();
        const accepted = answers.filter((a) => a.status === room.acceptedStatus).length;
        const refused: Record<string, number> = {};
        for (const a of answers) {
          if (a.status === room.acceptedStatus) continue;
          const why = `${a.status} ${a.body?.code ?? ''}`.trim();
          refused[why] = (refused[why] ?? 0) + 1;
        }
        let keySent = 0;
        let finalPriceCents = -1;
        if (last) {
          finalPriceCents = await room.finalPriceCents();
          keySent = now();
          await room.end();
          const keyBegan = performance.now();
          for (;;) {
            const c = await counts(workers);
            if (c.keyEvents >= c.open) break;
            if (performance.now() - keyBegan > KEY_EVENT_TIMEOUT_MS) {
              console.log(`  ${label}: only ${fmt(c.keyEvents)} of ${fmt(c.open)} open sockets got the key event within ${KEY_EVENT_TIMEOUT_MS / 1000} s`);
              break;
            }
            await sleep(100);
          }
        }
        const reports = await askAll<PhaseReport>(workers, { type: 'report', sendTimes: [...sendTimes], finalPriceCents }, 120_000);
        const histogram = new Histogram();
        const lastArrival = new Map<number, number>();
        for (const r of reports) {
          histogram.merge({ counts: r.histogram, maxMs: r.maxMs });
          for (const [price, t] of r.lastArrival) if (!(lastArrival.get(price)! >= t)) lastArrival.set(price, t);
        }
        const everyone = new Histogram();
        for (const t of lastArrival.values()) everyone.add(t);
        const delivered = reports.reduce((a, r) => a + r.delivered, 0);
        const open = reports.reduce((a, r) => a + r.open, 0);
        const dropCodes: Record<string, number> = {};
        for (const r of reports) for (const [code, c] of Object.entries(r.dropCodes)) dropCodes[code] = (dropCodes[code] ?? 0) + c;
        const keyLast = Math.max(...reports.map((r) => r.keyArrivalLast));
        const metrics: Record<string, number> = {};
        for (const [name, value] of Object.entries(metricsAfter)) metrics[name] = name.endsWith('_total') ? value - (metricsBefore[name] ?? 0) : value;
        phases.push({
          name: spec.name,
          rate: spec.rate,
          bids: count,
          accepted,
          published: lastArrival.size,
          refused,
          ackMs: ackMs.sort((a, b) => a - b),
          seconds,
          delivered,
          expected: lastArrival.size * n,
          histogram,
          everyone,
          unmatched: reports.reduce((a, r) => a + r.unmatched, 0),
          cpuSeconds,
          cpuPerMessageUs: (cpuSeconds / delivered) * 1e6,
          netCpuPerMessageUs: ((cpuSeconds - (count * cpuPerBidMs) / 1000) / delivered) * 1e6,
          serverCpuPercent: (cpuSeconds / seconds) * 100,
          serverWaitPercent: (waitSeconds / seconds) * 100,
          clientCpuPercent: (clientCpuSeconds / seconds) * 100,
          clientCpuPerMessageUs: (clientCpuSeconds / delivered) * 1e6,
          pings: reports.reduce((a, r) => a + r.pings, 0),
          perSocketMin: Math.min(...reports.map((r) => r.perSocketMin)),
          perSocketMax: Math.max(...reports.map((r) => r.perSocketMax)),
          open,
          dropped: reports.reduce((a, r) => a + r.dropped, 0),
          dropCodes,
          holdingFinalPrice: reports.reduce((a, r) => a + r.holdingFinalPrice, 0),
          keyEvents: last ? reports.reduce((a, r) => a + r.keyEvents, 0) : -1,
          keyLastMs: last && keyLast > 0 ? keyLast - keySent : NaN,
          priceEventBytes: Math.max(...reports.map((r) => r.priceEventBytes)),
          metrics,
          load: load(),
        });
        console.log(`  ${label} @ ${phaseLine(phases.at(-1)!)}`);
      } finally {
        clearInterval(progress);
      }
    }
    await askAll(workers, { type: 'close' }, 60_000);
    console.log(`  ${label}: ${kind === 'gavel' ? logProblems(server.logFile) : 'done'}`);
    return { kind, subscribers: n, connectSeconds, bytesPerConnection, rssIdle, rssWith, cpuPerBidMs, idleAckMs: percentileOf(warmAcks, 50), phases };
  } catch (error) {
    if (server.kind === 'gavel') console.error(`--- last lines of ${server.logFile}:\n${tail(server.logFile)}`);
    throw error;
  } finally {
    await askAll(workers, { type: 'close' }, 60_000).catch(() => {});
    await stopChild(server.child);
  }
}

const pct = (h: Histogram) => `p50 ${ms(h.percentile(50))} p95 ${ms(h.percentile(95))} p99 ${ms(h.percentile(99))} max ${ms(h.maxMs)} ms`;

function phaseLine(p: PhaseResult): string {
  const refused = Object.entries(p.refused).map(([what, c]) => `${c} × ${what}`).join(', ');
  const conflated = p.expected ? 1 - p.delivered / p.expected : NaN;
  const m = p.metrics;
  const gateway = 'gavel_ws_messages_sent_total' in m ? `; gateway: ${fmt(m.gavel_ws_messages_sent_total ?? 0)} sent, ${fmt(m.gavel_ws_messages_conflated_total ?? 0)} conflated in socket queues, ${fmt(m.gavel_ws_events_conflated_total ?? 0)} events conflated before the fan-out, ${fmt(m.gavel_ws_slow_sockets_dropped_total ?? 0)} slow sockets dropped` : '';
  const key = p.keyEvents >= 0 ? `; key event (cancel) reached ${fmt(p.keyEvents)} of ${fmt(p.open)} open sockets, the last ${ms(p.keyLastMs)} ms after it was sent; ${fmt(p.holdingFinalPrice)} of ${fmt(p.open)} sockets hold the final price` : '';
  return (
    `${p.name}: ${p.bids} bids in ${p.seconds.toFixed(1)} s (${p.accepted} accepted${refused ? `, ${refused}` : ''}; answered p50 ${ms(percentileOf(p.ackMs, 50))} p99 ${ms(percentileOf(p.ackMs, 99))} ms), ${p.published} price events published; ` +
    `${fmt(p.delivered)} of ${fmt(p.expected)} deliveries (${fmt(conflated * 100, 1)} % conflated away; per socket ${p.perSocketMin}–${p.perSocketMax}); ` +
    `bid sent → subscriber ${pct(p.histogram)}; → every subscriber ${pct(p.everyone)}; ` +
    `server CPU ${fmt(p.cpuPerMessageUs, 2)} µs per delivered message (${fmt(p.netCpuPerMessageUs, 2)} µs without the bids' own cost), ${fmt(p.serverCpuPercent)} % of a core, its event loop waited for a CPU ${fmt(p.serverWaitPercent)} % of the time; ` +
    `clients ${fmt(p.clientCpuPercent)} % of a core (${fmt(p.clientCpuPerMessageUs, 2)} µs per message)${p.pings ? `; ${fmt(p.pings)} heartbeat pings in the phase` : ''}; ` +
    `${p.dropped ? `${fmt(p.dropped)} sockets dropped (${JSON.stringify(p.dropCodes)})` : 'no socket dropped'}${p.unmatched ? `, ${p.unmatched} deliveries matched no bid` : ''}${gateway}${key}; ` +
    `${fmt(p.priceEventBytes)}-byte event; ${p.load}`
  );
}

function percentileOf(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

// --- main -------------------------------------------------------------------------------------

const fdLimit = openFilesLimit();
const perProcess = Math.min(WS_LIMITS_DEFAULT.socketsMax, fdLimit - FD_RESERVE);
const levels: number[] = [];
console.log(
  `fanout bench: levels ${LEVELS.map((l) => fmt(l)).join(', ')} subscribers on one auction; servers ${SERVERS.join(', ')}; ` +
    `${SLOW_RATE} bids/s for ${SLOW_SECONDS} s, then ${FAST_RATE} bids/s for ${FAST_SECONDS} s; ${BATCH} handshakes in flight; ` +
    `open files per process ${fmt(fdLimit)}, a gateway takes ${fmt(WS_LIMITS_DEFAULT.socketsMax)} sockets: at most ${fmt(perProcess)} subscribers on one gateway process; ${load()}`,
);
for (const n of LEVELS) {
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`FANOUT_LEVELS: "${n}" is not a positive whole number`);
  if (n <= perProcess) {
    if (!levels.includes(n)) levels.push(n);
    continue;
  }
  console.log(
    `  ${fmt(n)} subscribers need ${Math.ceil(n / perProcess)} gateway processes (one holds at most ${fmt(perProcess)}: ` +
      `${perProcess === WS_LIMITS_DEFAULT.socketsMax ? `the gateway's socketsMax` : `${fmt(fdLimit)} open files less ${FD_RESERVE} for the rest`}); ` +
      `fan-out across gateway processes comes with the scale-out work. Measuring ${fmt(perProcess)} instead, the most one gateway process holds.`,
  );
  if (!levels.includes(perProcess)) levels.push(perProcess);
}

const dir = mkdtempSync(join(tmpdir(), 'gavel-bench-fanout-'));
let addressCounter = 0;
/** A fresh loopback source address per connect call: 127.1.x.y. */
const nextAddress = () => {
  const c = addressCounter++;
  return `127.1.${Math.floor(c / 250)}.${(c % 250) + 1}`;
};
let cleaning: Promise<void> | undefined;
const cleanUp = () =>
  (cleaning ??= (async () => {
    await Promise.all([...running].map((child) => stopChild(child, 'SIGKILL').catch(() => {})));
    agent.destroy();
    rmSync(dir, { recursive: true, force: true });
  })());
// On a signal or a crash everything is done synchronously: tsx's wrapper kills this process
// (SIGKILL) shortly after relaying a signal, before an asynchronous clean-up would finish.
const stopNow = (code: number) => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stopNow(130));
process.once('uncaughtException', (error) => {
  console.error(`fanout bench crashed: ${error.stack ?? String(error)}`);
  stopNow(1);
});
const watchdog = setTimeout(() => {
  console.error(`fanout bench: still running after ${MAX_SECONDS} s (FANOUT_MAX_SECONDS): stopping everything`);
  void cleanUp().finally(() => process.exit(1));
}, MAX_SECONDS * 1000);
watchdog.unref();

const results: RunResult[] = [];
const began = performance.now();
try {
  for (const n of levels) {
    const clients = Math.max(MIN_CLIENTS, Math.ceil(n / SOCKETS_PER_CLIENT));
    if (Math.ceil(n / clients) > fdLimit - FD_RESERVE) throw new Error(`${fmt(n)} subscribers over ${clients} client workers exceeds ${fmt(fdLimit)} open files per process`);
    console.log(`\n== ${fmt(n)} subscribers: ${clients} client worker processes of about ${fmt(Math.ceil(n / clients))} sockets each (${((performance.now() - began) / 1000).toFixed(0)} s into the run; ${load()})`);
    const workers = await Promise.all(Array.from({ length: clients }, () => SubscriberWorker.start((script) => track(fork(script, [], { cwd: REPO_ROOT, execArgv: ['--import', 'tsx'], env: childEnv(), serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })))));
    try {
      const clocks = await Promise.all(workers.map((w) => w.clockOffset()));
      console.log(`  clock check: each worker's clock minus this one's ${clocks.map((c) => `${fmt(c.offsetMs, 2)} ± ${fmt(c.uncertaintyMs, 2)}`).join(', ')} ms`);
      if (clocks.some((c) => Math.abs(c.offsetMs) - c.uncertaintyMs > 2)) console.log('  WARNING: the clocks disagree by more than 2 ms; latencies are off by as much');
      for (const kind of SERVERS) results.push(await measure(kind, n, workers, dir, nextAddress));
    } finally {
      await Promise.all(workers.map((w) => stopChild(w.child)));
    }
  }

  // --- summary ------------------------------------------------------------------------------
  console.log(`\nsummary (${((performance.now() - began) / 1000).toFixed(0)} s):`);
  console.log('  server | subscribers | phase | bid → subscriber p50 / p95 / p99 ms | → every subscriber p95 ms | CPU µs per delivered message | delivered | KiB per connection');
  for (const r of results) {
    for (const p of r.phases) {
      console.log(
        `  ${r.kind} | ${fmt(r.subscribers)} | ${p.name} | ${ms(p.histogram.percentile(50))} / ${ms(p.histogram.percentile(95))} / ${ms(p.histogram.percentile(99))} | ${ms(p.everyone.percentile(95))} | ` +
          `${fmt(p.cpuPerMessageUs, 2)} | ${fmt((p.delivered / Math.max(1, p.expected)) * 100, 1)} % | ${fmt(r.bytesPerConnection / 1024, 1)}`,
      );
    }
  }
  const gavelRuns = results.filter((r) => r.kind === 'gavel');
  const headlineRun = gavelRuns.find((r) => r.subscribers === TARGET.subscribers) ?? gavelRuns.filter((r) => r.subscribers <= TARGET.subscribers).at(-1) ?? gavelRuns.at(-1);
  if (headlineRun) {
    const bare = results.find((r) => r.kind === 'bare' && r.subscribers === headlineRun.subscribers);
    const [slow, fast] = headlineRun.phases;
    const [bareSlow] = bare?.phases ?? [];
    const h = slow!.histogram;
    const ratio = bareSlow ? slow!.cpuPerMessageUs / bareSlow.cpuPerMessageUs : NaN;
    // Gavel's heartbeat pings every socket every 15 s; a ping is a frame written like a message.
    const perFrame = (p: PhaseResult) => (p.cpuSeconds / (p.delivered + p.pings)) * 1e6;
    const frameRatio = bareSlow ? perFrame(slow!) / perFrame(bareSlow) : NaN;
    const p95Met = h.percentile(95) <= TARGET.p95Ms;
    const overload = fast
      ? `; at ${fast.name} ${fmt((1 - fast.delivered / Math.max(1, fast.accepted * fast.open)) * 100)} % of price updates conflated (of ${fmt(fast.accepted)} accepted bids × ${fmt(fast.open)} sockets; gateway: ${fmt(fast.metrics.gavel_ws_events_conflated_total ?? 0)} events before the fan-out, ${fmt(fast.metrics.gavel_ws_messages_conflated_total ?? 0)} in socket queues), p95 ${ms(fast.histogram.percentile(95))} ms, ` +
        `key event reached ${fmt(fast.keyEvents)} of ${fmt(fast.open)} sockets, ${fast.dropped + slow!.dropped ? `${fmt(fast.dropped + slow!.dropped)} sockets dropped` : 'no socket dropped'}`
      : '';
    console.log(
      `\nfanout: ${fmt(headlineRun.subscribers)} subscribers at ${slow!.name}: p50 ${ms(h.percentile(50))} ms p95 ${ms(h.percentile(95))} ms p99 ${ms(h.percentile(99))} ms ` +
        `(${headlineRun.subscribers === TARGET.subscribers ? `target p95 ≤ ${TARGET.p95Ms} ms: ${p95Met ? 'met' : 'not met'}` : `the target, p95 ≤ ${TARGET.p95Ms} ms, is at ${fmt(TARGET.subscribers)}`}${bareSlow ? `; bare ws p95 ${ms(bareSlow.histogram.percentile(95))} ms` : ''}), ` +
        `CPU per delivered message ${fmt(slow!.cpuPerMessageUs, 2)} µs` +
        (bareSlow
          ? ` = ${fmt(ratio, 2)}× bare ws (${fmt(bareSlow.cpuPerMessageUs, 2)} µs; target ≤ ${TARGET.cpuRatio}×: ${ratio <= TARGET.cpuRatio ? 'met' : 'not met'}` +
            `${slow!.pings ? `; ${fmt(frameRatio, 2)}× counting its ${fmt(slow!.pings)} heartbeat pings as frames` : ''})`
          : '') +
        `, ${fmt(headlineRun.bytesPerConnection / 1024, 1)} KiB per connection${bare ? ` (bare ws ${fmt(bare.bytesPerConnection / 1024, 1)} KiB)` : ''}${overload}; ${load()}`,
    );
  } else {
    console.log(`\nfanout: no Gavel run (FANOUT_SERVERS=${SERVERS.join(',')}); ${load()}`);
  }
} catch (error) {
  process.exitCode = 1;
  console.error(`fanout bench failed: ${(error as Error).stack ?? String(error)}`);
} finally {
  await cleanUp();
}
