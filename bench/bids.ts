// Accepted bids per second over many concurrent timed auctions, with the acknowledgement
// latency a bidder sees: POST /api/auctions/{id}/bids sent → 201 received (the bid is journaled
// and its funds held). Gavel runs as a child process (embedded SQLite, a fresh temp data dir),
// so this load generator does not share the server's event loop; everything goes through the
// HTTP API over keep-alive connections. A baseline in the same run (the same clients on GET /up,
// then on an authenticated auction page) shows the HTTP stack's own ceiling beside the figure.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, cpuSecondsOf, fmt, forEach, load, logSummary, openTimedAuctions, percentile, sleep, startServer, stopServer, tail, usd, type Server } from './support.js';

const SECONDS = Number(process.env.BIDS_SECONDS ?? 20);
const MAX_BIDS = Number(process.env.BIDS_MAX ?? 200_000);
const CONCURRENCY = Number(process.env.BIDS_CONCURRENCY ?? 200);
const AUCTIONS = Number(process.env.BIDS_AUCTIONS ?? 100);
const BIDDERS = Number(process.env.BIDS_BIDDERS ?? CONCURRENCY);
/** How many of the auctions each bidder joins (and bids on). */
const JOINS = Math.min(AUCTIONS, Number(process.env.BIDS_JOINS ?? 10));
const BASELINE_SECONDS = Number(process.env.BIDS_BASELINE_SECONDS ?? 5);
/** Passed to the server as GAVEL_LOG_LEVEL; unset: the server's default (info, a line per request). */
const LOG_LEVEL = process.env.BIDS_LOG_LEVEL;
/** A directory: the server runs with --cpu-prof and writes its profile there when it stops. */
const SERVER_PROFILE_DIR = process.env.BIDS_SERVER_PROFILE;
const MAX_ERRORS = 100;
const SETUP_IN_FLIGHT = 16;
const JOINS_IN_FLIGHT = 64;
const READY_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 30_000;
const ADMIN = { email: 'bench-admin@gavel.test', password: 'bench-admin-password-1' } as const;
const FUNDS = '100000000.00'; // per bidder: more than it could hold leading every auction it joins
const STARTING_CENTS = 1_000; // 10.00 USD
const INCREMENT_CENTS = 100; // a flat 1.00 ladder, so price = start + (bids - 1) × 1.00
/** The sign-in limit is 30 attempts a minute per address; each loopback address signs in this many. */
const LOGINS_PER_ADDRESS = 25;

// --- measuring ------------------------------------------------------------------------------

const cents = (text: string) => Math.round(Number(text) * 100);

const sortedOf = (xs: number[]) => Float64Array.from(xs).sort();
const pLine = (xs: Float64Array) => `p50 ${fmt(percentile(xs, 50), 1)} ms, p99 ${fmt(percentile(xs, 99), 1)} ms`;

interface Sched {
  /** Time on a CPU and waiting for one (runnable, not running), in ns. */
  runNs: number;
  waitNs: number;
  /** Times the thread blocked (a synchronous fsync, or nothing to do) and was preempted. */
  blocked: number;
  preempted: number;
}

/** A process's main thread (for Node, its event loop), from /proc schedstat and status. */
function schedOf(pid: number): Sched {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ');
    const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
    const count = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { runNs: Number(run), waitNs: Number(wait), blocked: count('voluntary_ctxt_switches'), preempted: count('nonvoluntary_ctxt_switches') };
  } catch {
    return { runNs: NaN, waitNs: NaN, blocked: NaN, preempted: NaN };
  }
}

/**
 * Where the server and the bench spent a stretch of wall time. On a shared machine the
 * figures only mean something beside how long each event loop was runnable but waiting for
 * a CPU.
 */
class Usage {
  private readonly at = performance.now();
  private readonly serverCpu: number;
  private readonly server: Sched;
  private readonly bench: Sched;
  private readonly benchCpu = process.cpuUsage();
  constructor(private readonly pid: number) {
    this.serverCpu = cpuSecondsOf(pid);
    this.server = schedOf(pid);
    this.bench = schedOf(process.pid);
  }

