// Notifications end to end on the embedded default: events become an inbox entry pushed over
// the WebSocket, a signed webhook POST and an e-mail (.eml file), through the durable queue and
// its N workers. Gavel runs as a child process (SQLite in a fresh temp dir); the webhook
// receiver and the sockets live here.
//
// 1. Backlog: Gavel runs without the worker role while NOTIFY_EVENTS sandbox top-ups are
//    credited (each a `ledger.topup.credited` event), so every notification waits (events in
//    the outbox). Then it restarts with every role, and the drain is timed: webhook + e-mail
//    deliveries per second with N workers, from the first delivery to the last. Each must
//    arrive exactly once, in order per person.
// 2. Steady load: NOTIFY_RATE events a second for NOTIFY_SECONDS with every person's socket
//    open; measured: event → inbox push latency (the event's id is a UUIDv7 whose first 48 bits
//    are the millisecond it was appended, on this machine's clock → the push arrives here),
//    event → webhook received and event → e-mail written (the same clock), beside request
//    sent → push, which adds the producer's own request.
//    The events (NOTIFY_SOURCE) are outbids by default: people bid in pairs on USERS/2 open
//    auctions, each accepted bid outbids the other of the pair, and everyone has chosen e-mail
//    for outbids too, so each event is an inbox entry (+ push), a webhook and an e-mail. With
//    NOTIFY_SOURCE=topups they are credited top-ups, as in the backlog: realistic too, but a
//    top-up costs the server several times a bid (two requests, a payment webhook and five
//    commits, against one request and a share of a grouped commit), so the producers take most
//    of the two cores and the notifications' own limit is not reached.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { request as httpRequest } from '../test/support/process.js';
import { loadConfig } from '../src/platform/config.js';
import { Client, cpuSecondsOf, fmt, forEach, load, logSummary, openTimedAuctions, percentile, sleep, startServer, stopServer, usd, type Server } from './support.js';

const EVENTS = Number(process.env.NOTIFY_EVENTS ?? 2_000);
const USERS = Number(process.env.NOTIFY_USERS ?? 200);
const WORKERS = Number(process.env.NOTIFY_WORKERS ?? loadConfig({}, {}).notifyWorkers); // Gavel's default (--notify-workers)
/** Events a second asked for in the steady load: 600 outbids make 1,800 notifications a second, past the aim of 100,000 a minute (1,667). */
const RATE = Number(process.env.NOTIFY_RATE ?? 600);
const SECONDS = Number(process.env.NOTIFY_SECONDS ?? 20);
const PRODUCERS = Number(process.env.NOTIFY_PRODUCERS ?? 48);
/** What the steady load's events are: credited top-ups, or outbids from bids (see the top). */
const SOURCE = process.env.NOTIFY_SOURCE ?? 'outbids';
if (SOURCE !== 'topups' && SOURCE !== 'outbids') throw new Error(`NOTIFY_SOURCE must be topups or outbids, not ${SOURCE}`);
const STARTING_CENTS = 1_000; // outbids: auctions start at 10.00 USD
const INCREMENT_CENTS = 100; // and rise by a flat 1.00, so a bid at the minimum sets the price
const FUNDS = '100000000.00'; // outbids: per person, more than any bid it makes
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

/** Outbids: an open auction that two people take turns to lead. */
interface Duel {
  auctionId: string;
  pair: [Person, Person];
  /** Which of the pair bids next (the other one leads). */
  turn: 0 | 1;
  /** The next bid, at the minimum: the price it sets. */
  nextCents: number;
  busy: boolean;
}

/** What a notification is about, the same whichever way it arrived: a top-up, or an outbid at one price on one auction. */
const subjectOf = (data: { topupId?: unknown; auctionId?: unknown; price?: unknown }) => (data.topupId !== undefined ? String(data.topupId) : `${String(data.auctionId)}@${String(data.price)}`);

