// The WebSocket gateway over real sockets on 127.0.0.1: a bare HTTP server, a fake topic source
// standing in for the auctions engine, and tokens that a fake authenticator knows.
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { WsGateway, type CatchUp, type TopicSource, type WsGatewayOptions } from '../../src/gateway/ws.js';
import type { Principal } from '../../src/platform/auth/principal.js';
import { ManualClock } from '../../src/platform/clock.js';
import { AppError } from '../../src/platform/errors.js';
import { createLogger } from '../../src/platform/logging.js';
import { TestClient, type Message } from './ws-client.js';

const NOW_MS = 1_750_000_000_000;
const PRINCIPALS: Record<string, Principal> = {
  'token-alice': { userId: 'alice', roles: ['bidder'], sessionId: 'session-alice' },
  'token-alice-2': { userId: 'alice', roles: ['bidder'], sessionId: 'session-alice-2' },
  'token-bob': { userId: 'bob', roles: ['bidder', 'seller'], sessionId: 'session-bob' },
};

/** An auction feed in memory: a log per auction, published through the gateway like the engine will. */
class FakeAuctions implements TopicSource {
  readonly kind = 'auction';
  readonly logs = new Map<string, Array<{ seq: number; event: unknown }>>();
  /** When set, catchUp waits for it: `readAt` says whether the state is read before or after. */
  hold: { released: Promise<void>; readAt: 'before' | 'after' } | undefined;
  catchUps: Array<{ id: string; principal: Principal | null; fromSeq: number | null }> = [];

  constructor(private readonly gateway: () => WsGateway) {}

  append(id: string, event: unknown, options: { conflate?: string } = {}): number {
    const log = this.logFor(id);
    const seq = log.length + 1;
    log.push({ seq, event });
    this.gateway().publish(`auction:${id}`, seq, event, options);
    return seq;
  }

  async catchUp(id: string, principal: Principal | null, fromSeq: number | null): Promise<CatchUp> {
    this.catchUps.push({ id, principal, fromSeq });
    if (id === 'missing') throw new AppError('NOT_FOUND', `no auction ${id}`);
    if (id.startsWith('sealed') && !principal) throw new AppError('FORBIDDEN', 'sign in to follow a sealed auction');
    if (id === 'broken') throw new Error('database on fire');
    const hold = this.hold;
    if (hold?.readAt === 'after') await hold.released;
    const answer = this.answer(id, fromSeq);
    if (hold?.readAt === 'before') await hold.released;
    return answer;
  }

  private answer(id: string, fromSeq: number | null): CatchUp {
    const log = [...this.logFor(id)];
    const seq = log.length;
    if (fromSeq === null) return { seq, snapshot: { auction: id, eventsSoFar: seq }, events: [] };
    return { seq: fromSeq, events: log.filter((e) => e.seq > fromSeq) };
  }

  private logFor(id: string) {
    let log = this.logs.get(id);
    if (!log) this.logs.set(id, (log = []));
    return log;
  }
}

interface Harness {
  gateway: WsGateway;
  auctions: FakeAuctions;
  server: Server;
  url: string;
  registry: Registry;
  clock: ManualClock;
}

const open: Array<{ harness: Harness; clients: TestClient[] }> = [];

async function startGateway(options: Partial<WsGatewayOptions> = {}): Promise<Harness & { client: (query?: string, headers?: Record<string, string>) => Promise<TestClient> }> {
  const registry = new Registry();
  const clock = new ManualClock(NOW_MS);
  let gateway!: WsGateway;
  const auctions = new FakeAuctions(() => gateway);
  gateway = new WsGateway({
    logger: createLogger('silent'),
    clock,
    authenticate: async (token) => PRINCIPALS[token] ?? null,
    sources: [auctions],
    registry,
    ...options,
  });
  const server = createServer((_req, res) => res.writeHead(404).end());
  gateway.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
  const harness: Harness = { gateway, auctions, server, url, registry, clock };
  const clients: TestClient[] = [];
  open.push({ harness, clients });
  const client = async (query = '', headers: Record<string, string> = {}) => {
    const c = await TestClient.ready(url + query, { headers });
    clients.push(c);
    return c;
  };
  return { ...harness, client };
}

afterEach(async () => {
  for (const { harness, clients } of open.splice(0)) {
    await Promise.all(clients.map((c) => c.close()));
    await harness.gateway.close();
    await new Promise((resolve) => harness.server.close(resolve));
  }
});

