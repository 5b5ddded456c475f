// accounts.service.contactOf: the narrow read other modules use to reach a person (the
// notifications module mails them) — a name and an address as they are now, nothing else,
// and nothing at all for someone who is not there.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { ROOMY_LIMITS, uniqueEmail } from '../support/problems.js';

for (const dialect of DIALECTS) {
  describe(`a person's contact for other modules on ${dialect}`, () => {
    let t: TestNode;
    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: ROOMY_LIMITS });
    });
    afterAll(async () => t?.close());

    it('is their name and e-mail address only, as they are now', async () => {
      const me = await t.newUser('Ada Lovelace');
      expect(await t.node.accounts.service.contactOf(me.id)).toEqual({ name: 'Ada Lovelace', email: me.email });
      const email = uniqueEmail('ada');
      const changed = await t.call('PUT', '/api/user', { token: me.token, json: { id: me.id, name: 'Ada King', email } });
      expect(changed.status, changed.text).toBe(200);
      expect(await t.node.accounts.service.contactOf(me.id)).toEqual({ name: 'Ada King', email });
    });

    it('is undefined for a deleted person and for one who never was', async () => {
      const me = await t.newUser();
      const deleted = await t.call('DELETE', `/api/user/${me.id}`, { token: me.token });
      expect(deleted.status, deleted.text).toBe(204);
      expect(await t.node.accounts.service.contactOf(me.id)).toBeUndefined();
      expect(await t.node.accounts.service.contactOf(randomUUID())).toBeUndefined();
    });
  });
}
