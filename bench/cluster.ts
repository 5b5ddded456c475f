// Gavel scaled out (docs/cluster.md), measured on this machine: fan-out capacity of an api node
// with one and with two api nodes, and failover time when the engine that owns an auction dies.
//
// Processes, all on 127.0.0.1 and all stopped at the end: a nats-server of its own (JetStream, a
// temp store; nats-cluster.ts's NatsNode without a cluster block), a fresh PostgreSQL database on
// the server of the run (test/support/databases.ts, dropped at the end), and `gavel start`
// children: two `engine`, one `worker`, two `api` (api2 holds no subscriber in the one-node
// phase). Subscribers live in bench:fanout's client workers (bench/fanout/clients.ts), one per api
// node in the two-node phase, each connecting from its own loopback address. Every process reads
// one clock. A watchdog shell cleans up if this process is killed.
//
// 0. Warm-up, nobody subscribed: what a bid costs each process (CPU over 50 bids one at a time,
//    less what each spends idle, measured just before).
// 1. Fan-out, twice, the same N sockets on one auction room and the same bids (CLUSTER_BID_RATE
//    bids/s for CLUSTER_BID_SECONDS, over REST on api1, each the minimum next bid):
//    (a) N sockets on api1; (b) N/2 on api1 and N/2 on api2. Per phase: bid sent → price event
//    at each subscriber (p50/p95/p99), CPU seconds of every process over the bidding window
//    (/proc/<pid>/stat), the gateway's counters. An api node's capacity is the deliveries it makes
//    per CPU second, i.e. at 100 % of one core: deliveries ÷ (its CPU − its idle CPU − what the
//    bids it took cost it). On 2 cores everything shares the CPUs, so the two-node/one-node ratio
//    is computed from per-node CPU cost, not from wall-clock throughput.
// 2. Failover, per lease time in CLUSTER_LEASES: bids every CLUSTER_STEADY_MS through api1, one at
//    a time, each retried on 503 (or no answer) with the same Idempotency-Key; between two bids
//    the engine owning the auction (its last 'market lease acquired' line for auction.<id>) is
//    killed with SIGKILL, and the time from the kill to the next 201 is measured. Then a fresh
//    engine starts, so there are always two. CLUSTER_FAILOVERS times per lease time; between lease
//    times both engines stop and the lease bucket's TTL is changed in place (see useLease).
//
// Environment: CLUSTER_SUBSCRIBERS (4000), CLUSTER_BID_RATE (5), CLUSTER_BID_SECONDS (10),
// CLUSTER_LEASES (3000,1000), CLUSTER_FAILOVERS (3), CLUSTER_STEADY_MS (100), CLUSTER_BATCH (500
// handshakes in flight), CLUSTER_MAX_SECONDS (600: everything is stopped past it), CLUSTER_PROFILE
// (a directory: every gavel node runs with --cpu-prof).
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { POSTGRES_ADMIN_URL, scratchStorage, type ScratchStorage } from '../test/support/databases.js';
import { NATS_CLUSTER_AVAILABLE, type NatsNode } from '../test/support/nats-cluster.js';
import { request, type Answer } from '../test/support/process.js';
import { Histogram, now, type ConnectAnswer, type PhaseReport } from './fanout/shared.js';
import { cpuSecondsOf, fmt, openBenchAuction, percentile, sleep, tail, usd } from './support.js';
import { children, cpuWaitSecondsOf, forkTracked, GavelNode, killAllNow, startNatsServer, startWatchdog, usePidDir } from './cluster/nodes.js';
import { merged, SubscriberWorker } from './fanout/workers.js';
import { verifyChain } from '../src/platform/journal/hash-chain.js';

const num = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`${name}: "${process.env[name]}" is not a positive number`);
  return value;
};
const SUBSCRIBERS = Math.round(num('CLUSTER_SUBSCRIBERS', 4_000));
const BID_RATE = num('CLUSTER_BID_RATE', 5);
const BID_SECONDS = num('CLUSTER_BID_SECONDS', 10);
const LEASES = (process.env.CLUSTER_LEASES ?? '3000,1000').split(',').map((s) => Number(s.trim()));
const FAILOVERS = Math.round(num('CLUSTER_FAILOVERS', 3));
const STEADY_MS = num('CLUSTER_STEADY_MS', 100);
const BATCH = Math.round(num('CLUSTER_BATCH', 500));
const MAX_SECONDS = num('CLUSTER_MAX_SECONDS', 600);
/** A directory: every gavel node runs with --cpu-prof and writes its profile under <dir>/<node> when it stops. */
const PROFILE_DIR = process.env.CLUSTER_PROFILE;
const WARMUP_BIDS = 50;
const LEASE_BUCKET = 'gavel_market_leases';
const REALTIME_SUBJECT = 'gavel.realtime.>';
const ADMIN = { email: 'bench-admin@gavel.test', password: 'bench-admin-password-1' } as const;
const PASSWORD = 'bench-password-long';
const STARTING_CENTS = 1_000;
const INCREMENT_CENTS = 100; // a flat 1.00 ladder: bid k is 10.00 + k × 1.00
const REQUEST_TIMEOUT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 30_000;
const FAILOVER_TIMEOUT_MS = 60_000;

for (const lease of LEASES) if (!(Number.isInteger(lease) && lease >= 500 && lease <= 60_000)) throw new Error(`CLUSTER_LEASES: "${lease}" is not a lease time in ms (500–60000)`);

const ms = (n: number) => fmt(n, n < 10 ? 1 : 0);
const load = () => `load average ${loadavg().map((l) => l.toFixed(2)).join(', ')}`;
const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
const pct = (h: Histogram) => `p50 ${ms(h.percentile(50))} / p95 ${ms(h.percentile(95))} / p99 ${ms(h.percentile(99))} ms (max ${ms(h.maxMs)})`;
const began = performance.now();
const elapsed = () => `${((performance.now() - began) / 1000).toFixed(0)} s`;

// --- HTTP -------------------------------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function call(node: GavelNode, method: string, path: string, options: { token?: string; json?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Answer> {
  return request(node.base, method, path, { ...options, agent, timeoutMs: options.timeoutMs ?? REQUEST_TIMEOUT_MS });
}

