// Nothing is lost while the notifier is down, and nothing is sent twice when it comes back:
// events wait in the outbox, deliveries wait in the queue, a lease left by a dead worker ends,
// and several nodes' workers share one database without taking the same delivery.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/platform/ids.js';
import { createLogger } from '../../src/platform/logging.js';
import type { NewEvent } from '../../src/platform/outbox/outbox.js';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../support/databases.js';
import { mailHeader, webhookReceiver, type WebhookReceiver } from './receivers.js';
import { inbox, newPerson, nodeOn, pause, until, type Node, type Person } from './support.js';

const FAST = { retry: { firstDelayMs: 20, maxDelayMs: 80 }, pollIntervalMs: 20 };

const storages: ScratchStorage[] = [];
const nodes: Node[] = [];
let hooks: WebhookReceiver;
beforeAll(async () => {
  hooks = await webhookReceiver();
});
afterAll(async () => hooks?.close());
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.node.stop()));
  await Promise.all(storages.splice(0).map((s) => s.drop()));
});

async function storageFor(dialect: (typeof DIALECTS)[number]) {
  const storage = await scratchStorage(dialect);
  storages.push(storage);
  return storage;
}
async function start(...args: Parameters<typeof nodeOn>) {
  const n = await nodeOn(...args);
  nodes.push(n);
  return n;
}
async function stop(n: Node) {
  nodes.splice(nodes.indexOf(n), 1);
  await n.node.stop();
}

let paths = 0;
async function register(n: Node, p: Person): Promise<string> {
  const path = `/durable-${++paths}`;
  const res = await n.call('POST', '/api/notifications/webhooks', { token: p.token, json: { url: hooks.url(path) } });
  expect(res.status, res.text).toBe(201);
  return path;
}
async function publish(n: Node, events: NewEvent[]) {
  await n.node.database.kysely.transaction().execute(async (tx) => {
    for (const e of events) await n.node.bus.append(tx, e);
  });
  n.node.bus.poke();
}
const credited = (p: Person, amount: string): NewEvent => ({
  topic: 'ledger.topup.credited',
  key: p.id,
  payload: { userId: p.id, topupId: uuidv7(Date.now()), currency: 'USD', amount, amountMinor: amount.replace('.', '') },
});
const amountsAt = (path: string) => hooks.accepted(path).map((p) => p.json.notification.data.amount as string);
/** The .eml files the embedded mailer wrote, by recipient address. */
function mailFiles(storage: ScratchStorage): Array<{ to: string; subject: string }> {
  let names: string[];
  try {
    names = readdirSync(join(storage.dataDir, 'mail')).filter((f) => f.endsWith('.eml'));
  } catch {
    return [];
  }
  return names.map((name) => {
    const raw = readFileSync(join(storage.dataDir, 'mail', name), 'utf8');
    return { to: mailHeader(raw, 'To')!, subject: mailHeader(raw, 'Subject')! };
  });
}

