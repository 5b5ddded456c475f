// Notifications end to end on the embedded default: sandbox top-ups (each credit is a
// `ledger.topup.credited` event) become an inbox entry pushed over the WebSocket, a signed
// webhook POST and an e-mail (.eml file), through the durable queue and its N workers. Gavel
// runs as a child process (SQLite in a fresh temp dir); the webhook receiver and the sockets
// live here.
//
// 1. Backlog: Gavel runs without the worker role while NOTIFY_EVENTS top-ups are credited, so
//    every notification waits (events in the outbox). Then it restarts with every role, and
//    the drain is timed: webhook + e-mail deliveries per second with N workers, from the first
//    delivery to the last. Each must arrive exactly once, in order per person.
// 2. Steady load: NOTIFY_RATE top-ups a second for NOTIFY_SECONDS with every person's socket
//    open; measured: event → inbox push latency (the event's id is a UUIDv7 whose first 48 bits
//    are the millisecond it was appended, on this machine's clock → the push arrives here),
//    beside approval sent → push (which adds the top-up's own request), event → webhook
//    received (the same clock), and whether webhook and e-mail delivery keep up.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { request as httpRequest } from '../test/support/process.js';
import { loadConfig } from '../src/platform/config.js';
import { Client, cpuSecondsOf, fmt, forEach, load, logSummary, percentile, sleep, startServer, stopServer, type Server } from './support.js';

const EVENTS = Number(process.env.NOTIFY_EVENTS ?? 2_000);
const USERS = Number(process.env.NOTIFY_USERS ?? 200);
const WORKERS = Number(process.env.NOTIFY_WORKERS ?? loadConfig({}, {}).notifyWorkers); // Gavel's default (--notify-workers)
const RATE = Number(process.env.NOTIFY_RATE ?? 100);
const SECONDS = Number(process.env.NOTIFY_SECONDS ?? 20);
const PRODUCERS = Number(process.env.NOTIFY_PRODUCERS ?? 16);
/**
 * Where Gavel writes the e-mails; under the data dir by default. A directory on tmpfs (under
 * /dev/shm) takes the file system's own costs out of a comparison of two versions of the code
 * (bench/README.md: after mass deletions, ext4 makes each new file cost up to 1 ms).
 */
const MAIL_PARENT = process.env.NOTIFY_MAIL_PARENT;
const LOGINS_PER_ADDRESS = 25;
const ADMIN = { email: 'bench-admin@gavel.test', password: 'bench-admin-password-1' } as const;
const PASSWORD = 'bench-password-long';
const DRAIN_TIMEOUT_MS = 300_000;

const now = () => performance.now();

interface Person {
  index: number;
  id: string;
  token: string;
  /** Top-ups made for this person so far: the k-th is for k.00 USD, so order is visible. */
  topups: number;
}

/** The webhook endpoint: every POST's path, arrival time and notification, answered 204 at once. */
function receiver(): Promise<{ url: string; posts: Array<{ path: string; atMs: number; wallMs: number; deliveryId: string; amount: string; topupId: string }>; close(): void }> {
  const posts: Array<{ path: string; atMs: number; wallMs: number; deliveryId: string; amount: string; topupId: string }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      posts.push({ path: req.url ?? '', atMs: now(), wallMs: Date.now(), deliveryId: String(req.headers['gavel-delivery-id']), amount: body.notification.data.amount, topupId: String(body.notification.data.topupId) });
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, posts, close: () => server.close() });
    }),
  );
}

