// Orders through the exchange end to end on the embedded default: order in over the WebSocket
// API (`exchange.order`), matched, journaled and settled in the ledger, and BOTH parties'
// confirmations out (`exchange.fill` pushes). Gavel runs as a child process (SQLite in a fresh
// temp dir), so this load generator does not share its event loop.
//
// Traders each hold one signed-in socket and keep a few orders in flight (the gateway allows a
// socket 50 messages a second, so each stays under that), paced evenly: below what the server
// can take, orders arrive spread over each second, not as a burst at its start. Orders are limit orders around a mid
// price, about half of them crossing, plus cancels of the trader's own resting orders.
// Measured: orders per second (and minute) accepted over the run, the acknowledgement latency
// (order sent → its result), and the confirmation latency of each trade (taker's order sent →
// the later of the two parties' fill pushes received). Each fill is also stored as a notification
// in both inboxes by the outbox relay, beside the engine: the bench counts those pushes too and
// says how many of the fills so far the inboxes held when trading stopped, and how long they
// took to catch up. At the end the book is checked against a replay of its journal and the
// ledger's invariants are recomputed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { mulberry32 } from '../test/support/random.js';
import { Client, cpuSecondsOf, fmt, forEach, load, logSummary, percentile, sleep, startServer, stopServer, type Server } from './support.js';

const SECONDS = Number(process.env.ORDERS_SECONDS ?? 20);
const TRADERS = Number(process.env.ORDERS_TRADERS ?? 200);
const IN_FLIGHT = Number(process.env.ORDERS_IN_FLIGHT ?? 4);
/** How long after trading the bench waits for the inbox to hold every fill. */
const INBOX_CATCH_UP_MAX_MS = 60_000;
/** Per socket; the gateway's limit is 50 messages a second. */
const RATE_PER_SOCKET = Number(process.env.ORDERS_RATE_PER_SOCKET ?? 45);
const SEED = Number(process.env.ORDERS_SEED ?? 42);
const LOGINS_PER_ADDRESS = 25;
const ADMIN = { email: 'bench-admin@gavel.test', password: 'bench-admin-password-1' } as const;
const PASSWORD = 'bench-password-long';
const MID_TICKS = 10_000; // 100.00 USD
const SYMBOL = 'BNCH-USD';

const now = () => performance.now();

interface Trader {
  index: number;
  id: string;
  token: string;
  socket: WebSocket;
  inFlight: number;
  open: string[];
  /** command id → [kind, sent at] */
  pending: Map<number, [string, number]>;
  nextId: number;
  sentThisSecond: number;
  second: number;
  /** Commands sent so far, and where in each 1/RATE_PER_SOCKET s this trader's sends fall. */
  sent: number;
  phase: number;
}

interface Stats {
  sent: number;
  accepted: number;
  refused: Map<string, number>;
  ackMs: number[];
  /** order id → sent at (for orders whose result arrived). */
  sentAt: Map<string, number>;
  /** trade id → [taker order id, maker push at, taker push at] */
  trades: Map<string, [string, number, number]>;
  /** `exchange.fill` pushes (one per party per trade), and the stored fill notifications pushed after them. */
  fillPushes: number;
  fillNotes: number;
}