  /** Percentages of wall time since this snapshot. */
  since(): UsageFigures {
    const wallS = (performance.now() - this.at) / 1000;
    const server = schedOf(this.pid);
    const bench = schedOf(process.pid);
    const benchCpu = process.cpuUsage(this.benchCpu);
    const pct = (x: number) => (x / wallS) * 100;
    return {
      serverCpu: pct(cpuSecondsOf(this.pid) - this.serverCpu),
      serverWait: pct((server.waitNs - this.server.waitNs) / 1e9),
      benchCpu: pct((benchCpu.user + benchCpu.system) / 1e6),
      benchWait: pct((bench.waitNs - this.bench.waitNs) / 1e9),
      serverBlocked: server.blocked - this.server.blocked,
      serverPreempted: server.preempted - this.server.preempted,
    };
  }
}

interface UsageFigures {
  /** The server process, all threads, % of one core. */
  serverCpu: number;
  /** The server's main thread (its event loop), % of the time runnable but not running. */
  serverWait: number;
  benchCpu: number;
  benchWait: number;
  /** Context switches of the server's event loop: it blocked, or was preempted. */
  serverBlocked: number;
  serverPreempted: number;
}

const usageText = (u: UsageFigures) =>
  `server CPU ${fmt(u.serverCpu)} % (its event loop waited for a CPU ${fmt(u.serverWait)} % of the time), bench CPU ${fmt(u.benchCpu)} % (waited ${fmt(u.benchWait)} %)`;

// --- HTTP -------------------------------------------------------------------------------------

interface Answer {
  status: number;
  body: any;
  text: string;
}

// --- the server -------------------------------------------------------------------------------

function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0]!.split(/\s+/);
    const values = lines[1]!.split(/\s+/);
    return Number(values[names.indexOf('ListenOverflows')] ?? 0);
  } catch {
    return 0;
  }
}


/** Sum and count of the server's own request-duration histogram for one route and status. */
async function serverTiming(client: Client, route: string, method: string, status: number): Promise<{ sum: number; count: number; lagP99: number }> {
  const text = (await client.request('GET', '/metrics')).text;
  const series = (name: string) => {
    const re = new RegExp(`^${name}\\{([^}]*)\\} ([0-9.eE+-]+)$`, 'gm');
    for (const m of text.matchAll(re)) if (m[1]!.includes(`route="${route}"`) && m[1]!.includes(`method="${method}"`) && m[1]!.includes(`status="${status}"`)) return Number(m[2]);
    return 0;
  };
  const lag = /^gavel_nodejs_eventloop_lag_p99_seconds ([0-9.eE+-]+)$/m.exec(text);
  return { sum: series('gavel_http_request_duration_seconds_sum'), count: series('gavel_http_request_duration_seconds_count'), lagP99: lag ? Number(lag[1]) : NaN };
}

// --- set-up -------------------------------------------------------------------------------------

interface Bidder {
  index: number;
  id: string;
  token: string;
  auctions: number[];
}

interface Market {
  adminToken: string;
  auctionIds: string[];
  bidders: Bidder[];
}