/** The webhook endpoint: every POST's path, arrival time and notification, answered 204 at once. */
function receiver(): Promise<{ url: string; posts: Array<{ path: string; atMs: number; wallMs: number; deliveryId: string; amount: string; subject: string }>; close(): void }> {
  const posts: Array<{ path: string; atMs: number; wallMs: number; deliveryId: string; amount: string; subject: string }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const data = body.notification.data;
      posts.push({ path: req.url ?? '', atMs: now(), wallMs: Date.now(), deliveryId: String(req.headers['gavel-delivery-id']), amount: data.amount ?? data.price, subject: subjectOf(data) });
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

/**
 * Outbids: every person funded and opted into e-mail for outbids; USERS/2 timed auctions open
 * for an hour, people 2a and 2a+1 joined to auction a, and 2a's opening bid made, so that
 * every later bid outbids somebody.
 */
async function openDuels(client: Client, people: Person[]): Promise<Duel[]> {
  const adminToken = (await client.ok('POST', '/api/auth/login', 200, { json: ADMIN })).token as string;
  await forEach(people.length, 16, async (i) => {
    const p = people[i]!;
    await client.ok('POST', '/api/ledger/adjustments', 201, { token: adminToken, json: { userId: p.id, currency: 'USD', amount: FUNDS, direction: 'credit', memo: 'bench funds' } });
    await client.ok('PUT', '/api/notifications/preferences', 200, { token: p.token, json: { kinds: { outbid: { inbox: true, webhook: true, email: true } } } });
  });
  const categoryId = (await client.ok('POST', '/api/categories', 201, { token: adminToken, json: { name: 'Notify bench' } })).id as string;
  await client.ok('POST', '/api/user', 201, { token: adminToken, json: { name: 'Bench seller', email: 'seller@bench.test', roles: ['seller'], password: PASSWORD } });
  const sellerToken = (await client.ok('POST', '/api/auth/login', 200, { json: { email: 'seller@bench.test', password: PASSWORD } })).token as string;
  const auctionIds = await openTimedAuctions((...args) => client.ok(...args), { sellerToken, categoryId, count: Math.floor(people.length / 2), title: (a) => `Notify lot ${a}`, description: 'A lot for the notification benchmark', startingCents: STARTING_CENTS, incrementCents: INCREMENT_CENTS, inFlight: 16 });
  const duels: Duel[] = auctionIds.map((auctionId, a) => ({ auctionId, pair: [people[2 * a]!, people[2 * a + 1]!], turn: 0, nextCents: STARTING_CENTS, busy: false }));
  await forEach(duels.length, 16, async (a) => {
    const duel = duels[a]!;
    for (const p of duel.pair) await client.ok('POST', `/api/auctions/${duel.auctionId}/join`, 200, { token: p.token });
    await outbid(client, duel); // the opening bid: it outbids nobody
  });
  return duels;
}

/** The duel's next bid, at the minimum, by the one of the pair who does not lead; returns the outbid's subject, whom it outbid and the new price. */
async function outbid(client: Client, duel: Duel): Promise<{ subject: string; recipient: Person; price: string }> {
  const price = usd(duel.nextCents);
  const recipient = duel.pair[duel.turn === 0 ? 1 : 0];
  const res = await client.request('POST', `/api/auctions/${duel.auctionId}/bids`, { token: duel.pair[duel.turn].token, json: { amount: price, currency: 'USD' } });
  if (res.status !== 201) throw new Error(`bid on ${duel.auctionId}: expected 201, got ${res.status}: ${res.text.slice(0, 300)}`);
  duel.turn = duel.turn === 0 ? 1 : 0;
  duel.nextCents += INCREMENT_CENTS;
  return { subject: subjectOf({ auctionId: duel.auctionId, price }), recipient, price };
}

/** An e-mail's key: whom it went to and the first amount in its text (a top-up's amount, an outbid's new price; each is new per person). */
const mailKeyOf = (person: number, amount: string) => `${person}|${amount}`;

/** Each .eml file written since `sinceWallMs`: its key (mailKeyOf) and when it was written (its mtime, wall-clock ms). */
function mailsSince(mailDir: string, sinceWallMs: number): Array<{ key: string; wallMs: number }> {
  const out: Array<{ key: string; wallMs: number }> = [];
  for (const name of readdirSync(mailDir)) {
    if (!name.endsWith('.eml')) continue;
    const file = join(mailDir, name);
    const wallMs = statSync(file).mtimeMs;
    if (wallMs < sinceWallMs) continue;
    const raw = readFileSync(file, 'utf8');
    const split = raw.indexOf('\n\n');
    const to = /^To: .*person-(\d+)@bench\.test/m.exec(raw.slice(0, split));
    // Quoted-printable: soft line breaks and =XX escapes out before reading the amount.
    const body = raw.slice(split + 2).replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    const amount = /(\d+\.\d{2}) USD/.exec(body);
    if (to && amount) out.push({ key: mailKeyOf(Number(to[1]), amount[1]!), wallMs });
  }
  return out;
}

/** The first duel from `from` on (round the ring) with no bid in flight. */
function idleDuelFrom(duels: Duel[], from: number): Duel | undefined {
  for (let k = 0; k < duels.length; k++) {
    const duel = duels[(from + k) % duels.length]!;
    if (!duel.busy) return duel;
  }
  return undefined;
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

async function backlog(dataDir: string, hookBase: string): Promise<{ people: Person[]; duels: Duel[] }> {
  const env = { GAVEL_ADMIN_EMAIL: ADMIN.email, GAVEL_ADMIN_PASSWORD: ADMIN.password, GAVEL_NOTIFY_WORKERS: String(WORKERS), GAVEL_ROLE: 'api,engine', GAVEL_WEBHOOK_ALLOW_PRIVATE: '1' };
  const server = await startServer(dataDir, { env });
  const client = new Client(server.port, PRODUCERS + 4);
  try {
    const people = await setUp(server, client, hookBase);
    console.log(`  set-up: ${USERS} people signed in, each with a webhook; ${load()}`);
    const duels = SOURCE === 'outbids' ? await openDuels(client, people) : [];
    if (SOURCE === 'outbids') console.log(`  set-up: ${duels.length} auctions open, two people bidding on each, everyone funded and opted into e-mail for outbids; ${load()}`);
    const began = now();
    await forEach(EVENTS, PRODUCERS, async (i) => {
      await topup(server, client, people[i % USERS]!);
    });
    console.log(`  backlog: ${fmt(EVENTS)} top-ups credited in ${fmt((now() - began) / 1000, 1)} s (${fmt(EVENTS / ((now() - began) / 1000))}/s) with no worker running; ${load()}`);
    return { people, duels };
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
    const { people, duels } = await backlog(dataDir, hooks.url);

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
    /** subject (subjectOf) → [push received (wall ms), push received (performance ms), event appended (wall ms)] */
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
            pushedAt.set(subjectOf(n.data), [Date.now(), now(), parseInt(String(n.eventId).replaceAll('-', '').slice(0, 12), 16)]);
          }
        });
      });
    }
    const hooksBefore = hooks.posts.length;
    const mailsBefore = mailCount(mailDir).files;
    const sent = new Map<string, number>();
    /** mailKeyOf(recipient, amount) → subject: which event an e-mail is of. */
    const mailSubjects = new Map<string, string>();
    const beganWallMs = Date.now();
    const began = now();
    let due = 0;
    let next = 0;
    const inFlight = new Set<Promise<void>>();
    while (now() - began < SECONDS * 1000) {
      due = Math.floor(((now() - began) / 1000) * RATE);
      while (next < due && inFlight.size < PRODUCERS * 4) {
        let run: Promise<void>;
        if (SOURCE === 'topups') {
          const p = people[next++ % USERS]!;
          run = topup(server, client, p).then(({ id, approveSentAt }) => {
            sent.set(id, approveSentAt);
            mailSubjects.set(mailKeyOf(p.index, `${p.topups}.00`), id);
          });
        } else {
          // The next auction whose last bid has been answered: one bid at a time on each, so each outbids the other of its pair.
          const duel = idleDuelFrom(duels, next);
          if (!duel) break;
          next++;
          duel.busy = true;
          const bidSentAt = now();
          run = outbid(client, duel)
            .then(({ subject, recipient, price }) => {
              sent.set(subject, bidSentAt);
              mailSubjects.set(mailKeyOf(recipient.index, price), subject);
            })
            .finally(() => (duel.busy = false));
        }
        run = run.finally(() => inFlight.delete(run));
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
    const perMinute = (sent.size / steadySeconds) * 60;
    console.log(`  steady: ${fmt(sent.size)} ${SOURCE === 'topups' ? 'top-ups' : 'outbids'} in ${fmt(steadySeconds, 1)} s (${fmt(sent.size / steadySeconds)} events/s = ${fmt(perMinute)}/min, each an inbox entry, a webhook and an e-mail: ${fmt(perMinute * 3)} notifications/min); ${missing} pushes missing`);
    console.log(`  event → inbox push: p50 ${fmt(percentile(sorted, 50))} ms, p95 ${fmt(p95)} ms, p99 ${fmt(percentile(sorted, 99))} ms, max ${fmt(sorted.at(-1) ?? NaN)} ms (whole milliseconds: the event's time comes from its id)`);
    console.log(`  ${SOURCE === 'topups' ? 'approval' : 'bid'} sent → inbox push: p50 ${fmt(percentile(approvalSorted, 50), 1)} ms, p95 ${fmt(percentile(approvalSorted, 95), 1)} ms, p99 ${fmt(percentile(approvalSorted, 99), 1)} ms`);
    // The webhook carries no event id: its event's millisecond is the one the inbox push of the same top-up carried.
    const hookLatencies = Float64Array.from(hooks.posts.slice(hooksBefore).flatMap((p) => {
      const pushed = pushedAt.get(p.subject);
      return pushed ? [p.wallMs - pushed[2]] : [];
    })).sort();
    console.log(`  event → webhook received: p50 ${fmt(percentile(hookLatencies, 50))} ms, p95 ${fmt(percentile(hookLatencies, 95))} ms, p99 ${fmt(percentile(hookLatencies, 99))} ms`);
    const mailLatencies = Float64Array.from(mailsSince(mailDir, beganWallMs).flatMap((m) => {
      const subject = mailSubjects.get(m.key);
      const pushed = subject === undefined ? undefined : pushedAt.get(subject);
      return pushed ? [m.wallMs - pushed[2]] : [];
    })).sort();
    console.log(`  event → e-mail written: p50 ${fmt(percentile(mailLatencies, 50))} ms, p95 ${fmt(percentile(mailLatencies, 95))} ms, p99 ${fmt(percentile(mailLatencies, 99))} ms (${fmt(mailLatencies.length)} e-mails matched to their event)`);
    console.log(`  delivered meanwhile: ${fmt(hooks.posts.length - hooksBefore)} webhooks, ${fmt(mailCount(mailDir).files - mailsBefore)} e-mails`);
    for (const s of sockets) s.close();
    client.close();
    console.log(`  ${await logSummary(server.logFile)}`);
    console.log(`  gavel (pid ${server.pid}) ${await stopServer(server)}`);
    server = undefined;
    if (missing > 0) process.exitCode = 1;
    console.log('');
    console.log(
      `notify: ${fmt(drainRate)} notifications/s delivered (webhook + e-mail, draining ${fmt(EVENTS)} events) with ${WORKERS} worker${WORKERS === 1 ? "" : "s"}, event → inbox push p95 ${fmt(p95)} ms, → webhook p95 ${fmt(percentile(hookLatencies, 95))} ms and → e-mail p95 ${fmt(percentile(mailLatencies, 95))} ms at ${fmt(perMinute)} ${SOURCE === 'topups' ? 'top-ups' : 'outbids'}/min = ${fmt(perMinute * 3)} notifications/min (seed 003: 1,000/min within 200 ms; aim 100,000/min); ${load()}`,
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