async function setUp(server: Server, client: Client): Promise<{ adminToken: string; traders: Omit<Trader, 'socket'>[] }> {
  const adminToken = (await client.ok('POST', '/api/auth/login', 200, { json: ADMIN })).token as string;
  await client.ok('POST', '/api/ledger/assets', 201, { token: adminToken, json: { code: 'BNCH', scale: 0, name: 'Bench shares' } });
  await client.ok('POST', '/api/exchange/instruments', 201, { token: adminToken, json: { base: 'BNCH', quote: 'USD', tickSize: '0.01', lotSize: '1', maxQuantity: '1000000', makerFeeBps: 10, takerFeeBps: 20 } });
  const traders: Omit<Trader, 'socket'>[] = new Array(TRADERS);
  await forEach(TRADERS, 16, async (i) => {
    const user = await client.ok('POST', '/api/user', 201, { token: adminToken, json: { name: `Trader ${i}`, email: `trader-${i}@bench.test`, roles: ['bidder'], password: PASSWORD } });
    traders[i] = { index: i, id: user.id as string, token: '', inFlight: 0, open: [], pending: new Map(), nextId: 1, sentThisSecond: 0, second: 0, sent: 0, phase: (i + 0.5) / TRADERS };
    for (const [currency, amount] of [['USD', '100000000.00'], ['BNCH', '100000000']] as const) {
      await client.ok('POST', '/api/ledger/adjustments', 201, { token: adminToken, json: { userId: user.id, currency, amount, direction: 'credit', memo: 'bench funds' } });
    }
  });
  // Sign-in is limited per address: traders sign in from several loopback addresses.
  const loginClients = new Map<number, Client>();
  await forEach(TRADERS, 16, async (i) => {
    const address = Math.floor(i / LOGINS_PER_ADDRESS);
    let from = loginClients.get(address);
    if (!from) loginClients.set(address, (from = new Client(server.port, 4, `127.0.0.${2 + address}`)));
    traders[i]!.token = (await from.ok('POST', '/api/auth/login', 200, { json: { email: `trader-${i}@bench.test`, password: PASSWORD } })).token as string;
  });
  for (const c of loginClients.values()) c.close();
  return { adminToken, traders };
}

function connect(port: number, t: Omit<Trader, 'socket'>, stats: Stats): Promise<Trader> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: `Bearer ${t.token}` }, perMessageDeflate: false });
    const trader: Trader = { ...t, socket };
    socket.on('error', reject);
    socket.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'authenticated') return resolve(trader);
      if (m.type === 'result') return onResult(trader, m, stats);
      if (m.type === 'push' && m.event.type === 'exchange.fill') return onFill(trader, m.event, stats);
      if (m.type === 'push' && m.event.type === 'notification' && m.event.notification?.kind === 'fill') stats.fillNotes += 1;
      if (m.type === 'error') console.log(`  trader ${t.index}: ${m.code} ${m.detail}`);
    });
  });
}

function onResult(trader: Trader, m: any, stats: Stats): void {
  const at = now();
  const pending = trader.pending.get(m.id);
  if (!pending) return;
  trader.pending.delete(m.id);
  trader.inFlight -= 1;
  const [kind, sentAt] = pending;
  if (!m.ok) {
    const code = m.problem?.code ?? 'unknown';
    stats.refused.set(code, (stats.refused.get(code) ?? 0) + 1);
    return;
  }
  if (kind !== 'order') return;
  stats.accepted += 1;
  stats.ackMs.push(at - sentAt);
  const order = m.result.order;
  stats.sentAt.set(order.id, sentAt);
  if (order.status === 'open') trader.open.push(order.id);
}

function onFill(_trader: Trader, event: any, stats: Stats): void {
  const at = now();
  stats.fillPushes += 1;
  const fill = event.fill;
  let trade = stats.trades.get(fill.id);
  if (!trade) stats.trades.set(fill.id, (trade = ['', 0, 0]));
  if (fill.liquidity === 'taker') {
    trade[0] = fill.orderId;
    trade[2] = at;
  } else trade[1] = at;
}

function send(trader: Trader, kind: string, name: string, args: unknown, stats: Stats): void {
  const id = trader.nextId++;
  trader.pending.set(id, [kind, now()]);
  trader.inFlight += 1;
  trader.sentThisSecond += 1;
  trader.sent += 1;
  if (kind === 'order') stats.sent += 1;
  trader.socket.send(JSON.stringify({ type: 'command', id, name, args }));
}