async function setUp(server: Server, client: Client): Promise<Market> {
  const began = performance.now();
  const step = (what: string) => console.log(`  set-up: ${what} (${((performance.now() - began) / 1000).toFixed(1)} s)`);
  const adminToken = (await client.ok('POST', '/api/auth/login', 200, { json: ADMIN })).token as string;
  const categoryId = (await client.ok('POST', '/api/categories', 201, { token: adminToken, json: { name: `Bench ${process.pid}` } })).id as string;
  const password = 'bench-password-long';
  await client.ok('POST', '/api/user', 201, { token: adminToken, json: { name: 'Bench seller', email: 'seller@bench.test', roles: ['seller'], password } });
  const sellerToken = (await client.ok('POST', '/api/auth/login', 200, { json: { email: 'seller@bench.test', password } })).token as string;

  // Bidders are created by the admin (POST /api/user has no per-address limit, registration
  // has). Sign-in is limited to 30 attempts a minute per address, so the bidders sign in from
  // several loopback addresses (all of 127/8 reaches the server), as people on different
  // machines would.
  const bidders: Bidder[] = new Array(BIDDERS);
  await forEach(BIDDERS, SETUP_IN_FLIGHT, async (i) => {
    const user = await client.ok('POST', '/api/user', 201, { token: adminToken, json: { name: `Bidder ${i}`, email: `bidder-${i}@bench.test`, roles: ['bidder'], password } });
    bidders[i] = { index: i, id: user.id as string, token: '', auctions: [] };
  });
  step(`${fmt(BIDDERS)} bidders created`);
  const loginClients = new Map<number, Client>();
  try {
    await forEach(BIDDERS, SETUP_IN_FLIGHT, async (i) => {
      const address = Math.floor(i / LOGINS_PER_ADDRESS);
      let from = loginClients.get(address);
      if (!from) loginClients.set(address, (from = new Client(server.port, 4, `127.0.0.${2 + address}`)));
      bidders[i]!.token = (await from.ok('POST', '/api/auth/login', 200, { json: { email: `bidder-${i}@bench.test`, password } })).token as string;
    });
  } finally {
    for (const c of loginClients.values()) c.close();
  }
  step(`${fmt(BIDDERS)} bidders signed in from ${loginClients.size} loopback addresses`);
  await forEach(BIDDERS, SETUP_IN_FLIGHT, async (i) => {
    await client.ok('POST', '/api/ledger/adjustments', 201, { token: adminToken, json: { userId: bidders[i]!.id, currency: 'USD', amount: FUNDS, direction: 'credit', memo: 'bench funds' } });
  });
  step(`${fmt(BIDDERS)} USD wallets funded with ${FUNDS} each (admin adjustments)`);

  const auctionIds = await openTimedAuctions((...args) => client.ok(...args), { sellerToken, categoryId, count: AUCTIONS, title: (i) => `Bench lot ${i}`, description: 'A lot for the bid benchmark', startingCents: STARTING_CENTS, incrementCents: INCREMENT_CENTS, inFlight: SETUP_IN_FLIGHT });
  step(`${fmt(AUCTIONS)} lots and timed auctions created and open (start 10.00 USD, increment 1.00, no soft close)`);

  // Bidder i joins JOINS consecutive auctions from (i × JOINS) mod AUCTIONS, so every auction
  // gets about BIDDERS × JOINS / AUCTIONS participants.
  for (const b of bidders) for (let j = 0; j < JOINS; j++) b.auctions.push((b.index * JOINS + j) % AUCTIONS);
  const joins = bidders.flatMap((b) => b.auctions.map((a) => [b, a] as const));
  const joinLatencies: number[] = [];
  await forEach(joins.length, JOINS_IN_FLIGHT, async (k) => {
    const [b, a] = joins[k]!;
    const sent = performance.now();
    await client.ok('POST', `/api/auctions/${auctionIds[a]}/join`, 200, { token: b.token });
    joinLatencies.push(performance.now() - sent);
  });
  step(`${fmt(joins.length)} joins, ${JOINS_IN_FLIGHT} in flight, ${pLine(sortedOf(joinLatencies))} (each bidder joined ${JOINS} auctions)`);
  return { adminToken, auctionIds, bidders };
}

// --- the load -----------------------------------------------------------------------------------

interface Phase {
  label: string;
  requests: number;
  seconds: number;
  perSecond: number;
  latencies: Float64Array;
  usage: UsageFigures;
}

/** `label` progress once a second: what `sample()` says, where the time went, and load. */
function progress(label: string, pid: number, began: number, sample: () => string): () => void {
  let last = new Usage(pid);
  const timer = setInterval(() => {
    let u: UsageFigures;
    try {
      u = last.since();
      last = new Usage(pid);
    } catch {
      return; // the server is gone: the phase fails on its own requests
    }
    console.log(`  ${label}: ${((performance.now() - began) / 1000).toFixed(1)} s, ${sample()}, server CPU ${fmt(u.serverCpu)} %, its event loop waited for a CPU ${fmt(u.serverWait)} % (${load()})`);
  }, 1000);
  return () => clearInterval(timer);
}

