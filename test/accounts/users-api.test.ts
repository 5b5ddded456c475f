import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';

for (const dialect of DIALECTS) {
  describe(`users API on ${dialect}`, () => {
    let t: TestNode;
    beforeAll(async () => {
      t = await startTestNode(dialect);
    });
    afterAll(async () => t?.close());

    it('an admin creates a user, reads it back, and it counts', async () => {
      const token = await t.adminToken();
      const before = await t.call('GET', '/api/user/count', { token });
      const created = await t.call('POST', '/api/user', { token, json: { name: 'John Doe', email: 'john.doe@gmail.com', group: 3 } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: 'John Doe', email: 'john.doe@gmail.com', group: 3, roles: ['bidder'], reputation: 50 });
      expect(created.headers.location).toBe(`/api/user/${created.body.id}`);
      const read = await t.call('GET', `/api/user/${created.body.id}`, { token });
      expect(read.body).toEqual(created.body);
      const after = await t.call('GET', '/api/user/count', { token });
      expect(after.body.count).toBe(before.body.count + 1);
    });
  });
}