async function setUp(server: Server, client: Client, hookBase: string): Promise<Person[]> {
  const adminToken = (await client.ok('POST', '/api/auth/login', 200, { json: ADMIN })).token as string;
  const people: Person[] = new Array(USERS);
  await forEach(USERS, 16, async (i) => {
    const user = await client.ok('POST', '/api/user', 201, { token: adminToken, json: { name: `Person ${i}`, email: `person-${i}@bench.test`, roles: ['bidder'], password: PASSWORD } });
    people[i] = { index: i, id: user.id as string, token: '', topups: 0 };
  });
  // Sign-in is limited per address: people sign in from several loopback addresses.
  const loginClients = new Map<number, Client>();
  await forEach(USERS, 16, async (i) => {
    const address = Math.floor(i / LOGINS_PER_ADDRESS);
    let from = loginClients.get(address);
    if (!from) loginClients.set(address, (from = new Client(server.port, 4, `127.0.0.${2 + address}`)));
    people[i]!.token = (await from.ok('POST', '/api/auth/login', 200, { json: { email: `person-${i}@bench.test`, password: PASSWORD } })).token as string;
  });
  for (const c of loginClients.values()) c.close();
  await forEach(USERS, 16, async (i) => {
    await client.ok('POST', '/api/notifications/webhooks', 201, { token: people[i]!.token, json: { url: `${hookBase}/p/${i}` } });
  });
  return people;
}