const events = (messages: Message[], topic: string) => messages.filter((m) => m.type === 'event' && m.topic === topic);

/** Waits until `check` holds, polling; fails after `timeoutMs`. */
async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('WebSocket gateway: connecting and feeds', () => {
  it('hello and pong carry the server time, so a client can compute its clock offset', async () => {
    const { url, clock } = await startGateway({ heartbeatMs: 10_000 });
    const client = await TestClient.connect(url);
    open.at(-1)!.clients.push(client);
    expect(await client.next()).toEqual({ type: 'hello', serverTimeMs: NOW_MS, heartbeatMs: 10_000, messageBytesMax: 16 * 1024 });
    clock.advance(1234);
    expect(await client.request({ type: 'ping', id: 'p1' })).toEqual({ type: 'pong', serverTimeMs: NOW_MS + 1234, id: 'p1' });
  });

  it('subscribe answers a snapshot at its seq, then live events follow in order', async () => {
    const { auctions, client } = await startGateway();
    auctions.append('a1', { kind: 'opened' });
    auctions.append('a1', { kind: 'bid', amount: '10.00' });
    const c = await client();
    expect(await c.request({ type: 'subscribe', topic: 'auction:a1', id: 1 })).toEqual({
      type: 'subscribed',
      topic: 'auction:a1',
      seq: 2,
      snapshot: { auction: 'a1', eventsSoFar: 2 },
      id: 1,
    });
    auctions.append('a1', { kind: 'bid', amount: '11.00' });
    expect(await c.next()).toEqual({ type: 'event', topic: 'auction:a1', seq: 3, event: { kind: 'bid', amount: '11.00' } });
  });

  for (const readAt of ['before', 'after'] as const) {
    it(`events published while the catch-up is in flight arrive once each, with no gap (state read ${readAt} they are published)`, async () => {
      const { auctions, client } = await startGateway();
      for (let i = 1; i <= 3; i++) auctions.append('race', { n: i });
      let release!: () => void;
      auctions.hold = { released: new Promise((r) => (release = r)), readAt };
      const c = await client();
      c.send({ type: 'subscribe', topic: 'auction:race', fromSeq: 1 });
      await until(() => auctions.catchUps.length === 1, 'the catch-up to start');
      auctions.append('race', { n: 4 });
      auctions.append('race', { n: 5 });
      release();
      const subscribed = await c.next((m) => m.type === 'subscribed');
      expect(subscribed.seq).toBe(1);
      auctions.append('race', { n: 6 });
      await c.next((m) => m.type === 'event' && m.seq === 6);
      expect(events(c.received, 'auction:race').map((m) => m.seq)).toEqual([2, 3, 4, 5, 6]);
      expect(events(c.received, 'auction:race').map((m) => m.event.n)).toEqual([2, 3, 4, 5, 6]);
    });
  }

  it('a client resuming with fromSeq gets only what it missed, then live events', async () => {
    const { auctions, client } = await startGateway();
    for (let i = 1; i <= 5; i++) auctions.append('resume', { n: i });
    const c = await client();
    const subscribed = await c.request({ type: 'subscribe', topic: 'auction:resume', fromSeq: 3, id: 's' });
    expect(subscribed).toEqual({ type: 'subscribed', topic: 'auction:resume', seq: 3, id: 's' });
    auctions.append('resume', { n: 6 });
    await c.next((m) => m.seq === 6);
    expect(events(c.received, 'auction:resume').map((m) => m.seq)).toEqual([4, 5, 6]);
    expect(auctions.catchUps.at(-1)).toMatchObject({ id: 'resume', fromSeq: 3 });
  });

  it('after unsubscribed, the socket gets no more events of that topic', async () => {
    const { auctions, client } = await startGateway();
    const leaving = await client();
    const staying = await client();
    for (const c of [leaving, staying]) await c.request({ type: 'subscribe', topic: 'auction:u', id: 'sub' });
    expect(await leaving.request({ type: 'unsubscribe', topic: 'auction:u', id: 'unsub' })).toEqual({ type: 'unsubscribed', topic: 'auction:u', id: 'unsub' });
    auctions.append('u', { n: 1 });
    await staying.next((m) => m.type === 'event' && m.seq === 1);
    expect(await leaving.request({ type: 'ping', id: 'after' })).toMatchObject({ type: 'pong' });
    expect(events(leaving.received, 'auction:u')).toEqual([]);
  });

  it('a source refusing a subscription answers an error frame with its code and the topic; the socket stays usable', async () => {
    const { client } = await startGateway();
    const c = await client();
    expect(await c.request({ type: 'subscribe', topic: 'auction:missing', id: 1 })).toEqual({
      type: 'error',
      code: 'NOT_FOUND',
      detail: 'no auction missing',
      topic: 'auction:missing',
      id: 1,
    });
    expect(await c.request({ type: 'subscribe', topic: 'auction:sealed-1', id: 2 })).toMatchObject({ type: 'error', code: 'FORBIDDEN', topic: 'auction:sealed-1' });
    expect(await c.request({ type: 'subscribe', topic: 'auction:broken', id: 3 })).toMatchObject({ type: 'error', code: 'INTERNAL', topic: 'auction:broken' });
    expect(await c.request({ type: 'subscribe', topic: 'lot:x', id: 4 })).toMatchObject({ type: 'error', code: 'INVALID_TOPIC' });
    expect(await c.request({ type: 'subscribe', topic: 'no topic at all', id: 5 })).toMatchObject({ type: 'error', code: 'INVALID_TOPIC' });
    expect(await c.request({ type: 'subscribe', topic: 'auction:ok', id: 6 })).toMatchObject({ type: 'subscribed', topic: 'auction:ok' });
  });

  it('a catch-up so slow that more than catchUpBufferMax live events pile up closes the socket with 4000', async () => {
    const { auctions, client, gateway } = await startGateway({ limits: { catchUpBufferMax: 3 } });
    let release!: () => void;
    auctions.hold = { released: new Promise((r) => (release = r)), readAt: 'after' };
    const c = await client();
    c.send({ type: 'subscribe', topic: 'auction:busy' });
    await until(() => auctions.catchUps.length === 1, 'the catch-up to start');
    for (let i = 0; i < 3; i++) auctions.append('busy', { n: i });
    expect(gateway.stats().slowSocketsDropped).toBe(0);
    auctions.append('busy', { n: 3 });
    expect((await c.closed).code).toBe(4000);
    release();
    await until(() => gateway.stats().sockets === 0, 'the server side to close');
    expect(gateway.stats()).toMatchObject({ subscriptions: 0, slowSocketsDropped: 1 });
  });

  it('a socket follows at most subscriptionsPerSocketMax topics', async () => {
    const { client, gateway } = await startGateway({ limits: { subscriptionsPerSocketMax: 2 } });
    const c = await client();
    await c.request({ type: 'subscribe', topic: 'auction:one', id: 1 });
    await c.request({ type: 'subscribe', topic: 'auction:two', id: 2 });
    expect(await c.request({ type: 'subscribe', topic: 'auction:two', fromSeq: 0, id: 'again' })).toMatchObject({ type: 'subscribed' });
    expect(await c.request({ type: 'subscribe', topic: 'auction:three', id: 3 })).toMatchObject({ type: 'error', code: 'TOO_MANY_SUBSCRIPTIONS', id: 3 });
    expect(gateway.stats()).toMatchObject({ sockets: 1, subscriptions: 2, topics: 2 });
  });
});