async function trade(traders: Trader[], stats: Stats, serverPid: number): Promise<{ seconds: number; cpu: number; ownCpu: number; inbox: { atEnd: number; expected: number; caughtUpS: number } }> {
  const random = mulberry32(SEED);
  const int = (n: number) => Math.floor(random() * n);
  const began = now();
  const cpuBefore = cpuSecondsOf(serverPid);
  const ownCpuBefore = process.cpuUsage();
  const endAt = began + SECONDS * 1000;
  let lastReport = began;
  let lastAccepted = 0;
  while (now() < endAt) {
    const elapsedS = (now() - began) / 1000;
    const second = Math.floor(elapsedS);
    for (const t of traders) {
      if (t.second !== second) {
        t.second = second;
        t.sentThisSecond = 0;
      }
      // Paced: the k-th command is due k / RATE_PER_SOCKET s in, offset per trader, so a rate
      // below what the server can take arrives evenly (not as a burst at each second's start)
      // and the latency measured is the server's, not a queue the load generator made.
      const due = Math.floor(elapsedS * RATE_PER_SOCKET + t.phase);
      while (t.inFlight < IN_FLIGHT && t.sentThisSecond < RATE_PER_SOCKET && t.sent < due) {
        if (t.open.length > 0 && random() < 0.1) {
          const at = int(t.open.length);
          const orderId = t.open[at]!;
          t.open[at] = t.open[t.open.length - 1]!;
          t.open.pop();
          send(t, 'cancel', 'exchange.cancel', { orderId }, stats);
          continue;
        }
        const side = random() < 0.5 ? 'buy' : 'sell';
        // About half the orders cross the spread: buys up to 4 ticks above the mid, sells 4 below.
        const offset = int(11) - 6;
        const ticks = side === 'buy' ? MID_TICKS + offset : MID_TICKS - offset;
        const price = `${Math.floor(ticks / 100)}.${String(ticks % 100).padStart(2, '0')}`;
        send(t, 'order', 'exchange.order', { symbol: SYMBOL, side, type: 'limit', price, quantity: String(1 + int(10)) }, stats);
      }
    }
    await sleep(2);
    if (now() - lastReport >= 5_000) {
      const rate = ((stats.accepted - lastAccepted) * 1000) / (now() - lastReport);
      console.log(`  ${fmt((now() - began) / 1000, 0)} s: ${fmt(rate)} orders/s accepted, ${fmt(stats.trades.size)} trades so far; ${load()}`);
      lastReport = now();
      lastAccepted = stats.accepted;
    }
  }
  const seconds = (now() - began) / 1000;
  const cpu = cpuSecondsOf(serverPid) - cpuBefore;
  const ownUsage = process.cpuUsage(ownCpuBefore);
  const ownCpu = (ownUsage.user + ownUsage.system) / 1e6;
  const inbox = { atEnd: stats.fillNotes, expected: stats.fillPushes, caughtUpS: Number.NaN };
  // Let what is in flight finish (its answers still count for latency, not for the rate).
  const drainUntil = now() + 15_000;
  while (traders.some((t) => t.inFlight > 0) && now() < drainUntil) await sleep(20);
  // Each fill is also stored in both parties' inboxes (pushed once stored) by the outbox relay,
  // which runs beside the engine: how far behind it was when trading stopped, and how long it
  // took to catch up (bounded).
  const ended = now();
  while (stats.fillNotes < stats.fillPushes && now() - ended < INBOX_CATCH_UP_MAX_MS) await sleep(20);
  if (stats.fillNotes >= stats.fillPushes) inbox.caughtUpS = (now() - began) / 1000 - seconds;
  return { seconds, cpu, ownCpu, inbox };
}