async function ok(node: GavelNode, method: string, path: string, status: number, options: { token?: string; json?: unknown } = {}): Promise<any> {
  const res = await call(node, method, path, options);
  if (res.status !== status) throw new Error(`${method} ${path} on ${node.name}: expected ${status}, got ${res.status}: ${res.text.slice(0, 500)}`);
  return res.body;
}

/** The gateway's counters (gavel_ws_*) from a node's /metrics. */
async function gatewayCounters(node: GavelNode): Promise<Record<string, number>> {
  const text = (await call(node, 'GET', '/metrics')).text;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(gavel_ws_\w+) ([0-9.eE+-]+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

// --- the cluster --------------------------------------------------------------------------------

const base = mkdtempSync(join(tmpdir(), 'gavel-bench-cluster-'));
usePidDir(join(base, 'pids'));
let storage: ScratchStorage | undefined;
let nats: NatsNode | undefined;
let nc: NatsConnection | undefined;
let watchdog: ReturnType<typeof startWatchdog> | undefined;
const engines: GavelNode[] = [];
const apis: GavelNode[] = [];
let worker: GavelNode | undefined;
let engineCount = 0;
let leaseNow = LEASES[0]!;

function nodeEnv(leaseMs: number): Record<string, string> {
  return {
    DATABASE_URL: storage!.databaseUrl!,
    NATS_URL: nats!.url,
    GAVEL_MARKET_LEASE_MS: String(leaseMs),
    GAVEL_ADMIN_EMAIL: ADMIN.email,
    GAVEL_ADMIN_PASSWORD: ADMIN.password,
    GAVEL_LOG_LEVEL: 'info',
  };
}

async function startEngine(): Promise<GavelNode> {
  const engine = await GavelNode.start(base, `engine${++engineCount}`, 'engine', nodeEnv(leaseNow), PROFILE_DIR);
  engines.push(engine);
  return engine;
}

const natsPid = () => Number(readFileSync(nats!.pidFile, 'utf8').trim());

async function natsVarz(): Promise<{ inMsgs: number; outMsgs: number }> {
  const varz = (await (await fetch(`http://127.0.0.1:${nats!.monitorPort}/varz`, { signal: AbortSignal.timeout(5_000) })).json()) as { in_msgs: number; out_msgs: number };
  return { inMsgs: varz.in_msgs, outMsgs: varz.out_msgs };
}

/** Waits (bounded) until the NATS server no longer lists a client connection of that name. */
async function natsDropped(name: string): Promise<void> {
  const began = performance.now();
  for (;;) {
    const connz = (await (await fetch(`http://127.0.0.1:${nats!.monitorPort}/connz?limit=4096`, { signal: AbortSignal.timeout(5_000) })).json()) as { connections?: Array<{ name?: string }> };
    if (!connz.connections?.some((c) => c.name === name)) return;
    if (performance.now() - began > 10_000) throw new Error(`NATS still lists ${name} 10 s after it died`);
    await sleep(1);
  }
}

/** The live engine whose latest 'market lease acquired' line is for this auction. */
function ownerOf(auctionId: string): GavelNode | undefined {
  let owner: GavelNode | undefined;
  let latest = -1;
  for (const engine of engines) {
    if (!engine.running) continue;
    for (const line of engine.logLines('market lease acquired')) {
      if (line.key === `auction.${auctionId}` && line.time > latest) {
        owner = engine;
        latest = line.time;
      }
    }
  }
  return owner;
}

/** Counts the real-time messages (room events and pushes) engines and workers publish on NATS. */
class RealtimeCounter {
  count = 0;
  private readonly sub: Subscription;
  constructor(connection: NatsConnection) {
    this.sub = connection.subscribe(REALTIME_SUBJECT, { callback: () => void (this.count += 1) });
  }
  stop(): void {
    this.sub.unsubscribe();
  }
}

// --- the market -----------------------------------------------------------------------------------

interface Market {
  auctionId: string;
  topic: string;
  bidders: string[];
  adminToken: string;
}

async function openMarket(api: GavelNode): Promise<Market> {
  const room = await openBenchAuction((...args) => ok(api, ...args), { admin: ADMIN, password: PASSWORD, name: 'Cluster', lotDescription: 'One lot, many watchers, several nodes', startingCents: STARTING_CENTS, incrementCents: INCREMENT_CENTS, openWithinMs: 15_000 });
  return { ...room, topic: `auction:${room.auctionId}` };
}

/** The bid ids of every 201 this bench received: each must be in the journal once (verifyJournal). */
const acknowledged = new Set<string>();

/** Bid k of the ladder: price 10.00 + k × 1.00, by bidder k mod 2, so every bid outbids the last. */
let nextK = 0;
const priceOf = (k: number) => STARTING_CENTS + k * INCREMENT_CENTS;
async function ladderBid(api: GavelNode, market: Market, k: number): Promise<Answer> {
  const res = await call(api, 'POST', `/api/auctions/${market.auctionId}/bids`, { token: market.bidders[k % 2]!, json: { amount: usd(priceOf(k)), currency: 'USD' } }).catch(
    (error: NodeJS.ErrnoException): Answer => ({ status: 0, headers: {}, body: { code: error.code ?? error.message }, text: error.message }),
  );
  if (res.status === 201) acknowledged.add(res.body.bidId);
  return res;
}

/**
 * Ends the sale (the admin cancels it: the full journal is readable once it is over) and checks
 * the journal: one unbroken hash chain, seqs 1..n, and every acknowledged bid in it exactly once,
 * through every failover.
 */
async function verifyJournal(market: Market): Promise<{ ok: boolean; line: string }> {
  const api = apis[0]!;
  let cancelled: Answer | undefined;
  for (let tries = 0; tries < 100 && !(cancelled && cancelled.status === 200); tries++) {
    if (cancelled) await sleep(100);
    cancelled = await call(api, 'POST', `/api/auctions/${market.auctionId}/cancel`, { token: market.adminToken, json: { reason: 'cluster bench over' } });
    if (cancelled.status !== 503 && cancelled.status !== 200) break;
  }
  if (cancelled?.status !== 200) return { ok: false, line: `the admin could not cancel the auction: ${cancelled?.status} ${cancelled?.text.slice(0, 300)}` };
  const replay = await ok(api, 'GET', `/api/auctions/${market.auctionId}/replay`, 200, { token: market.adminToken });
  const entries = replay.entries as Array<{ seq: number; type: string; event: { bidId?: string } }>;
  const chain = verifyChain(replay.entries);
  const unbroken = entries.every((e, i) => e.seq === i + 1);
  const seen = new Map<string, number>();
  for (const e of entries) if (e.type === 'BidAccepted' && e.event.bidId) seen.set(e.event.bidId, (seen.get(e.event.bidId) ?? 0) + 1);
  const missing = [...acknowledged].filter((id) => !seen.has(id));
  const doubled = [...seen].filter(([, n]) => n > 1).length;
  const good = chain.ok && unbroken && missing.length === 0 && doubled === 0;
  return {
    ok: good,
    line:
      `journal of ${fmt(entries.length)} entries: hash chain ${chain.ok ? 'intact' : 'BROKEN'}, seqs ${unbroken ? '1..n unbroken' : 'WITH GAPS'}; ` +
      `${fmt(acknowledged.size)} acknowledged bids: ${missing.length ? `${missing.length} MISSING` : 'every one there'}${doubled ? `, ${doubled} there more than once` : ', none twice'}`,
  };
}

// --- CPU over a window ------------------------------------------------------------------------------

interface Meter {
  label: string;
  pid: number;
}

interface Usage {
  label: string;
  cpuSeconds: number;
  waitSeconds: number;
}

function snapshot(meters: Meter[]): Map<number, { cpu: number; wait: number }> {
  const out = new Map<number, { cpu: number; wait: number }>();
  for (const m of meters) {
    try {
      out.set(m.pid, { cpu: cpuSecondsOf(m.pid), wait: cpuWaitSecondsOf(m.pid) });
    } catch {
      out.set(m.pid, { cpu: NaN, wait: NaN });
    }
  }
  return out;
}

function usageSince(meters: Meter[], before: Map<number, { cpu: number; wait: number }>): Usage[] {
  const after = snapshot(meters);
  return meters.map((m) => ({ label: m.label, cpuSeconds: after.get(m.pid)!.cpu - before.get(m.pid)!.cpu, waitSeconds: after.get(m.pid)!.wait - before.get(m.pid)!.wait }));
}

function meters(workers: SubscriberWorker[]): Meter[] {
  return [
    ...apis.map((a) => ({ label: a.name, pid: a.pid })),
    ...engines.filter((e) => e.running).map((e) => ({ label: e.name, pid: e.pid })),
    { label: 'worker', pid: worker!.pid },
    { label: 'nats-server', pid: natsPid() },
    ...workers.map((w, i) => ({ label: `clients${i + 1}`, pid: w.pid })),
  ];
}

const usageLine = (usage: Usage[], seconds: number) => usage.map((u) => `${u.label} ${fmt((u.cpuSeconds / seconds) * 100)} %${u.waitSeconds / seconds >= 0.05 ? ` (waited ${fmt((u.waitSeconds / seconds) * 100)} %)` : ''}`).join(', ');

// --- warm-up: what a bid costs each process with nobody subscribed ------------------------------------

interface BidCosts {
  /** CPU ms per bid on the api node that takes it (HTTP, auth, the routed call). */
  apiMs: number;
  /**
   * CPU ms on an api node that neither takes the bid nor has a subscriber: relaying the bid's
   * real-time messages to nobody, plus the background work every node does per event (each runs
   * an outbox publisher that polls and competes for its checkpoint); not told apart here.
   */
  relayMs: number;
  engineMs: number;
  workerMs: number;
  natsMs: number;
  realtimeMessagesPerBid: number;
  ackMs: number;
  /** CPU seconds per second each process spends with nothing to do (timers, lease renewals, polling). */
  idle: Record<string, number>;
}

const IDLE_SECONDS = 3;

/**
 * What a bid costs each process with nobody subscribed, less what each spends idle (measured
 * just before over IDLE_SECONDS): bids one at a time on api1, after 10 unmeasured ones.
 */
async function warmUp(market: Market, counter: RealtimeCounter): Promise<BidCosts> {
  const [api1, api2] = apis as [GavelNode, GavelNode];
  for (let i = 0; i < 10; i++) await ladderBid(api1, market, nextK++);
  const owner = ownerOf(market.auctionId);
  if (!owner) throw new Error('no engine logged that it holds the auction');
  const warmMeters = [
    { label: 'api1', pid: api1.pid },
    { label: 'api2', pid: api2.pid },
    { label: 'engine', pid: owner.pid },
    { label: 'worker', pid: worker!.pid },
    { label: 'nats', pid: natsPid() },
  ];
  await sleep(500);
  const idleBefore = snapshot(warmMeters);
  const idleBegan = performance.now();
  await sleep(IDLE_SECONDS * 1000);
  const idleSeconds = (performance.now() - idleBegan) / 1000;
  const idle: Record<string, number> = {};
  for (const u of usageSince(warmMeters, idleBefore)) idle[u.label] = u.cpuSeconds / idleSeconds;

  const before = snapshot(warmMeters);
  const began = performance.now();
  const messagesBefore = counter.count;
  const acks: number[] = [];
  for (let i = 0; i < WARMUP_BIDS; i++) {
    const sent = now();
    const res = await ladderBid(api1, market, nextK++);
    acks.push(now() - sent);
    if (res.status !== 201) throw new Error(`warm-up bid: ${res.status} ${res.text.slice(0, 300)}`);
  }
  await sleep(300); // the pushes after the last bid
  const seconds = (performance.now() - began) / 1000;
  const usage = usageSince(warmMeters, before);
  const messages = counter.count - messagesBefore;
  const busy = (label: string) => usage.find((u) => u.label === label)!.cpuSeconds - idle[label]! * seconds;
  const per = (label: string) => (busy(label) / WARMUP_BIDS) * 1000;
  return {
    apiMs: per('api1'),
    relayMs: per('api2'),
    engineMs: per('engine'),
    workerMs: per('worker'),
    natsMs: per('nats'),
    realtimeMessagesPerBid: messages / WARMUP_BIDS,
    ackMs: median(acks),
    idle,
  };
}

// --- fan-out phases -------------------------------------------------------------------------------------

interface NodeFigures {
  node: string;
  sockets: number;
  delivered: number;
  histogram: Histogram;
  cpuSeconds: number;
  waitSeconds: number;
  bids: number;
  /** CPU less what the bids it took cost it and what it spends idle (warm-up figures). */
  netCpuSeconds: number;
  /** Deliveries per CPU second: what it delivers at 100 % of one core. */
  capacity: number;
  gateway: Record<string, number>;
}

interface FanoutResult {
  name: string;
  sockets: number;
  seconds: number;
  bids: number;
  accepted: number;
  refused: Record<string, number>;
  ackMs: number[];
  delivered: number;
  expected: number;
  /** Distinct prices the sockets saw: a bid that overtook the one before it (both in flight) may only raise its bidder's maximum. */
  published: number;
  subscribesPerSecond: number;
  histogram: Histogram;
  everyone: Histogram;
  perSocketMin: number;
  perSocketMax: number;
  open: number;
  dropped: number;
  holdingFinalPrice: number;
  unmatched: number;
  nodes: NodeFigures[];
  usage: Usage[];
  engineMsPerBid: number;
  realtimeMessages: number;
  natsOutMsgs: number;
  load: string;
}

let addressCounter = 0;
/** A fresh loopback source address per connect call, as bench:fanout does: 127.2.x.y. */
const nextAddress = () => {
  const c = addressCounter++;
  return `127.2.${Math.floor(c / 250)}.${(c % 250) + 1}`;
};

async function fanoutPhase(name: string, market: Market, placement: Array<{ worker: SubscriberWorker; node: GavelNode; sockets: number }>, costs: BidCosts, counter: RealtimeCounter): Promise<FanoutResult> {
  const api1 = apis[0]!;
  const workers = placement.map((p) => p.worker);
  const total = placement.reduce((a, p) => a + p.sockets, 0);
  const nodesUsed = [...new Set(placement.map((p) => p.node))];
  console.log(`\n== ${name}: ${nodesUsed.map((n) => `${fmt(placement.filter((p) => p.node === n).reduce((a, p) => a + p.sockets, 0))} sockets on ${n.name}`).join(', ')} (${elapsed()} into the run; ${load()})`);

  const roomSeq = (await ok(apis[0]!, 'GET', `/api/auctions/${market.auctionId}`, 200)).live.seq as number;
  const connectMeters = nodesUsed.map((n) => ({ label: n.name, pid: n.pid }));
  const connectCpu = snapshot(connectMeters);
  const connectBegan = performance.now();
  for (const w of workers) w.opened = w.failed = 0;
  const progress = setInterval(() => {
    const opened = workers.reduce((a, w) => a + w.opened, 0);
    console.log(`  connecting ${fmt(opened)}/${fmt(total)} subscribed (${((performance.now() - connectBegan) / 1000).toFixed(1)} s; ${load()})`);
  }, 3000);
  let connected: ConnectAnswer[];
  try {
    connected = await Promise.all(placement.map((p) => p.worker.connect(`ws://127.0.0.1:${p.node.port}/ws`, p.sockets, Math.ceil(BATCH / placement.length), nextAddress(), market.topic)));
  } finally {
    clearInterval(progress);
  }
  const failed = connected.reduce((a, c) => a + c.failed, 0);
  if (failed) throw new Error(`${name}: ${fmt(failed)} of ${fmt(total)} sockets failed to subscribe; the first: ${connected.find((c) => c.firstError)?.firstError}`);
  const connectSeconds = (performance.now() - connectBegan) / 1000;
  // An api node without the auction's engine serves each subscribe from storage: it reads the
  // auction's journal and replays it (AuctionsService.roomCatchUp), so the cost grows with the journal.
  const subscribeCost = usageSince(connectMeters, connectCpu).map((u) => {
    const sockets = placement.filter((p) => p.node.name === u.label).reduce((a, p) => a + p.sockets, 0);
    return `${u.label} ${fmt((u.cpuSeconds / sockets) * 1000, 2)} ms CPU per subscribe`;
  });
  console.log(`  ${fmt(total)} sockets subscribed in ${connectSeconds.toFixed(1)} s (${fmt(total / connectSeconds)}/s; the room's journal at seq ${roomSeq}; ${subscribeCost.join(', ')})`);
  await sleep(1500);

  await Promise.all(workers.map((w) => w.ask({ type: 'phase', name })));
  const countersBefore = await Promise.all(apis.map(gatewayCounters));
  const allMeters = meters(workers);
  const owner = ownerOf(market.auctionId);
  const varzBefore = await natsVarz();
  const messagesBefore = counter.count;
  const before = snapshot(allMeters);
  const windowBegan = performance.now();

  const count = Math.max(1, Math.round(BID_RATE * BID_SECONDS));
  const sendTimes = new Map<number, number>();
  const answers: Array<Promise<Answer & { ms: number }>> = [];
  let answered: Array<Answer & { ms: number }> = [];
  const ticker = setInterval(() => {
    void Promise.all(workers.map((w) => w.count()))
      .then((cs) => console.log(`  ${((performance.now() - windowBegan) / 1000).toFixed(1)} s: ${answers.length}/${count} bids sent, ${fmt(cs.reduce((a, c) => a + c.priceEvents, 0))} price events delivered in all (${load()})`))
      .catch(() => {});
  }, 2500);
  try {
    for (let i = 0; i < count; i++) {
      const wait = windowBegan + (i * 1000) / BID_RATE - performance.now();
      if (wait > 0) await sleep(wait);
      const k = nextK++;
      const sent = now();
      sendTimes.set(priceOf(k), sent);
      answers.push(ladderBid(api1, market, k).then((res) => ({ ...res, ms: now() - sent })));
    }
    answered = await Promise.all(answers);
    // Drained: deliveries stop growing.
    let seen = -1;
    let still = 0;
    const drainBegan = performance.now();
    while (performance.now() - drainBegan < DRAIN_TIMEOUT_MS && still < 3) {
      const delivered = (await Promise.all(workers.map((w) => w.count()))).reduce((a, c) => a + c.priceEvents, 0);
      still = delivered === seen ? still + 1 : 0;
      seen = delivered;
      await sleep(250);
    }
  } finally {
    clearInterval(ticker);
  }
  const seconds = (performance.now() - windowBegan) / 1000;
  const usage = usageSince(allMeters, before);
  const varzAfter = await natsVarz();
  const realtimeMessages = counter.count - messagesBefore;
  const countersAfter = await Promise.all(apis.map(gatewayCounters));
  const finalPriceCents = Math.round(Number((await ok(api1, 'GET', `/api/auctions/${market.auctionId}`, 200)).live.price) * 100);
  const reports = await Promise.all(workers.map((w) => w.ask<PhaseReport>({ type: 'report', sendTimes: [...sendTimes], finalPriceCents })));
  await Promise.all(workers.map((w) => w.ask({ type: 'close' }, 60_000)));

  const accepted = answered.filter((a) => a.status === 201).length;
  const refused: Record<string, number> = {};
  for (const a of answered) if (a.status !== 201) refused[`${a.status} ${a.body?.code ?? ''}`.trim()] = (refused[`${a.status} ${a.body?.code ?? ''}`.trim()] ?? 0) + 1;
  const all = merged(reports);
  const lastArrival = new Map<number, number>();
  for (const r of reports) for (const [price, t] of r.lastArrival) if (!(lastArrival.get(price)! >= t)) lastArrival.set(price, t);
  const everyone = new Histogram();
  for (const t of lastArrival.values()) everyone.add(t);

  const nodeFigures: NodeFigures[] = nodesUsed.map((node) => {
    const mine = placement.map((p, i) => (p.node === node ? reports[i]! : undefined)).filter((r): r is PhaseReport => r !== undefined);
    const m = merged(mine);
    const use = usage.find((u) => u.label === node.name)!;
    const bids = node === api1 ? count : 0;
    const netCpuSeconds = use.cpuSeconds - (bids * costs.apiMs) / 1000 - (costs.idle[node.name] ?? 0) * seconds;
    const i = apis.indexOf(node);
    const gateway: Record<string, number> = {};
    for (const [key, value] of Object.entries(countersAfter[i]!)) gateway[key] = key.endsWith('_total') ? value - (countersBefore[i]![key] ?? 0) : value;
    return {
      node: node.name,
      sockets: placement.filter((p) => p.node === node).reduce((a, p) => a + p.sockets, 0),
      delivered: m.delivered,
      histogram: m.histogram,
      cpuSeconds: use.cpuSeconds,
      waitSeconds: use.waitSeconds,
      bids,
      netCpuSeconds,
      capacity: m.delivered / netCpuSeconds,
      gateway,
    };
  });
  const ownerUse = owner ? usage.find((u) => u.label === owner.name) : undefined;
  const result: FanoutResult = {
    name,
    sockets: total,
    seconds,
    bids: count,
    accepted,
    refused,
    ackMs: answered.map((a) => a.ms).sort((a, b) => a - b),
    delivered: all.delivered,
    expected: lastArrival.size * total,
    published: lastArrival.size,
    subscribesPerSecond: total / connectSeconds,
    histogram: all.histogram,
    everyone,
    perSocketMin: all.perSocketMin,
    perSocketMax: all.perSocketMax,
    open: all.open,
    dropped: all.dropped,
    holdingFinalPrice: reports.reduce((a, r) => a + r.holdingFinalPrice, 0),
    unmatched: all.unmatched,
    nodes: nodeFigures,
    usage,
    engineMsPerBid: ownerUse ? (ownerUse.cpuSeconds / Math.max(1, accepted)) * 1000 : NaN,
    realtimeMessages,
    natsOutMsgs: varzAfter.outMsgs - varzBefore.outMsgs,
    load: load(),
  };
  printFanout(result);
  return result;
}

function printFanout(r: FanoutResult): void {
  const refused = Object.entries(r.refused).map(([what, c]) => `${c} × ${what}`).join(', ');
  console.log(
    `  ${r.bids} bids in ${BID_SECONDS} s (${r.accepted} accepted${refused ? `, ${refused}` : ''}; answered p50 ${ms(percentile(r.ackMs, 50))} / p99 ${ms(percentile(r.ackMs, 99))} ms); ` +
      `${r.published} price events published (distinct prices); ${fmt(r.delivered)} of ${fmt(r.expected)} delivered (per socket ${r.perSocketMin}–${r.perSocketMax}); ${fmt(r.holdingFinalPrice)} of ${fmt(r.open)} sockets hold the final price; ` +
      `${r.dropped ? `${fmt(r.dropped)} sockets dropped` : 'no socket dropped'}${r.unmatched ? `, ${r.unmatched} deliveries matched no bid` : ''}`,
  );
  console.log(`  bid sent → subscriber, all sockets: ${pct(r.histogram)}; → every subscriber (per bid): p95 ${ms(r.everyone.percentile(95))} ms`);
  for (const n of r.nodes) {
    const g = n.gateway;
    console.log(
      `  ${n.node}: ${fmt(n.sockets)} sockets, ${pct(n.histogram)}; ${fmt(n.delivered / BID_SECONDS)} deliveries/s; CPU ${fmt(n.cpuSeconds, 2)} s (waited for a CPU ${fmt(n.waitSeconds, 2)} s) = ` +
        `${fmt((n.cpuSeconds / n.delivered) * 1e6, 2)} µs per delivery, ${fmt((n.netCpuSeconds / n.delivered) * 1e6, 2)} µs less its idle CPU${n.bids ? ` and the ${n.bids} bids it took` : ''} → capacity ${fmt(n.capacity)} deliveries/s at 100 % of a core; ` +
        `gateway: ${fmt(g.gavel_ws_messages_sent_total ?? 0)} sent, ${fmt(g.gavel_ws_events_conflated_total ?? 0)} events conflated before the fan-out, ${fmt(g.gavel_ws_messages_conflated_total ?? 0)} in socket queues`,
    );
  }
  console.log(`  CPU over the ${r.seconds.toFixed(1)} s window: ${usageLine(r.usage, r.seconds)}; the owning engine ${fmt(r.engineMsPerBid, 2)} ms per accepted bid`);
  console.log(`  NATS: ${fmt(r.realtimeMessages)} real-time messages published (${fmt(r.realtimeMessages / Math.max(1, r.accepted), 1)} per accepted bid), ${fmt(r.natsOutMsgs)} messages out of the server in all; ${r.load}`);
}

// --- failover ----------------------------------------------------------------------------------------

interface Attempt {
  sentAt: number;
  answeredAt: number;
  status: number;
}

/** Bids one at a time every `everyMs` on one api node, each retried on 503 / no answer with the same key. */
class SteadyBidder {
  readonly attempts: Attempt[] = [];
  readonly accepted: Attempt[] = [];
  private stopped = false;
  private action: { run: () => Promise<void>; resolve: (at: number) => void } | undefined;
  private done: Promise<void> | undefined;
  private leader = -1;
  private amount = '';

  constructor(
    private readonly api: GavelNode,
    private readonly market: Market,
    private readonly everyMs: number,
    private readonly keyPrefix: string,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Runs `run` right after the next answer, while no bid is in flight, and bids on once it is done; resolves with when it began. */
  between(run: () => Promise<void>): Promise<number> {
    return new Promise((resolve) => (this.action = { run, resolve }));
  }

  private async afterAnswer(): Promise<void> {
    const action = this.action;
    if (!action) return;
    this.action = undefined;
    const at = now();
    await action.run().catch((error) => console.error(`  ${(error as Error).message}`));
    action.resolve(at);
  }

  private async refresh(bidder: number): Promise<void> {
    const page = await call(this.api, 'GET', `/api/auctions/${this.market.auctionId}`, { token: this.market.bidders[bidder]! }).catch(() => undefined);
    if (page?.status !== 200) return;
    this.amount = page.body.live.minimumNextBid;
    if (page.body.me?.leading) this.leader = bidder;
  }

  private async loop(): Promise<void> {
    await this.refresh(0);
    await this.refresh(1);
    let n = 0;
    let slot = performance.now();
    while (!this.stopped) {
      const bidder = this.leader === 0 ? 1 : 0;
      const key = `${this.keyPrefix}-${n++}`;
      for (;;) {
        const sentAt = now();
        const res = await call(this.api, 'POST', `/api/auctions/${this.market.auctionId}/bids`, {
          token: this.market.bidders[bidder]!,
          json: { amount: this.amount, currency: 'USD' },
          headers: { 'idempotency-key': key },
          timeoutMs: 15_000,
        }).catch((): Answer => ({ status: 0, headers: {}, body: undefined, text: '' }));
        const attempt = { sentAt, answeredAt: now(), status: res.status };
        this.attempts.push(attempt);
        await this.afterAnswer();
        if (res.status === 201) {
          this.accepted.push(attempt);
          acknowledged.add(res.body.bidId);
          this.amount = res.body.auction.minimumNextBid;
          this.leader = bidder;
          break;
        }
        if ((res.status === 503 || res.status === 0 || res.body?.code === 'IDEMPOTENCY_IN_PROGRESS') && !this.stopped) {
          await sleep(this.everyMs);
          continue;
        }
        await this.refresh(bidder); // a refusal (someone moved the price, or this bidder leads): learn the price
        break;
      }
      slot += this.everyMs;
      const wait = slot - performance.now();
      if (wait > 0) await sleep(wait);
      else slot = performance.now();
    }
  }
}

interface FailoverResult {
  leaseMs: number;
  killed: string;
  survivor: string;
  /** Kill → the survivor logged that it took the auction's lease (its log's clock). */
  leaseTakenMs: number;
  /** Kill → the first 201 for a bid sent after the kill. */
  nextAcceptedMs: number;
  refusedMeanwhile: number;
  /** Kill → the NATS server no longer lists the engine's connection. */
  natsDroppedMs: number;
}

async function useLease(leaseMs: number): Promise<void> {
  if (leaseMs === leaseNow && engines.filter((e) => e.running).length === 2) return;
  // The bucket's TTL is the lease time and engines refuse a bucket with another one. Deleting the
  // bucket would restart its sequence, and with it the fencing tokens: every new owner would then
  // be fenced out by the higher tokens already recorded in storage. So the stream is updated in
  // place while no engine runs, and the tokens keep growing.
  console.log(`  lease ${fmt(leaseMs)} ms: the engines stop (SIGTERM gives the leases back), the lease bucket's TTL is set to ${fmt(leaseMs)} ms in place, two engines start with GAVEL_MARKET_LEASE_MS=${leaseMs}`);
  await Promise.all(engines.map((e) => e.stop('SIGTERM')));
  const jsm = await jetstreamManager(nc!);
  const ns = leaseMs * 1e6;
  await jsm.streams.update(`KV_${LEASE_BUCKET}`, { max_age: ns, duplicate_window: ns });
  leaseNow = leaseMs;
  await Promise.all([startEngine(), startEngine()]);
}

async function failovers(market: Market, leaseMs: number): Promise<FailoverResult[]> {
  console.log(`\n== failover, lease ${fmt(leaseMs)} ms (${elapsed()} into the run; ${load()})`);
  await useLease(leaseMs);
  const bidder = new SteadyBidder(apis[0]!, market, STEADY_MS, `failover-${leaseMs}`);
  bidder.start();
  const results: FailoverResult[] = [];
  try {
    const ready = performance.now();
    while (bidder.accepted.length < 5) {
      if (performance.now() - ready > FAILOVER_TIMEOUT_MS) throw new Error(`no bid accepted within ${FAILOVER_TIMEOUT_MS / 1000} s of the engines starting`);
      await sleep(100);
    }
    for (let i = 1; i <= FAILOVERS; i++) {
      await sleep(2_000);
      const owner = ownerOf(market.auctionId);
      if (!owner) throw new Error('no live engine logged that it holds the auction');
      let killedAtEpoch = 0;
      let natsDroppedMs = NaN;
      const exited = new Promise<void>((resolve) => owner.child.once('exit', () => resolve()));
      const attemptsBefore = bidder.attempts.length;
      // The next bid goes out once NATS has dropped the dead engine's connection (37–131 ms here,
      // with the exit and the polling of /connz): a request routed to it before that waits for the
      // router's 10 s timeout. That time counts: it runs from the kill.
      const killedAt = await bidder.between(async () => {
        killedAtEpoch = Date.now();
        owner.child.kill('SIGKILL');
        const t0 = performance.now();
        await exited;
        await natsDropped(`gavel-${owner.pid}`);
        natsDroppedMs = performance.now() - t0;
      });
      const waitBegan = performance.now();
      let next: Attempt | undefined;
      while (!(next = bidder.accepted.find((a) => a.sentAt >= killedAt))) {
        if (performance.now() - waitBegan > FAILOVER_TIMEOUT_MS) throw new Error(`no bid accepted within ${FAILOVER_TIMEOUT_MS / 1000} s of killing ${owner.name}`);
        await sleep(20);
      }
      const survivor = ownerOf(market.auctionId);
      const taken = survivor?.logLines('market lease acquired').find((l) => l.key === `auction.${market.auctionId}` && l.time >= killedAtEpoch);
      const refusedMeanwhile = bidder.attempts.slice(attemptsBefore).filter((a) => a.status !== 201 && a.sentAt < next!.sentAt).length;
      const result: FailoverResult = {
        leaseMs,
        killed: owner.name,
        survivor: survivor?.name ?? '?',
        leaseTakenMs: taken ? taken.time - killedAtEpoch : NaN,
        nextAcceptedMs: next.answeredAt - killedAt,
        refusedMeanwhile,
        natsDroppedMs,
      };
      results.push(result);
      console.log(
        `  ${i}: SIGKILL ${result.killed} (the owner) → NATS dropped its connection ${ms(result.natsDroppedMs)} ms later → ${result.survivor} logged the lease ${ms(result.leaseTakenMs)} ms later → next accepted bid ${ms(result.nextAcceptedMs)} ms after the kill ` +
          `(${result.refusedMeanwhile} attempts answered 503 or not at all in between); ${load()}`,
      );
      const fresh = await startEngine();
      console.log(`     ${fresh.name} started as the standby`);
    }
  } finally {
    await bidder.stop();
  }
  const statuses: Record<string, number> = {};
  for (const a of bidder.attempts) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  console.log(`  steady bidder: ${bidder.accepted.length} accepted; attempts by status ${JSON.stringify(statuses)}`);
  return results;
}

// --- clean-up ------------------------------------------------------------------------------------------

let cleaning: Promise<void> | undefined;
const cleanUp = () =>
  (cleaning ??= (async () => {
    await Promise.all([...apis, ...engines, ...(worker ? [worker] : [])].map((n) => n.stop('SIGTERM').catch(() => {})));
    killAllNow();
    await nc?.close().catch(() => {});
    await nats?.kill().catch(() => nats?.killNow());
    await storage?.drop().catch((error) => console.error(`could not drop the bench database: ${(error as Error).message}`));
    agent.destroy();
    rmSync(base, { recursive: true, force: true });
    watchdog?.kill('SIGKILL');
  })());
// On a signal, a crash or the deadline: children die now, synchronously; the watchdog drops the
// database and removes the files once this process is gone.
const stopNow = (code: number) => {
  killAllNow();
  nats?.killNow();
  process.exit(code);
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`cluster bench: ${signal}: stopping everything (the watchdog drops the database)`);
    stopNow(130);
  });
}
process.once('uncaughtException', (error) => {
  console.error(`cluster bench crashed: ${error.stack ?? String(error)}`);
  stopNow(1);
});
setTimeout(() => {
  console.error(`cluster bench: still running after ${MAX_SECONDS} s (CLUSTER_MAX_SECONDS): stopping everything`);
  stopNow(1);
}, MAX_SECONDS * 1000).unref();