/** The same clients on one GET route, as fast as it answers. */
async function baseline(label: string, client: Client, pid: number, path: string, tokens: string[]): Promise<Phase> {
  const latencies: number[] = [];
  let done = 0;
  let lastDone = 0;
  let errors = 0;
  let firstError = '';
  const began = performance.now();
  const deadline = began + BASELINE_SECONDS * 1000;
  const usage = new Usage(pid);
  const stop = progress(label, pid, began, () => {
    const s = `${fmt(done)} requests, ${fmt(done - lastDone)}/s over the last second`;
    lastDone = done;
    return s;
  });
  try {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, c) => {
        const token = tokens.length ? tokens[c % tokens.length] : undefined;
        while (performance.now() < deadline && errors < MAX_ERRORS) {
          const sent = performance.now();
          try {
            const res = await client.request('GET', path, { ...(token && { token }) });
            if (res.status !== 200) throw new Error(`${res.status}: ${res.text.slice(0, 300)}`);
            latencies.push(performance.now() - sent);
            done++;
          } catch (error) {
            errors++;
            firstError ||= (error as Error).message;
          }
        }
      }),
    );
  } finally {
    stop();
  }
  if (errors) throw new Error(`${label}: ${errors} requests failed; the first: ${firstError}`);
  const seconds = (performance.now() - began) / 1000;
  return {
    label,
    requests: done,
    seconds,
    perSecond: done / seconds,
    latencies: sortedOf(latencies),
    usage: usage.since(),
  };
}

interface Known {
  /** The smallest bid the server last said it would take (cents); it only rises. */
  minimumCents: number;
  /** seq of the newest state a 201 showed, and whose bid that was. */
  seq: number;
  leader: number;
}

interface BidResult extends Phase {
  accepted: number;
  lost: number;
  alreadyLeading: number;
  acceptedPerAuction: number[];
  lostLatencies: Float64Array;
}

/**
 * Every client bids as one bidder (client c is bidder c mod BIDDERS) on the auctions it joined,
 * never on one it leads, always the minimum next bid. What the clients learn is shared (a room
 * feed would tell a real bidder the same): the minimum from every 201 (`auction.minimumNextBid`)
 * and every BID_TOO_LOW (its detail states the minimum).
 */
