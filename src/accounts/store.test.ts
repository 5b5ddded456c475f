// The accounts store on each dialect: what the service relies on when requests race.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../../test/support/databases.js';
import { MODULE_MIGRATIONS } from '../gavel.js';
import { openDatabase, type Database } from '../platform/db/database.js';
import { migrateAll } from '../platform/db/migrations.js';
import { uuidv7 } from '../platform/ids.js';
import { clampReputation, REPUTATION, type User } from './model.js';
import { AccountsStore } from './store.js';

function aUser(nowMs: number, email: string): User {
  return { id: uuidv7(nowMs), name: 'Store Test', email, group: 0, roles: ['bidder'], reputation: REPUTATION.initial, createdAtMs: nowMs, updatedAtMs: nowMs };
}

for (const dialect of DIALECTS) {
  describe(`accounts store on ${dialect}`, () => {
    let storage: ScratchStorage;
    let database: Database;
    let store: AccountsStore;
    beforeAll(async () => {
      storage = await scratchStorage(dialect);
      database = await openDatabase(storage);
      await migrateAll(database, MODULE_MIGRATIONS);
      store = new AccountsStore(database);
    });
    afterAll(async () => {
      await database?.close();
      await storage?.drop();
    });

    it('an update that lands after a delete reports NOT_FOUND and does not revive the user', async () => {
      const user = aUser(1_000, 'raced@gavel.test');
      expect(await store.insertUser(user, null)).toEqual({ ok: true });
      expect(await store.deleteUser(user.id, 2_000)).toBe(true);
      expect(await store.updateUser({ ...user, name: 'Too Late', updatedAtMs: 3_000 })).toEqual({ ok: false, code: 'NOT_FOUND' });
      expect(await store.findUser(user.id)).toBeUndefined();
    });

    it('two emails differing only in case cannot both be inserted, even at once', async () => {
      const results = await Promise.all([store.insertUser(aUser(4_000, 'Twin@gavel.test'), null), store.insertUser(aUser(4_001, 'twin@GAVEL.test'), null)]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok)).toEqual([{ ok: false, code: 'EMAIL_TAKEN' }]);
    });

    it('concurrent reputation changes all count, and the value stays within 0–100', async () => {
      const user = aUser(5_000, 'reputation@gavel.test');
      await store.insertUser(user, null);
      const changes = Array.from({ length: 10 }, (_, i) => store.adjustReputation({ id: uuidv7(6_000 + i), userId: user.id, delta: 3, reason: 'test', nowMs: 6_000 + i }, clampReputation));
      const after = await Promise.all(changes);
      expect(Math.max(...after.map(Number))).toBe(80);
      expect((await store.findUser(user.id))?.reputation).toBe(80);
      expect(await store.adjustReputation({ id: uuidv7(7_000), userId: user.id, delta: 500, reason: 'test', nowMs: 7_000 }, clampReputation)).toBe(100);
      expect(await store.adjustReputation({ id: uuidv7(7_001), userId: user.id, delta: -500, reason: 'test', nowMs: 7_001 }, clampReputation)).toBe(0);
    });
  });
}