// --- main ------------------------------------------------------------------------------------------------

console.log(
  `cluster bench: ${fmt(SUBSCRIBERS)} subscribers on one auction room, ${BID_RATE} bids/s for ${BID_SECONDS} s, on 1 then 2 api nodes; failover × ${FAILOVERS} per lease time ${LEASES.map((l) => `${fmt(l)} ms`).join(', ')}, ` +
    `a bid every ${STEADY_MS} ms; ${cpus().length} cores; ${new Date().toISOString()}; ${load()}`,
);
try {
  if (!NATS_CLUSTER_AVAILABLE) throw new Error('nats-server is not on PATH');
  storage = await scratchStorage('postgres').catch((error: Error) => {
    throw new Error(`no PostgreSQL database at ${POSTGRES_ADMIN_URL}: ${error.message}`);
  });
  nats = await startNatsServer(join(base, 'nats'));
  watchdog = startWatchdog({ pidDir: join(base, 'pids'), adminUrl: POSTGRES_ADMIN_URL, database: new URL(storage.databaseUrl!).pathname.slice(1), dirs: [base, storage.dataDir] });
  nc = await connectNats({ servers: nats.url, timeout: 5_000 });
  const counter = new RealtimeCounter(nc);

  // The first node creates the schema; the rest start together.
  const setUpBegan = performance.now();
  await startEngine();
  const [, api1, api2, workerNode] = await Promise.all([
    startEngine(),
    GavelNode.start(base, 'api1', 'api', nodeEnv(leaseNow), PROFILE_DIR),
    GavelNode.start(base, 'api2', 'api', nodeEnv(leaseNow), PROFILE_DIR),
    GavelNode.start(base, 'worker', 'worker', nodeEnv(leaseNow), PROFILE_DIR),
  ]);
  apis.push(api1, api2);
  worker = workerNode;
  console.log(
    `  nats-server pid ${natsPid()} at ${nats.url}; PostgreSQL database ${new URL(storage.databaseUrl!).pathname.slice(1)}; ` +
      `${[...engines, ...apis, worker].map((n) => `${n.name} (${n.role}) pid ${n.pid}`).join(', ')}; started in ${((performance.now() - setUpBegan) / 1000).toFixed(1)} s; logs in ${base}`,
  );
  const market = await openMarket(api1);
  console.log(`  auction ${market.auctionId} open (owned by ${ownerOf(market.auctionId)?.name ?? '?'}), 2 funded bidders joined`);

  const costs = await warmUp(market, counter);
  console.log(
    `  a bid with nobody subscribed (${WARMUP_BIDS}, one at a time, answered in a median ${ms(costs.ackMs)} ms) costs: api1 ${fmt(costs.apiMs, 2)} ms CPU, the owning engine ${fmt(costs.engineMs, 2)} ms, ` +
      `the worker ${fmt(costs.workerMs, 2)} ms, nats-server ${fmt(costs.natsMs, 2)} ms; it publishes ${fmt(costs.realtimeMessagesPerBid, 1)} real-time messages; api2, with no request and no subscriber, ` +
      `spends ${fmt(costs.relayMs, 2)} ms (relaying them to nobody, and the outbox publisher every node runs); all less their idle CPU: ${Object.entries(costs.idle).map(([k, v]) => `${k} ${fmt(v * 100, 1)} %`).join(', ')} of a core`,
  );

  const workers = await Promise.all([SubscriberWorker.start(forkTracked), SubscriberWorker.start(forkTracked)]);
  const clocks = await Promise.all(workers.map((w) => w.clockOffset()));
  console.log(`  clock check: each client worker's clock minus this one's ${clocks.map((c) => `${fmt(c.offsetMs, 2)} ± ${fmt(c.uncertaintyMs, 2)}`).join(', ')} ms`);
  const half = Math.floor(SUBSCRIBERS / 2);
  const one = await fanoutPhase('(a) one api node', market, [
    { worker: workers[0]!, node: api1, sockets: half },
    { worker: workers[1]!, node: api1, sockets: SUBSCRIBERS - half },
  ], costs, counter);
  const two = await fanoutPhase('(b) two api nodes', market, [
    { worker: workers[0]!, node: api1, sockets: half },
    { worker: workers[1]!, node: api2, sockets: SUBSCRIBERS - half },
  ], costs, counter);
  await Promise.all(workers.map((w) => w.stop()));

  const failoverResults: FailoverResult[] = [];
  for (const lease of LEASES) failoverResults.push(...(await failovers(market, lease)));
  counter.stop();
  const journal = await verifyJournal(market);
  console.log(`\n  ${journal.ok ? '' : 'FAILED: '}${journal.line}`);
  if (!journal.ok) process.exitCode = 1;

  // --- summary ---------------------------------------------------------------------------------------
  const onlyApi = one.nodes[0]!;
  const twoCapacity = two.nodes.reduce((a, n) => a + n.capacity, 0);
  const ratio = twoCapacity / onlyApi.capacity;
  const grossRatio = two.nodes.reduce((a, n) => a + n.delivered / n.cpuSeconds, 0) / (onlyApi.delivered / onlyApi.cpuSeconds);
  console.log(`\nsummary (${elapsed()}):`);
  console.log('  phase | api node | sockets | bid → subscriber p50 / p95 / p99 ms | deliveries/s | api CPU ms per 1,000 deliveries (less idle and bids) | capacity, deliveries/s per core (from all its CPU)');
  for (const r of [one, two]) {
    for (const n of r.nodes) {
      console.log(
        `  ${r.name} | ${n.node} | ${fmt(n.sockets)} | ${ms(n.histogram.percentile(50))} / ${ms(n.histogram.percentile(95))} / ${ms(n.histogram.percentile(99))} | ${fmt(n.delivered / BID_SECONDS)} | ` +
          `${fmt((n.cpuSeconds / n.delivered) * 1e6, 1)} (${fmt((n.netCpuSeconds / n.delivered) * 1e6, 1)}) | ${fmt(n.capacity)} (${fmt(n.delivered / n.cpuSeconds)})`,
      );
    }
  }
  console.log(`  per lease time: failover (owner engine SIGKILL → next accepted bid), ms`);
  for (const lease of LEASES) {
    const rs = failoverResults.filter((r) => r.leaseMs === lease);
    console.log(`  lease ${fmt(lease)} ms | next accepted bid ${rs.map((r) => ms(r.nextAcceptedMs)).join(', ')} (median ${ms(median(rs.map((r) => r.nextAcceptedMs)))}) | lease taken ${rs.map((r) => ms(r.leaseTakenMs)).join(', ')}`);
  }
  for (const n of [...apis, ...engines, worker]) console.log(`  ${n.name} log: ${n.problems()}`);

  const perNode = (n: NodeFigures) => `${n.node} ${fmt(n.sockets)} sockets p95 ${ms(n.histogram.percentile(95))} ms, ${fmt(n.delivered / BID_SECONDS)} deliveries/s, ${fmt((n.netCpuSeconds / n.delivered) * 1e6, 1)} ms CPU per 1,000 → ${fmt(n.capacity)}/s per core`;
  console.log(
    `\ncluster: fan-out of one room at ${BID_RATE} bids/s, ${fmt(SUBSCRIBERS)} subscribers — one api node: ${perNode(onlyApi)}; two api nodes: ${two.nodes.map(perNode).join('; ')}; ` +
      `total fan-out capacity two nodes ÷ one = ${fmt(ratio, 2)}× (${fmt(grossRatio, 2)}× counting all their CPU; from per-node CPU cost per delivery: the nodes share this machine's ${cpus().length} cores; raw p95 all sockets ${ms(one.histogram.percentile(95))} → ${ms(two.histogram.percentile(95))} ms); ` +
      `an api node with no subscriber still spends ${fmt(costs.relayMs, 2)} ms CPU per bid placed anywhere in the cluster; ` +
      `failover, owner engine SIGKILL → next accepted bid: ${LEASES.map((lease) => {
        const rs = failoverResults.filter((r) => r.leaseMs === lease).map((r) => r.nextAcceptedMs);
        return `lease ${fmt(lease)} ms median ${ms(median(rs))} ms (${rs.map(ms).join(', ')})`;
      }).join(', ')}, ${journal.ok ? `every one of the ${fmt(acknowledged.size)} acknowledged bids in the journal once` : 'JOURNAL CHECK FAILED'}; ${load()}`,
  );
} catch (error) {
  process.exitCode = 1;
  console.error(`cluster bench failed: ${(error as Error).stack ?? String(error)}`);
  for (const n of [...apis, ...engines, ...(worker ? [worker] : [])]) console.error(`--- the last lines of ${n.name}'s log:\n${tail(n.logFile, 8)}`);
} finally {
  await cleanUp();
  if (children.size) console.error(`${children.size} children still running after the clean-up`);
}