async function main(): Promise<void> {
  console.log(`bench:orders — ${TRADERS} traders over WebSocket, ${IN_FLIGHT} orders in flight each, at most ${RATE_PER_SOCKET}/s per socket, ${SECONDS} s; ${load()}`);
  const dir = mkdtempSync(join(tmpdir(), 'gavel-bench-orders-'));
  let server: Server | undefined;
  const traders: Trader[] = [];
  try {
    server = await startServer(join(dir, 'data'), { env: { GAVEL_ADMIN_EMAIL: ADMIN.email, GAVEL_ADMIN_PASSWORD: ADMIN.password, ...(process.env.ORDERS_LOG_LEVEL && { GAVEL_LOG_LEVEL: process.env.ORDERS_LOG_LEVEL }) }, profileDir: process.env.ORDERS_SERVER_PROFILE });
    const client = new Client(server.port, 16);
    const setup = await setUp(server, client);
    console.log(`  set-up: ${TRADERS} traders funded and signed in; ${load()}`);
    const stats: Stats = { sent: 0, accepted: 0, refused: new Map(), ackMs: [], sentAt: new Map(), trades: new Map(), fillPushes: 0, fillNotes: 0 };
    for (const t of setup.traders) traders.push(await connect(server.port, t, stats));
    const run = await trade(traders, stats, server.pid);

    const confirmMs: number[] = [];
    let unconfirmed = 0;
    for (const [takerOrderId, makerAt, takerAt] of stats.trades.values()) {
      const sentAt = stats.sentAt.get(takerOrderId);
      if (sentAt === undefined || makerAt === 0 || takerAt === 0) unconfirmed += 1;
      else confirmMs.push(Math.max(makerAt, takerAt) - sentAt);
    }
    const ack = Float64Array.from(stats.ackMs).sort();
    const confirm = Float64Array.from(confirmMs).sort();
    const perSecond = stats.accepted / run.seconds;
    const refused = [...stats.refused].map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
    console.log(`  orders: ${fmt(stats.sent)} sent, ${fmt(stats.accepted)} accepted in ${fmt(run.seconds, 1)} s; refused: ${refused}`);
    console.log(`  trades: ${fmt(stats.trades.size)} (${fmt(stats.trades.size / run.seconds)}/s); ${unconfirmed} without both confirmations`);
    console.log(`  acknowledgement: p50 ${fmt(percentile(ack, 50), 1)} ms, p99 ${fmt(percentile(ack, 99), 1)} ms`);
    console.log(`  confirmation to both parties: p50 ${fmt(percentile(confirm, 50), 1)} ms, p99 ${fmt(percentile(confirm, 99), 1)} ms`);
    // Both share the machine's cores: what the traders take is not there for the server.
    console.log(`  server CPU ${fmt((run.cpu / run.seconds) * 100)} % of one core; the load generator (this process) ${fmt((run.ownCpu / run.seconds) * 100)} %`);
    const { inbox } = run;
    const inboxShare = (100 * inbox.atEnd) / Math.max(1, inbox.expected);
    const caughtUp = Number.isNaN(inbox.caughtUpS) ? `not caught up within ${INBOX_CATCH_UP_MAX_MS / 1000} s of the end` : `every one stored ${fmt(inbox.caughtUpS, 1)} s after trading stopped`;
    console.log(`  fills stored as notifications when trading stopped: ${fmt(inbox.atEnd)} of ${fmt(inbox.expected)} (${fmt(inboxShare)} %); ${caughtUp}`);

    const verify = await client.ok('GET', `/api/exchange/instruments/${SYMBOL}/verify`, 200, { token: setup.adminToken });
    console.log(`  replay: journal seq ${verify.journalSeq}, live seq ${verify.seq}, state hashes ${verify.match ? 'match' : 'DIFFER'}`);
    const check = await client.ok('GET', '/api/ledger/check', 200, { token: setup.adminToken });
    console.log(`  ledger check: ${check.accounts} accounts, ${fmt(check.transfers)} transfers, ${check.violations.length} violations`);
    for (const t of traders) t.socket.close();
    client.close();
    console.log(`  ${await logSummary(server.logFile)}`);
    console.log(`  gavel (pid ${server.pid}) ${await stopServer(server)}`);
    server = undefined;
    if (!verify.match || check.violations.length > 0) process.exitCode = 1;
    console.log('');
    console.log(
      `orders: ${fmt(perSecond * 60)} orders/min sustained (${fmt(perSecond)}/s), confirmation to both parties p50 ${fmt(percentile(confirm, 50), 1)} ms p99 ${fmt(percentile(confirm, 99), 1)} ms, ${fmt(stats.trades.size / run.seconds)} trades/s, ${fmt(inboxShare)} % of fills in the inbox when trading stopped (target ≥ 600,000/min, p99 ≤ 50 ms); ${load()}`,
    );
  } finally {
    for (const t of traders) t.socket.terminate();
    if (server) await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