async function bid(client: Client, pid: number, market: Market): Promise<BidResult> {
  const known: Known[] = market.auctionIds.map(() => ({ minimumCents: STARTING_CENTS, seq: 0, leader: -1 }));
  const acceptedPerAuction = market.auctionIds.map(() => 0);
  const latencies: number[] = [];
  const lostLatencies: number[] = [];
  let sent = 0;
  let accepted = 0;
  let lost = 0;
  let alreadyLeading = 0;
  let errors = 0;
  const firstErrors: string[] = [];
  let last = { accepted: 0, lost: 0, at: 0 };
  const began = performance.now();
  const deadline = began + SECONDS * 1000;
  const usage = new Usage(pid);
  const stop = progress('bids', pid, began, () => {
    const recent = latencies.slice(last.at);
    const s = `${fmt(accepted)} accepted, ${fmt(accepted - last.accepted)}/s over the last second (lost races ${fmt(lost - last.lost)}/s), ack p99 ${fmt(percentile(sortedOf(recent), 99), 1)} ms`;
    last = { accepted, lost, at: latencies.length };
    return s;
  });
  const error = (what: string) => {
    errors++;
    if (firstErrors.length < 3) firstErrors.push(what);
  };

  const worker = async (c: number) => {
    const me = market.bidders[c % market.bidders.length]!;
    const mine = me.auctions;
    let cursor = Math.floor(Math.random() * mine.length);
    while (sent < MAX_BIDS && performance.now() < deadline && errors < MAX_ERRORS) {
      // The next auction of mine that I do not lead.
      let a = -1;
      for (let k = 0; k < mine.length; k++) {
        const candidate = mine[(cursor + k) % mine.length]!;
        if (known[candidate]!.leader !== me.index) {
          a = candidate;
          cursor = (cursor + k + 1) % mine.length;
          break;
        }
      }
      if (a < 0) {
        await sleep(5);
        continue;
      }
      const state = known[a]!;
      const amountCents = state.minimumCents;
      sent++;
      const at = performance.now();
      let res: Answer;
      try {
        res = await client.request('POST', `/api/auctions/${market.auctionIds[a]}/bids`, { token: me.token, json: { amount: usd(amountCents), currency: 'USD' } });
      } catch (e) {
        error((e as Error).message);
        continue;
      }
      const ms = performance.now() - at;
      if (res.status === 201) {
        accepted++;
        acceptedPerAuction[a]!++;
        latencies.push(ms);
        const view = res.body.auction;
        const minimum = cents(view.minimumNextBid as string);
        if (view.seq > state.seq) {
          state.seq = view.seq;
          state.leader = me.index;
        }
        if (minimum > state.minimumCents) state.minimumCents = minimum;
      } else if (res.status === 409 && res.body?.code === 'BID_TOO_LOW') {
        lost++;
        lostLatencies.push(ms);
        const stated = /minimum bid is ([0-9]+(?:\.[0-9]+)?)/.exec(res.body.detail ?? '');
        if (!stated) {
          error(`BID_TOO_LOW without a minimum in its detail: ${res.text.slice(0, 300)}`);
          continue;
        }
        const minimum = cents(stated[1]!);
        if (minimum > state.minimumCents) state.minimumCents = minimum;
      } else if (res.status === 409 && res.body?.code === 'ALREADY_LEADING') {
        // Only when clients share a bidder (BIDS_BIDDERS < BIDS_CONCURRENCY).
        alreadyLeading++;
        state.leader = me.index;
      } else {
        error(`${res.status}: ${res.text.slice(0, 300)}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, c) => worker(c)));
  } finally {
    stop();
  }
  const seconds = (performance.now() - began) / 1000;
  if (errors) console.log(`  bids: ${errors} failed requests; the first: ${firstErrors.join(' | ')}`);
  if (errors >= MAX_ERRORS) throw new Error(`bids: ${errors} failed requests, stopping`);
  return {
    label: 'bids',
    requests: sent,
    seconds,
    perSecond: accepted / seconds,
    latencies: sortedOf(latencies),
    lostLatencies: sortedOf(lostLatencies),
    usage: usage.since(),
    accepted,
    lost,
    alreadyLeading,
    acceptedPerAuction,
  };
}

/** Every auction's bid count and price, as the server reports them, against what the bench saw. */
async function verify(client: Client, market: Market, result: BidResult): Promise<string> {
  const problems: string[] = [];
  await forEach(market.auctionIds.length, SETUP_IN_FLIGHT, async (a) => {
    const page = await client.ok('GET', `/api/auctions/${market.auctionIds[a]}`, 200);
    const count = result.acceptedPerAuction[a]!;
    if (page.live.bidCount !== count) problems.push(`auction ${a}: bidCount ${page.live.bidCount}, the bench got ${count} × 201`);
    // Every accepted bid was the minimum, so the price climbed one increment per bid.
    const expected = count === 0 ? null : usd(STARTING_CENTS + (count - 1) * INCREMENT_CENTS);
    if (count > 0 && page.live.price !== expected) problems.push(`auction ${a}: price ${page.live.price}, expected ${expected} after ${count} bids`);
  });
  const check = await client.ok('GET', '/api/ledger/check', 200, { token: market.adminToken });
  if (check.violations.length) problems.push(`ledger check: ${check.violations.length} violations, e.g. ${JSON.stringify(check.violations.slice(0, 3))}`);
  if (problems.length) throw new Error(`verification failed:\n  ${problems.slice(0, 10).join('\n  ')}`);
  return `${fmt(market.auctionIds.length)} auctions: bid counts equal the bench's 201s and every price is start + (bids − 1) × increment; ledger check: 0 violations over ${fmt(check.accounts)} accounts and ${fmt(check.transfers)} transfers`;
}

// --- main -------------------------------------------------------------------------------------


console.log(
  `bids bench: ${AUCTIONS} timed auctions, ${BIDDERS} bidders each in ${JOINS} of them, ${CONCURRENCY} clients over keep-alive HTTP, ` +
    `at most ${fmt(MAX_BIDS)} bids or ${SECONDS} s (baselines ${BASELINE_SECONDS} s each); server log level ${LOG_LEVEL ?? 'info (default)'}; ${load()}`,
);
const dir = mkdtempSync(join(tmpdir(), 'gavel-bench-bids-'));
let server: Server | undefined;
let client: Client | undefined;
const cleanUp = async () => {
  client?.close();
  if (server) console.log(`  gavel (pid ${server.pid}) ${await stopServer(server)}`);
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
try {
  server = await startServer(join(dir, 'data'), { env: { GAVEL_ADMIN_EMAIL: ADMIN.email, GAVEL_ADMIN_PASSWORD: ADMIN.password, ...(LOG_LEVEL && { GAVEL_LOG_LEVEL: LOG_LEVEL }) }, profileDir: SERVER_PROFILE_DIR });
  console.log(`  gavel pid ${server.pid} on 127.0.0.1:${server.port}, embedded SQLite in ${dir}/data, log in ${server.logFile}`);
  client = new Client(server.port, CONCURRENCY);
  const market = await setUp(server, client);
  await client.warmUp(CONCURRENCY);
  const overflowsBefore = listenOverflows();

  console.log(`-- baseline: GET /up, ${CONCURRENCY} clients, ${BASELINE_SECONDS} s`);
  const up = await baseline('GET /up', client, server.pid, '/up', []);
  console.log(`  GET /up: ${fmt(up.perSecond)} req/s, ${pLine(up.latencies)}; ${usageText(up.usage)}`);
  console.log(`-- baseline: GET /api/auctions/{id} signed in (auth, the engine's in-memory view, JSON), ${CONCURRENCY} clients, ${BASELINE_SECONDS} s`);
  const page = await baseline('GET auction page', client, server.pid, `/api/auctions/${market.auctionIds[0]}`, market.bidders.map((b) => b.token));
  console.log(`  GET auction page: ${fmt(page.perSecond)} req/s, ${pLine(page.latencies)}; ${usageText(page.usage)}`);

  console.log(`-- bids: ${CONCURRENCY} clients, each bidding the minimum next bid on auctions it joined and does not lead, at most ${fmt(MAX_BIDS)} bids or ${SECONDS} s`);
  const timingBefore = await serverTiming(client, '/api/auctions/:id/bids', 'POST', 201);
  const bids = await bid(client, server.pid, market);
  const timingAfter = await serverTiming(client, '/api/auctions/:id/bids', 'POST', 201);
  const serverMs = ((timingAfter.sum - timingBefore.sum) / Math.max(1, timingAfter.count - timingBefore.count)) * 1000;
  console.log(
    `  ${fmt(bids.accepted)} accepted, ${fmt(bids.lost)} lost races (409 BID_TOO_LOW: ${pLine(bids.lostLatencies)})` +
      `${bids.alreadyLeading ? `, ${fmt(bids.alreadyLeading)} ALREADY_LEADING` : ''} of ${fmt(bids.requests)} bids sent in ${bids.seconds.toFixed(1)} s; ` +
      `${usageText(bids.usage)}; per accepted bid the server's event loop blocked ${fmt(bids.usage.serverBlocked / bids.accepted, 1)} times (a synchronous SQLite fsync, or nothing to do) and was preempted ${fmt(bids.usage.serverPreempted / bids.accepted, 1)} times; ` +
      `the server's own time per accepted bid (request in → response out) ${fmt(serverMs, 1)} ms on average; server event-loop lag p99 ${fmt(timingAfter.lagP99 * 1000, 1)} ms`,
  );
  console.log(`  verified: ${await verify(client, market, bids)}`);
  console.log(`  ${await logSummary(server.logFile)}`);
  const overflows = listenOverflows() - overflowsBefore;
  // System-wide: a full accept queue drops a SYN, and the client retries it a second later.
  if (overflows > 0) console.log(`  the kernel counted ${fmt(overflows)} listen-queue overflows on this machine during the measured phases (TcpExtListenOverflows)`);
  console.log('');
  console.log(
    `bids: ${fmt(bids.perSecond)} accepted bids/s over ${AUCTIONS} auctions, ack p50 ${fmt(percentile(bids.latencies, 50), 1)} ms p99 ${fmt(percentile(bids.latencies, 99), 1)} ms ` +
      `(${CONCURRENCY} clients; ${fmt(bids.lost / bids.seconds)} lost races/s; server CPU ${fmt(bids.usage.serverCpu)} %, waited for a CPU ${fmt(bids.usage.serverWait)} %) — ` +
      `baseline GET /up ${fmt(up.perSecond)} req/s p99 ${fmt(percentile(up.latencies, 99), 1)} ms (server CPU ${fmt(up.usage.serverCpu)} %), ` +
      `signed-in auction page ${fmt(page.perSecond)} req/s p99 ${fmt(percentile(page.latencies, 99), 1)} ms; ${load()}`,
  );
} catch (error) {
  process.exitCode = 1;
  console.error(`bids bench failed: ${(error as Error).stack ?? String(error)}`);
  if (server) console.error(`--- last lines of the server log:\n${tail(server.logFile)}`);
} finally {
  await cleanUp();
}