describe('WebSocket gateway: signing in, commands and private pushes', () => {
  it('auth with a valid token signs the socket in; a bad token is an error frame and the socket stays open', async () => {
    const { client } = await startGateway();
    const c = await client();
    expect(await c.request({ type: 'auth', token: 'nonsense', id: 'a0' })).toEqual({
      type: 'error',
      code: 'INVALID_CREDENTIALS',
      detail: 'the token is unknown, expired or revoked',
      id: 'a0',
    });
    expect(await c.request({ type: 'auth', token: 'token-alice', id: 'a1' })).toEqual({ type: 'authenticated', userId: 'alice', roles: ['bidder'], id: 'a1' });
    expect(await c.request({ type: 'auth', token: 'token-bob', id: 'a2' })).toMatchObject({ type: 'error', code: 'ALREADY_AUTHENTICATED' });
    expect(await c.request({ type: 'auth', token: 'token-alice-2', id: 'a3' })).toMatchObject({ type: 'authenticated', userId: 'alice' });
  });

  it('when sign-in is unavailable (storage down), auth answers INTERNAL and the socket stays open', async () => {
    const { client } = await startGateway({
      authenticate: async (token) => {
        if (token === 'token-db-down') throw new Error('connection refused');
        return PRINCIPALS[token] ?? null;
      },
    });
    const c = await client();
    expect(await c.request({ type: 'auth', token: 'token-db-down', id: 1 })).toMatchObject({ type: 'error', code: 'INTERNAL', id: 1 });
    expect(await c.request({ type: 'auth', token: 'token-bob', id: 2 })).toMatchObject({ type: 'authenticated', userId: 'bob' });
  });

  it('a token on the upgrade (?token= or Authorization: Bearer) signs in before any message is read', async () => {
    const { client, auctions } = await startGateway();
    const byQuery = await client('?token=token-alice');
    expect(await byQuery.next()).toMatchObject({ type: 'authenticated', userId: 'alice' });
    const byHeader = await client('', { authorization: 'Bearer token-bob' });
    expect(await byHeader.next()).toMatchObject({ type: 'authenticated', userId: 'bob' });
    // The subscription that follows at once is authorised as the signed-in user.
    byHeader.send({ type: 'subscribe', topic: 'auction:sealed-2' });
    expect(await byHeader.next()).toMatchObject({ type: 'subscribed', topic: 'auction:sealed-2' });
    expect(auctions.catchUps.at(-1)?.principal?.userId).toBe('bob');
    const badToken = await client('?token=wrong');
    expect(await badToken.next()).toMatchObject({ type: 'error', code: 'INVALID_CREDENTIALS' });
  });

  it('an auth message followed at once by a subscribe: the subscribe waits for the sign-in', async () => {
    const { client, auctions } = await startGateway({
      authenticate: async (token) => {
        await sleep(50);
        return PRINCIPALS[token] ?? null;
      },
    });
    const c = await client();
    c.send({ type: 'auth', token: 'token-alice' });
    c.send({ type: 'subscribe', topic: 'auction:sealed-3', id: 's' });
    expect(await c.next((m) => m.id === 's')).toMatchObject({ type: 'subscribed' });
    expect(auctions.catchUps.at(-1)?.principal?.userId).toBe('alice');
  });

  it('commands round-trip: a result, or the same problem document as REST', async () => {
    const { client } = await startGateway({
      onCommand: async (principal, command) => {
        if (command.name === 'placeBid') return { accepted: true, by: principal.userId, topic: command.topic, args: command.args };
        if (command.name === 'tooLow') {
          throw new AppError('BID_TOO_LOW', 'the next bid must be at least 12.00', { errors: [{ in: 'body', field: 'amount', message: 'must be at least 12.00' }] });
        }
        throw new Error('bug in the handler');
      },
    });
    const c = await client();
    expect(await c.request({ type: 'command', id: 'c0', name: 'placeBid', args: {} })).toMatchObject({
      type: 'result',
      id: 'c0',
      ok: false,
      problem: { code: 'UNAUTHENTICATED', status: 401 },
    });
    await c.request({ type: 'auth', token: 'token-alice', id: 'auth' });
    expect(await c.request({ type: 'command', id: 'c1', name: 'placeBid', topic: 'auction:a1', args: { amount: '12.00' } })).toEqual({
      type: 'result',
      id: 'c1',
      ok: true,
      result: { accepted: true, by: 'alice', topic: 'auction:a1', args: { amount: '12.00' } },
    });
    expect(await c.request({ type: 'command', id: 7, name: 'tooLow', args: { amount: '1.00' } })).toEqual({
      type: 'result',
      id: 7,
      ok: false,
      problem: {
        type: '/problems/bid-too-low',
        title: 'The bid is below the minimum next bid',
        status: 409,
        code: 'BID_TOO_LOW',
        detail: 'the next bid must be at least 12.00',
        errors: [{ in: 'body', field: 'amount', message: 'must be at least 12.00' }],
      },
    });
    expect(await c.request({ type: 'command', id: 'c3', name: 'crash', args: null })).toMatchObject({ ok: false, problem: { code: 'INTERNAL', status: 500 } });
    expect(await c.request({ type: 'command', id: 'c4', name: 'placeBid', topic: 'not a topic', args: {} })).toMatchObject({
      ok: false,
      problem: { code: 'VALIDATION', errors: [{ field: 'topic' }] },
    });
  });

  it('without a command handler, a command is answered NOT_FOUND', async () => {
    const { client } = await startGateway();
    const c = await client('?token=token-bob');
    expect(await c.request({ type: 'command', id: 'x', name: 'placeBid', args: {} })).toMatchObject({ ok: false, problem: { code: 'NOT_FOUND', status: 404 } });
  });

  it('a session that ended is noticed before the next command once sessionRecheckMs has passed: the socket closes with 4001', async () => {
    const revoked = new Set<string>();
    const { client, clock } = await startGateway({
      authenticate: async (token) => (revoked.has(token) ? null : (PRINCIPALS[token] ?? null)),
      onCommand: async () => 'done',
      limits: { sessionRecheckMs: 60_000 },
    });
    const c = await client('?token=token-alice');
    expect(await c.request({ type: 'command', id: 1, name: 'noop', args: null })).toMatchObject({ ok: true, result: 'done' });
    revoked.add('token-alice');
    clock.advance(30_000);
    expect(await c.request({ type: 'command', id: 2, name: 'noop', args: null })).toMatchObject({ ok: true });
    clock.advance(31_000);
    c.send({ type: 'command', id: 3, name: 'noop', args: null });
    expect(await c.closed).toEqual({ code: 4001, reason: 'the session ended: sign in again' });
  });

  it("sendToUser reaches every socket of that user and nobody else's", async () => {
    const { client, gateway } = await startGateway();
    const alicePhone = await client('?token=token-alice');
    const aliceLaptop = await client('?token=token-alice-2');
    const bob = await client('?token=token-bob');
    const anonymous = await client();
    for (const c of [alicePhone, aliceLaptop, bob]) await c.next((m) => m.type === 'authenticated');
    gateway.sendToUser('alice', { kind: 'outbid', auction: 'a1' });
    gateway.sendToUser('bob', { kind: 'won', auction: 'a2' });
    for (const c of [alicePhone, aliceLaptop]) expect(await c.next()).toEqual({ type: 'push', event: { kind: 'outbid', auction: 'a1' } });
    expect(await bob.next()).toEqual({ type: 'push', event: { kind: 'won', auction: 'a2' } });
    for (const c of [alicePhone, aliceLaptop, bob, anonymous]) expect((await c.request({ type: 'ping', id: 'end' })).type).toBe('pong');
    expect([alicePhone, aliceLaptop, bob, anonymous].map((c) => c.received.filter((m) => m.type === 'push').length)).toEqual([1, 1, 1, 0]);
    expect(gateway.stats().signedInSockets).toBe(3);
  });
});