/** One credited top-up: create it, then approve it on the sandbox page (the credit and its event commit there). Returns when the approval was sent. */
async function topup(server: Server, client: Client, p: Person): Promise<{ id: string; approveSentAt: number }> {
  p.topups += 1;
  const created = await client.ok('POST', '/api/wallets/USD/topups', 201, { token: p.token, json: { amount: `${p.topups}.00` } });
  const path = `${new URL(String(created.redirectUrl), `http://127.0.0.1:${server.port}`).pathname}/approve`;
  const approveSentAt = now();
  const res = await httpRequest(`http://127.0.0.1:${server.port}`, 'POST', path, { agent: client.agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' }, timeoutMs: 30_000 });
  if (res.status !== 303) throw new Error(`approve: expected 303, got ${res.status}: ${res.text.slice(0, 300)}`);
  return { id: created.id as string, approveSentAt };
}

function mailCount(mailDir: string): { files: number; lastMtimeMs: number; firstMtimeMs: number } {
  let names: string[] = [];
  try {
    names = readdirSync(mailDir).filter((n) => n.endsWith('.eml'));
  } catch {
    return { files: 0, lastMtimeMs: 0, firstMtimeMs: 0 };
  }
  let last = 0;
  let first = Infinity;
  for (const n of names) {
    const m = statSync(join(mailDir, n)).mtimeMs;
    last = Math.max(last, m);
    first = Math.min(first, m);
  }
  return { files: names.length, lastMtimeMs: last, firstMtimeMs: first };
}

async function backlog(dataDir: string, hookBase: string): Promise<Person[]> {
  const env = { GAVEL_ADMIN_EMAIL: ADMIN.email, GAVEL_ADMIN_PASSWORD: ADMIN.password, GAVEL_NOTIFY_WORKERS: String(WORKERS), GAVEL_ROLE: 'api,engine', GAVEL_WEBHOOK_ALLOW_PRIVATE: '1' };
  const server = await startServer(dataDir, { env });
  const client = new Client(server.port, PRODUCERS + 4);
  try {
    const people = await setUp(server, client, hookBase);
    console.log(`  set-up: ${USERS} people signed in, each with a webhook; ${load()}`);
    const began = now();
    await forEach(EVENTS, PRODUCERS, async (i) => {
      await topup(server, client, people[i % USERS]!);
    });
    console.log(`  backlog: ${fmt(EVENTS)} top-ups credited in ${fmt((now() - began) / 1000, 1)} s (${fmt(EVENTS / ((now() - began) / 1000))}/s) with no worker running; ${load()}`);
    return people;
  } finally {
    client.close();
    console.log(`  gavel without workers ${await stopServer(server)}`);
  }
}

async function main(): Promise<void> {
  console.log(`bench:notify — ${fmt(EVENTS)} events of backlog over ${USERS} people, ${WORKERS} workers, then ${RATE} events/s for ${SECONDS} s; ${load()}`);
  const dir = mkdtempSync(join(tmpdir(), 'gavel-bench-notify-'));
  const dataDir = join(dir, 'data');
  const mailDir = MAIL_PARENT ? mkdtempSync(join(MAIL_PARENT, 'gavel-bench-mail-')) : join(dataDir, 'mail');
  const hooks = await receiver();
  let server: Server | undefined;
  const sockets: WebSocket[] = [];
  try {
    const people = await backlog(dataDir, hooks.url);

    // --- the drain ---------------------------------------------------------------------------
    const expected = EVENTS * 2; // a webhook POST and an e-mail per event
    server = await startServer(dataDir, { env: { GAVEL_ADMIN_EMAIL: ADMIN.email, GAVEL_ADMIN_PASSWORD: ADMIN.password, GAVEL_NOTIFY_WORKERS: String(WORKERS), GAVEL_WEBHOOK_ALLOW_PRIVATE: '1', GAVEL_MAIL_DIR: mailDir }, profileDir: process.env.NOTIFY_SERVER_PROFILE });
    const cpuBefore = cpuSecondsOf(server.pid);
    const drainBegan = Date.now();
    let lastReport = now();
    for (;;) {
      const mails = mailCount(mailDir);
      const done = hooks.posts.length + mails.files;
      if (done >= expected) break;
      if (Date.now() - drainBegan > DRAIN_TIMEOUT_MS) throw new Error(`drain: only ${done} of ${expected} deliveries after ${DRAIN_TIMEOUT_MS} ms`);
      if (now() - lastReport >= 5_000) {
        console.log(`  draining: ${fmt(hooks.posts.length)} webhooks, ${fmt(mails.files)} e-mails so far; ${load()}`);
        lastReport = now();
      }
      await sleep(50);
    }
    const drainCpu = cpuSecondsOf(server.pid) - cpuBefore;
    const mails = mailCount(mailDir);
    // From the first delivery of either kind to the last (mtimes are wall-clock ms, posts performance.now()).
    const offset = Date.now() - now();
    const firstMs = Math.min(hooks.posts[0]!.atMs + offset, mails.firstMtimeMs);
    const lastMs = Math.max(hooks.posts.at(-1)!.atMs + offset, mails.lastMtimeMs);
    const drainSeconds = (lastMs - firstMs) / 1000;
    const drainRate = expected / drainSeconds;
    const unique = new Set(hooks.posts.map((p) => p.deliveryId)).size;
    let outOfOrder = 0;
    const lastAmount = new Map<string, number>();
    for (const p of hooks.posts) {
      const amount = Number(p.amount);
      if ((lastAmount.get(p.path) ?? 0) >= amount) outOfOrder += 1;
      lastAmount.set(p.path, amount);
    }
    console.log(`  drain: ${fmt(hooks.posts.length)} webhooks (${fmt(unique)} distinct deliveries) + ${fmt(mails.files)} e-mails in ${fmt(drainSeconds, 2)} s: ${fmt(drainRate)} deliveries/s with ${WORKERS} worker${WORKERS === 1 ? "" : "s"}, server CPU ${fmt((drainCpu / drainSeconds) * 100)} % of one core; ${outOfOrder} out of order per person`);
    if (unique !== EVENTS || hooks.posts.length !== EVENTS || mails.files !== EVENTS || outOfOrder > 0) process.exitCode = 1;

    // --- steady load: event → inbox push --------------------------------------------------------
    const client = new Client(server.port, PRODUCERS + 4);
    /** topup id → [push received (wall ms), push received (performance ms), event appended (wall ms)] */
    const pushedAt = new Map<string, [number, number, number]>();
    for (const p of people) {
      const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { headers: { authorization: `Bearer ${p.token}` }, perMessageDeflate: false });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.on('error', reject);
        socket.on('message', (data) => {
          const m = JSON.parse(String(data));
          if (m.type === 'authenticated') resolve();
          if (m.type === 'push' && m.event.type === 'notification') {
            const n = m.event.notification;
            pushedAt.set(String(n.data.topupId), [Date.now(), now(), parseInt(String(n.eventId).replaceAll('-', '').slice(0, 12), 16)]);
          }
        });
      });
    }
    const hooksBefore = hooks.posts.length;
    const mailsBefore = mailCount(mailDir).files;
    const sent = new Map<string, number>();
    const began = now();
    let due = 0;
    let next = 0;
    const inFlight = new Set<Promise<void>>();
    while (now() - began < SECONDS * 1000) {
      due = Math.floor(((now() - began) / 1000) * RATE);
      while (next < due && inFlight.size < PRODUCERS * 4) {
        const p = people[next++ % USERS]!;
        const run: Promise<void> = topup(server, client, p)
          .then(({ id, approveSentAt }) => void sent.set(id, approveSentAt))
          .finally(() => inFlight.delete(run));
        inFlight.add(run);
      }
      await sleep(2);
    }
    await Promise.all([...inFlight]);
    const steadySeconds = (now() - began) / 1000;
    const settleUntil = now() + 10_000;
    while (now() < settleUntil && (hooks.posts.length - hooksBefore < sent.size || mailCount(mailDir).files - mailsBefore < sent.size || [...sent.keys()].some((id) => !pushedAt.has(id)))) await sleep(50);
    const latencies: number[] = [];
    const fromApproval: number[] = [];
    let missing = 0;
    for (const [id, at] of sent) {
      const pushed = pushedAt.get(id);
      if (pushed === undefined) missing += 1;
      else {
        latencies.push(pushed[0] - pushed[2]);
        fromApproval.push(pushed[1] - at);
      }
    }
    const sorted = Float64Array.from(latencies).sort();
    const p95 = percentile(sorted, 95);
    const approvalSorted = Float64Array.from(fromApproval).sort();
    console.log(`  steady: ${fmt(sent.size)} top-ups in ${fmt(steadySeconds, 1)} s (${fmt(sent.size / steadySeconds)} events/s = ${fmt((sent.size / steadySeconds) * 60)}/min); ${missing} pushes missing`);
    console.log(`  event → inbox push: p50 ${fmt(percentile(sorted, 50))} ms, p95 ${fmt(p95)} ms, p99 ${fmt(percentile(sorted, 99))} ms, max ${fmt(sorted.at(-1) ?? NaN)} ms (whole milliseconds: the event's time comes from its id)`);
    console.log(`  approval sent → inbox push: p50 ${fmt(percentile(approvalSorted, 50), 1)} ms, p95 ${fmt(percentile(approvalSorted, 95), 1)} ms, p99 ${fmt(percentile(approvalSorted, 99), 1)} ms`);
    // The webhook carries no event id: its event's millisecond is the one the inbox push of the same top-up carried.
    const hookLatencies = Float64Array.from(hooks.posts.slice(hooksBefore).flatMap((p) => {
      const pushed = pushedAt.get(p.topupId);
      return pushed ? [p.wallMs - pushed[2]] : [];
    })).sort();
    console.log(`  event → webhook received: p50 ${fmt(percentile(hookLatencies, 50))} ms, p95 ${fmt(percentile(hookLatencies, 95))} ms, p99 ${fmt(percentile(hookLatencies, 99))} ms`);
    console.log(`  delivered meanwhile: ${fmt(hooks.posts.length - hooksBefore)} webhooks, ${fmt(mailCount(mailDir).files - mailsBefore)} e-mails`);
    for (const s of sockets) s.close();
    client.close();
    console.log(`  ${await logSummary(server.logFile)}`);
    console.log(`  gavel (pid ${server.pid}) ${await stopServer(server)}`);
    server = undefined;
    if (missing > 0) process.exitCode = 1;
    console.log('');
    console.log(
      `notify: ${fmt(drainRate)} notifications/s delivered (webhook + e-mail, draining ${fmt(EVENTS)} events) with ${WORKERS} worker${WORKERS === 1 ? "" : "s"}, event → inbox push p95 ${fmt(p95)} ms and → webhook p95 ${fmt(percentile(hookLatencies, 95))} ms at ${fmt((sent.size / steadySeconds) * 60)} events/min (seed 003: 1,000/min within 200 ms); ${load()}`,
    );
  } finally {
    for (const s of sockets) s.terminate();
    if (server) await stopServer(server);
    hooks.close();
    rmSync(dir, { recursive: true, force: true });
    if (MAIL_PARENT) rmSync(mailDir, { recursive: true, force: true });
  }
}

await main();