for (const dialect of DIALECTS) {
  describe(`notifications survive the notifier being down on ${dialect}`, () => {
    it('events produced while no worker runs arrive exactly once per channel after a restart', async () => {
      const storage = await storageFor(dialect);
      const down = await start(storage, { outbox: { deliver: false }, notifications: { ...FAST, deliver: false } });
      const people = [await newPerson(down), await newPerson(down)];
      const paths = [await register(down, people[0]!), await register(down, people[1]!)];
      const amounts = ['1.00', '2.00', '3.00'];
      for (const a of amounts) await publish(down, people.map((p) => credited(p, a)));
      await pause(300);
      expect(hooks.posts(paths[0]!)).toEqual([]);
      expect(mailFiles(storage)).toEqual([]);
      expect((await inbox(down, people[0]!)).items).toEqual([]);
      await stop(down);

      const up = await start(storage, { notifications: FAST });
      for (const [i, p] of people.entries()) {
        await until('every channel', async () => [amountsAt(paths[i]!).length, (await inbox(up, p)).items.length], ([w, n]) => w === 3 && n === 3);
      }
      await until('the mail', async () => mailFiles(storage).length, (n) => n === 6);
      await pause(300);
      await stop(up);

      // And a second restart sends nothing again.
      const again = await start(storage, { notifications: FAST });
      await pause(500);
      for (const [i, p] of people.entries()) {
        expect(amountsAt(paths[i]!)).toEqual(amounts);
        expect(hooks.posts(paths[i]!)).toHaveLength(3);
        expect((await inbox(again, p)).items.map((n) => n.data.amount)).toEqual(['3.00', '2.00', '1.00']);
      }
      const mails = mailFiles(storage);
      expect(mails).toHaveLength(6);
      expect(mails.map((m) => m.subject).sort()).toEqual(['1.00', '1.00', '2.00', '2.00', '3.00', '3.00'].map((a) => `Top-up credited: ${a} USD`));
    });

    it('deliveries queued while the workers were stopped go out once when they start', async () => {
      const storage = await storageFor(dialect);
      // The inbox consumer runs (the inbox fills, jobs are queued) but no worker sends.
      const half = await start(storage, { notifications: { ...FAST, deliver: false } });
      const me = await newPerson(half);
      const path = await register(half, me);
      await publish(half, [credited(me, '5.00'), credited(me, '6.00')]);
      await until('the inbox', () => inbox(half, me), (p) => p.items.length === 2);
      await until('the queue', () => half.node.notifications.queue.countByState(), (c) => c.pending === 4); // 2 webhook + 2 e-mail
      await pause(200);
      expect(hooks.posts(path)).toEqual([]);
      await stop(half);

      const lines: Array<Record<string, unknown>> = [];
      const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
      const up = await start(storage, { notifications: FAST, logger });
      // At start it says where e-mail goes.
      expect(lines.find((l) => typeof l.msg === 'string' && l.msg.includes('.eml files into'))?.msg).toContain(join(storage.dataDir, 'mail'));
      await until('both', async () => amountsAt(path), (a) => a.length === 2);
      await until('all delivered', () => up.node.notifications.queue.countByState(), (c) => c.delivered === 4 && c.pending === 0);
      await pause(200);
      expect(amountsAt(path)).toEqual(['5.00', '6.00']);
      expect(hooks.posts(path)).toHaveLength(2);
      expect(mailFiles(storage)).toHaveLength(2);
    });

    it('a delivery leased by a worker that died is taken again when the lease ends', async () => {
      const storage = await storageFor(dialect);
      const first = await start(storage, { notifications: { ...FAST, deliver: false } });
      const me = await newPerson(first);
      const path = await register(first, me);
      // E-mail off, so the webhook is the only delivery.
      expect((await first.call('PUT', '/api/notifications/preferences', { token: me.token, json: { kinds: { topup_credited: { email: false } } } })).status).toBe(200);
      await publish(first, [credited(me, '9.00')]);
      await until('the queue', () => first.node.notifications.queue.countByState(), (c) => c.pending === 1);
      // A worker takes it for a minute and dies before sending.
      const [taken] = await first.node.notifications.queue.claim({ nowMs: Date.now(), leaseMs: 60_000, limit: 10, leaseToken: uuidv7(Date.now()) });
      expect(taken).toMatchObject({ channel: 'webhook', attempts: 1 });
      await stop(first);

      // The next node's clock can be moved on past the end of that lease.
      let shiftMs = 0;
      const up = await start(storage, { notifications: FAST, clock: { nowMs: () => Date.now() + shiftMs } });
      await pause(300);
      expect(hooks.posts(path)).toEqual([]); // still leased
      shiftMs = 61_000;
      await until('the delivery', async () => amountsAt(path), (a) => a.length === 1);
      expect(hooks.accepted(path)[0]!.headers['gavel-attempt']).toBe('2');
      expect(hooks.accepted(path)[0]!.headers['gavel-delivery-id']).toBe(taken!.id);
      await pause(200);
      expect(hooks.posts(path)).toHaveLength(1);
      expect((await up.node.notifications.queue.find(taken!.id))?.state).toBe('delivered');
    });

    it('N workers make N deliveries at once, never more', async () => {
      const slow = await webhookReceiver(100);
      try {
        const storage = await storageFor(dialect);
        const n = await start(storage, { notifications: FAST }, { notifyWorkers: 3 });
        const people = await Promise.all(Array.from({ length: 6 }, () => newPerson(n)));
        for (const [i, p] of people.entries()) {
          const res = await n.call('POST', '/api/notifications/webhooks', { token: p.token, json: { url: slow.url(`/slow-${i}`) } });
          expect(res.status).toBe(201);
        }
        await publish(n, ['1.00', '2.00', '3.00'].flatMap((a) => people.map((p) => credited(p, a))));
        await until('every delivery', async () => people.map((_, i) => slow.accepted(`/slow-${i}`).length), (counts) => counts.every((c) => c === 3), 20_000);
        expect(slow.maxConcurrentAll()).toBe(3);
      } finally {
        await slow.close();
      }
    });

    if (dialect === 'postgres') {
      it("two nodes' workers on one database deliver each notification once, in order per destination", async () => {
        const storage = await storageFor(dialect);
        const a = await start(storage, { notifications: FAST }, { notifyWorkers: 4 });
        const b = await start(storage, { notifications: FAST }, { notifyWorkers: 4 });
        const people = [await newPerson(a), await newPerson(b), await newPerson(a)];
        const paths = [await register(a, people[0]!), await register(b, people[1]!), await register(a, people[2]!)];
        const amounts = Array.from({ length: 15 }, (_, i) => `${i + 1}.00`);
        for (const [i, amount] of amounts.entries()) await publish([a, b][i % 2]!, people.map((p) => credited(p, amount)));
        for (const path of paths) await until('all of them', async () => amountsAt(path), (got) => got.length === amounts.length);
        await pause(300);
        for (const path of paths) {
          expect(amountsAt(path)).toEqual(amounts);
          expect(hooks.posts(path)).toHaveLength(amounts.length);
          expect(hooks.maxConcurrent(path)).toBe(1);
        }
        expect(mailFiles(storage)).toHaveLength(3 * amounts.length);
      });
    }
  });
}
