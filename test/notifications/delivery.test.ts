// Nothing is lost while no node delivers, and nothing is doubled when several do: the top-up
// credit and its event commit together; the notification follows from the outbox whenever a
// delivering node runs, exactly once.
import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../support/databases.js';
import { approvedTopup, inbox, newPerson, nodeOn, pause, until, type Node } from './support.js';

const storages: ScratchStorage[] = [];
const nodes: Node[] = [];
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

for (const dialect of DIALECTS) {
  describe(`notification delivery on ${dialect}`, () => {
    it('a credit committed while no node delivers is notified exactly once after a restart', async () => {
      const storage = await storageFor(dialect);
      // The node stops between the commit and the relay: it never delivers.
      const first = await start(storage, { outbox: { deliver: false } });
      const me = await newPerson(first);
      const topup = await approvedTopup(first, me, 'USD', '25.00');
      await pause(300);
      expect(await inbox(first, me)).toEqual({ items: [], nextCursor: null, unreadCount: 0 });
      await first.node.stop();

      const second = await start(storage);
      const page = await until('the notification', () => inbox(second, me), (p) => p.items.length > 0);
      await pause(300);
      expect((await inbox(second, me)).items).toEqual([expect.objectContaining({ kind: 'topup_credited', title: 'Top-up credited: 25.00 USD', data: { topupId: topup.id, currency: 'USD', amount: '25.00' } })]);
      expect(page.unreadCount).toBe(1);
      await second.node.stop();

      // And a second restart delivers nothing again.
      const third = await start(storage);
      await pause(300);
      expect((await inbox(third, me)).items).toHaveLength(1);
    });

    if (dialect === 'postgres') {
      it('two delivering nodes on one database notify each credit exactly once', async () => {
        const storage = await storageFor(dialect);
        const a = await start(storage, { outbox: { pollIntervalMs: 10 } });
        const b = await start(storage, { outbox: { pollIntervalMs: 10 } });
        const people = [await newPerson(a), await newPerson(b)];
        const topups = await Promise.all(Array.from({ length: 12 }, (_, i) => approvedTopup([a, b][i % 2]!, people[i % 3 === 0 ? 0 : 1]!, 'USD', `${i + 1}.00`)));
        const expected = people.map((p, pi) => topups.filter((_, i) => (i % 3 === 0 ? 0 : 1) === pi).length);
        for (const [pi, person] of people.entries()) {
          await until('all of them', () => inbox(a, person, '?limit=100'), (p) => p.items.length >= expected[pi]!);
        }
        await pause(300);
        const got = await Promise.all(people.map((p) => inbox(b, p, '?limit=100')));
        const topupIds = got.flatMap((p) => p.items.map((n) => n.data.topupId));
        expect(topupIds).toHaveLength(12);
        expect(new Set(topupIds)).toEqual(new Set(topups.map((t) => t.id)));
      });
    }
  });
}