describe('WebSocket gateway: bad input', () => {
  it('malformed JSON, unknown types and invalid fields get error frames; the socket stays open', async () => {
    const { client } = await startGateway();
    const c = await client();
    c.socket.send('{not json');
    expect(await c.next()).toMatchObject({ type: 'error', code: 'MALFORMED_JSON' });
    c.socket.send('[1,2]');
    expect(await c.next()).toMatchObject({ type: 'error', code: 'VALIDATION' });
    expect(await c.request({ type: 'dance', id: 'd' })).toMatchObject({ type: 'error', code: 'UNKNOWN_TYPE', id: 'd' });
    expect(await c.request({ type: '__proto__', id: 'p' })).toMatchObject({ type: 'error', code: 'UNKNOWN_TYPE' });
    expect(await c.request({ type: 'subscribe', topic: 'auction:a', fromSeq: -1, id: 'f' })).toEqual({
      type: 'error',
      code: 'VALIDATION',
      detail: 'fromSeq: must be a non-negative integer: the last seq you received on this topic',
      errors: [{ in: 'body', field: 'fromSeq', message: 'must be a non-negative integer: the last seq you received on this topic' }],
      id: 'f',
    });
    expect(await c.request({ type: 'subscribe', topic: 'auction:a', extra: true, id: 'e' })).toMatchObject({ code: 'VALIDATION', errors: [{ field: 'extra' }] });
    expect(await c.request({ type: 'command', id: 'n', name: 'bid', args: { note: 'a\u0000b' } })).toMatchObject({ code: 'VALIDATION', errors: [{ field: 'args.note' }] });
    c.socket.send('{"type":"ping","id":"x","__proto__":{"polluted":true}}');
    expect(await c.next()).toMatchObject({ type: 'error', code: 'MALFORMED_JSON' });
    c.socket.send('['.repeat(100) + ']'.repeat(100));
    expect(await c.next()).toMatchObject({ type: 'error', code: 'VALIDATION' });
    expect(await c.request({ type: 'ping', id: 'still-open' })).toMatchObject({ type: 'pong' });
  });

  it('a message over messageBytesMax is an error frame; a frame over framePayloadMax closes with 1009', async () => {
    const { client } = await startGateway({ limits: { messageBytesMax: 1024, framePayloadMax: 4096 } });
    const c = await client();
    const bystander = await client();
    expect(await c.request({ type: 'command', id: 'big', name: 'x', args: 'x'.repeat(2000) })).toEqual({
      type: 'error',
      code: 'MESSAGE_TOO_LARGE',
      detail: 'a message may be at most 1024 bytes',
      id: 'big',
    });
    c.send({ type: 'command', id: 'huge', name: 'x', args: 'x'.repeat(5000) });
    expect((await c.closed).code).toBe(1009);
    expect(await bystander.request({ type: 'ping', id: 1 })).toMatchObject({ type: 'pong' });
  });

  it('a binary frame closes the socket with 1003; others are served on', async () => {
    const { client, gateway } = await startGateway();
    const c = await client();
    const bystander = await client();
    c.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await c.closed).code).toBe(1003);
    expect(await bystander.request({ type: 'ping', id: 1 })).toMatchObject({ type: 'pong' });
    await until(() => gateway.stats().sockets === 1, 'the closed socket to be forgotten');
  });

  it('more than protocolErrorsMax errors in a window closes the socket with 1008', async () => {
    const { client } = await startGateway({ limits: { protocolErrorsMax: 3 } });
    const c = await client();
    for (let i = 0; i < 4; i++) c.socket.send('garbage');
    expect(await c.closed).toEqual({ code: 1008, reason: 'too many protocol errors' });
    expect(c.received.filter((m) => m.code === 'MALFORMED_JSON')).toHaveLength(4);
  });

  it('messages beyond the rate limit are refused with RATE_LIMITED', async () => {
    const { client } = await startGateway({ limits: { messagesBurst: 3, messagesPerSecond: 1 } });
    const c = await client();
    for (let i = 0; i < 4; i++) c.send({ type: 'ping', id: i });
    expect(await c.next((m) => m.id === 3)).toMatchObject({ type: 'error', code: 'RATE_LIMITED' });
    expect(c.received.filter((m) => m.type === 'pong')).toHaveLength(3);
  });

  it('upgrades on another path are refused with 404; past socketsMax with 503', async () => {
    const { url, client } = await startGateway({ limits: { socketsMax: 1 } });
    const status = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(url.replace('ws:', 'http:').replace('/ws', path), { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
        req.on('response', (res) => resolve(res.statusCode!));
        req.on('upgrade', (res) => resolve(res.statusCode!));
        req.on('error', reject);
        req.end();
      });
    expect(await status('/elsewhere')).toBe(404);
    await client();
    expect(await status('/ws')).toBe(503);
  });
});

