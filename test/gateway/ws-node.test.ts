// The gateway as a node runs it: /ws on the api node's own port, signing in with a token from
// POST /api/auth/login, metrics on /metrics, and close frames when the node stops.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { TestClient } from './ws-client.js';

describe('WebSocket gateway on a Gavel node', () => {
  let t: TestNode;
  let wsUrl: string;
  beforeAll(async () => {
    t = await startTestNode('sqlite', { host: '127.0.0.1', port: 0 }, { listen: true });
    const address = t.node.http.server.address();
    if (address === null || typeof address === 'string') throw new Error('the node is not listening');
    wsUrl = `ws://127.0.0.1:${address.port}/ws`;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('signs in with a login token, serves topic sources added later, and counts sockets in /metrics', async () => {
    const person = await t.newUser('Socket Person');
    const client = await TestClient.ready(wsUrl);
    expect(await client.request({ type: 'auth', token: person.token, id: 1 })).toMatchObject({ type: 'authenticated', userId: person.id });
    expect(await client.request({ type: 'auth', token: 'gvl_not-a-token', id: 2 })).toMatchObject({ type: 'error', code: 'INVALID_CREDENTIALS' });

    const gateway = t.node.ws!;
    gateway.addSource({ kind: 'demo', catchUp: async (id) => ({ seq: 0, snapshot: { id }, events: [] }) });
    expect(await client.request({ type: 'subscribe', topic: 'demo:one', id: 3 })).toMatchObject({ type: 'subscribed', seq: 0, snapshot: { id: 'one' } });
    gateway.publish('demo:one', 1, { hello: 'world' });
    expect(await client.next()).toEqual({ type: 'event', topic: 'demo:one', seq: 1, event: { hello: 'world' } });

    const metrics = await t.call('GET', '/metrics');
    expect(metrics.text).toMatch(/^gavel_ws_sockets 1$/m);
    expect(metrics.text).toMatch(/^gavel_ws_subscriptions 1$/m);
    await client.close();
  });

  it('a signed-out session cannot sign a socket in', async () => {
    const person = await t.newUser('Signed Out');
    expect((await t.call('POST', '/api/auth/logout', { token: person.token })).status).toBe(204);
    const client = await TestClient.ready(`${wsUrl}?token=${person.token}`);
    expect(await client.next()).toMatchObject({ type: 'error', code: 'INVALID_CREDENTIALS' });
    await client.close();
  });

  it('stopping the node closes sockets with 1001 before HTTP stops', async () => {
    const client = await TestClient.ready(wsUrl);
    await t.node.stop();
    expect(await client.closed).toEqual({ code: 1001, reason: 'server shutting down' });
  });
});