describe('WebSocket gateway: busy topics fan out in slices and conflate before the loop', () => {
  // Five subscribers, two per slice: a publish reaches two sockets at once and the rest on later turns.
  const SLICED = { limits: { fanoutSliceSockets: 2 } };

  async function roomOf(h: Awaited<ReturnType<typeof startGateway>>, n: number, topic = 'auction:busy'): Promise<TestClient[]> {
    const clients: TestClient[] = [];
    for (let i = 0; i < n; i++) {
      const c = await h.client();
      await c.request({ type: 'subscribe', topic, id: 's' });
      clients.push(c);
    }
    return clients;
  }

  it('a publish to a topic above the slice size writes one slice now and the rest on later turns, so other work runs between', async () => {
    const h = await startGateway(SLICED);
    const room = await roomOf(h, 5);
    const sentBefore = h.gateway.stats().messagesSent;
    const seq = h.auctions.append('busy', { kind: 'bid', amount: '10.00' });
    expect(h.gateway.stats().messagesSent - sentBefore).toBe(2);
    expect(h.gateway.stats().topicsFanningOut).toBe(1);
    await Promise.all(room.map((c) => c.next((m) => m.type === 'event' && m.seq === seq)));
    expect(h.gateway.stats().messagesSent - sentBefore).toBe(5);
    await until(() => h.gateway.stats().topicsFanningOut === 0, 'the pass to end');
  });

  it('events published during a pass: prices conflate (latest wins), key events all arrive, every socket in seq order', async () => {
    const h = await startGateway(SLICED);
    const room = await roomOf(h, 5);
    const keySeqs: number[] = [];
    let lastPrice = 0;
    for (let i = 1; i <= 30; i++) {
      lastPrice = h.auctions.append('busy', { kind: 'price', price: i }, { conflate: 'price' });
      if (i % 10 === 0) keySeqs.push(h.auctions.append('busy', { kind: 'extended', at: i }));
    }
    for (const c of room) {
      await c.next((m) => m.type === 'event' && m.seq === keySeqs.at(-1), 5000);
      const got = events(c.received, 'auction:busy');
      const seqs = got.map((m) => m.seq);
      expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
      expect(got.filter((m) => m.event.kind === 'extended').map((m) => m.seq)).toEqual(keySeqs);
      const prices = got.filter((m) => m.event.kind === 'price');
      expect(prices.length).toBeLessThan(30);
      expect(prices.at(-1)?.seq).toBe(lastPrice);
      expect(prices.at(-1)?.event.price).toBe(30);
    }
    expect(h.gateway.stats().eventsConflated).toBeGreaterThan(0);
    expect(await h.registry.getSingleMetricAsString('gavel_ws_events_conflated_total')).toMatch(/gavel_ws_events_conflated_total [1-9]\d*/);
  });

  it('a small topic is not held up: it is sent to at once while a busy topic is mid-pass', async () => {
    const h = await startGateway(SLICED);
    const room = await roomOf(h, 5);
    const [quiet] = await roomOf(h, 1, 'auction:quiet');
    h.auctions.append('busy', { kind: 'bid' });
    const sentBefore = h.gateway.stats().messagesSent;
    h.auctions.append('quiet', { kind: 'bid' });
    expect(h.gateway.stats().messagesSent - sentBefore).toBe(1);
    await quiet!.next((m) => m.type === 'event' && m.topic === 'auction:quiet');
    await Promise.all(room.map((c) => c.next((m) => m.type === 'event' && m.topic === 'auction:busy')));
  });
});

describe('WebSocket gateway: slow consumers, heartbeats and shutdown', () => {
  const SLOW_LIMITS = { socketBufferBytes: 16 * 1024, backlogBytesMax: 256 * 1024, backlogMessagesMax: 500 };
  const PADDING = 'x'.repeat(8 * 1024);

  /** Publishes big key events on auction:filler until the paused socket is behind. */
  async function fillUntilBehind(h: Harness, fillerSeq: { n: number }): Promise<void> {
    while (h.gateway.stats().socketsBehind === 0) {
      for (let i = 0; i < 50; i++) h.auctions.append('filler', { n: ++fillerSeq.n, pad: PADDING });
      await sleep(1);
      if (fillerSeq.n > 20_000) throw new Error('the paused socket never fell behind');
    }
  }

  it('a paused socket gets price updates conflated (latest wins) and every key event, while a fast socket gets everything', async () => {
    const h = await startGateway({ limits: SLOW_LIMITS });
    const slow = await h.client();
    const fast = await h.client();
    for (const c of [slow, fast]) {
      await c.request({ type: 'subscribe', topic: 'auction:filler', id: 'f' });
      await c.request({ type: 'subscribe', topic: 'auction:hot', id: 'h' });
    }
    slow.tcp.pause();
    await fillUntilBehind(h, { n: 0 });
    const keySeqs: number[] = [];
    let lastPriceSeq = 0;
    for (let i = 1; i <= 100; i++) {
      lastPriceSeq = h.auctions.append('hot', { kind: 'price', price: i }, { conflate: 'price' });
      if (i % 10 === 0) keySeqs.push(h.auctions.append('hot', { kind: 'outbid', at: i }));
    }
    expect(h.gateway.stats().messagesConflated).toBeGreaterThan(50);
    await fast.next((m) => m.topic === 'auction:hot' && m.seq === lastPriceSeq + 1);
    expect(events(fast.received, 'auction:hot').map((m) => m.seq)).toEqual(Array.from({ length: 110 }, (_, i) => i + 1));

    slow.tcp.resume();
    await slow.next((m) => m.topic === 'auction:hot' && m.seq === keySeqs.at(-1), 10_000);
    const hot = events(slow.received, 'auction:hot');
    const seqs = hot.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b)); // in order, no duplicates
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(hot.filter((m) => m.event.kind === 'outbid').map((m) => m.seq)).toEqual(keySeqs);
    const prices = hot.filter((m) => m.event.kind === 'price');
    expect(prices.length).toBeLessThan(250);
    expect(prices.at(-1)?.event.price).toBe(100);
    expect(slow.socket.readyState).toBe(slow.socket.OPEN);
    expect(await h.registry.getSingleMetricAsString('gavel_ws_messages_conflated_total')).toMatch(/gavel_ws_messages_conflated_total [1-9]\d*/);
  });

  it('a socket whose backlog passes the bound is closed with 4000; a fast socket keeps getting every event promptly', async () => {
    const h = await startGateway({ limits: SLOW_LIMITS });
    const slow = await h.client();
    const fast = await h.client();
    for (const c of [slow, fast]) await c.request({ type: 'subscribe', topic: 'auction:filler', id: 'f' });
    slow.tcp.pause();
    const filler = { n: 0 };
    await fillUntilBehind(h, filler);
    const latenciesMs: number[] = [];
    while (h.gateway.stats().slowSocketsDropped === 0) {
      const publishedAt = performance.now();
      h.auctions.append('filler', { n: ++filler.n, pad: PADDING });
      await fast.next((m) => m.seq === filler.n);
      latenciesMs.push(performance.now() - publishedAt);
      if (filler.n > 50_000) throw new Error('the slow socket was never dropped');
    }
    expect(events(fast.received, 'auction:filler').map((m) => m.seq)).toEqual(Array.from({ length: filler.n }, (_, i) => i + 1));
    latenciesMs.sort((a, b) => a - b);
    expect(latenciesMs[Math.floor(latenciesMs.length * 0.95)]).toBeLessThan(250);
    expect(h.gateway.stats()).toMatchObject({ sockets: 2, subscriptions: 1, slowSocketsDropped: 1 });
    slow.tcp.resume();
    expect(await slow.closed).toEqual({ code: 4000, reason: 'too slow: reconnect and resume with fromSeq' });
    expect(await h.registry.getSingleMetricAsString('gavel_ws_slow_sockets_dropped_total')).toContain('gavel_ws_slow_sockets_dropped_total 1');
  });

  it('a peer that stops answering pings is cut after two missed heartbeats; a live one stays', async () => {
    const h = await startGateway({ heartbeatMs: 50 });
    const dead = await h.client();
    const live = await h.client();
    // A peer that no longer answers pings: ws answers them from its reader, so stop reading.
    dead.tcp.pause();
    const started = performance.now();
    await until(() => h.gateway.stats().heartbeatTimeouts === 1, 'the heartbeat to cut the dead peer', 2000);
    expect(performance.now() - started).toBeGreaterThanOrEqual(80);
    dead.tcp.resume();
    expect((await dead.closed).code).toBe(1006); // cut, no close frame
    await until(() => h.gateway.stats().sockets === 1, 'the cut socket to be forgotten');
    await sleep(200);
    expect(live.socket.readyState).toBe(live.socket.OPEN);
    expect(h.gateway.stats()).toMatchObject({ sockets: 1, heartbeatTimeouts: 1 });
  });

  it('close() sends 1001 to every socket and refuses new ones', async () => {
    const h = await startGateway();
    const a = await h.client();
    const b = await h.client('?token=token-bob');
    await h.gateway.close();
    expect(await a.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect((await b.closed).code).toBe(1001);
    expect(h.gateway.stats().sockets).toBe(0);
    await expect(TestClient.connect(h.url)).rejects.toThrow();
  });

  it('a raw TCP peer that never reads does not hold up publishing to others', async () => {
    const h = await startGateway({ limits: SLOW_LIMITS });
    const fast = await h.client();
    await fast.request({ type: 'subscribe', topic: 'auction:filler', id: 'f' });
    const port = new URL(h.url).port;
    const raw = connect(Number(port), '127.0.0.1');
    raw.write(`GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    // One masked text frame: subscribe to the filler feed. Then never read again.
    const body = Buffer.from(JSON.stringify({ type: 'subscribe', topic: 'auction:filler' }));
    raw.write(Buffer.concat([Buffer.from([0x81, 0x80 | body.length, 0, 0, 0, 0]), body]));
    raw.pause();
    await until(() => h.gateway.stats().subscriptions === 2, 'the raw peer to subscribe');
    const filler = { n: 0 };
    while (h.gateway.stats().slowSocketsDropped === 0) {
      for (let i = 0; i < 20; i++) h.auctions.append('filler', { n: ++filler.n, pad: PADDING });
      await fast.next((m) => m.seq === filler.n);
      if (filler.n > 50_000) throw new Error('the raw peer was never dropped');
    }
    expect(events(fast.received, 'auction:filler')).toHaveLength(filler.n);
    raw.destroy();
  });
});
