// Real-time messages across nodes over the NATS server (docs/cluster.md, "Real-time messages
// reach the api nodes that want them"): two api nodes, each a real WebSocket gateway on
// 127.0.0.1 with its own NATS connection and relay, and an engine's publisher. A node receives
// only the topics and people its sockets follow; a node nobody watches receives nothing.
//
// "Nothing arrived" is shown without waiting on the clock: after the messages under test the
// publisher sends a barrier on its same connection, which every node also listens to; NATS
// hands one connection's messages to a subscriber in the order sent, so once a node has the
// barrier, anything it was going to get before it has arrived.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { NatsRealtimeOut, relayRealtime, subjectToken, topicSubject, userSubject, type RealtimeRelay } from '../../src/cluster/realtime-relay.js';
import { WsGateway, type CatchUp, type InterestChange, type TopicSource } from '../../src/gateway/ws.js';
import type { Principal } from '../../src/platform/auth/principal.js';
import { ManualClock } from '../../src/platform/clock.js';
import { createLogger } from '../../src/platform/logging.js';
import { TestClient, type Message } from '../gateway/ws-client.js';
import { NATS_AVAILABLE, connectNats } from '../support/nats.js';

const ALICE = randomUUID();
const BOB = randomUUID();
const PRINCIPALS: Record<string, Principal> = {
  'token-alice': { userId: ALICE, roles: ['bidder'], sessionId: 'session-alice' },
  'token-bob': { userId: BOB, roles: ['bidder'], sessionId: 'session-bob' },
};

/** Auctions with nothing stored yet: a catch-up is an empty snapshot at seq 0. */
class EmptyAuctions implements TopicSource {
  readonly kind = 'auction';
  readonly catchUps: string[] = [];
  async catchUp(id: string): Promise<CatchUp> {
    this.catchUps.push(id);
    return { seq: 0, snapshot: { auction: id }, events: [] };
  }
}

interface ApiNode {
  gateway: WsGateway;
  relay: RealtimeRelay;
  nats: NatsConnection;
  server: Server;
  url: string;
  /** What the relay handed to the gateway, in order. */
  handed: Array<{ topic: string; seq: number; event: unknown; options: { conflate?: string } | undefined } | { userId: string; message: unknown }>;
  barriers: number;
  clients: TestClient[];
  client(): Promise<TestClient>;
}

const prefix = `gavel_test_${randomBytes(4).toString('hex')}.realtime`;
const barrierSubject = `${prefix}-barrier`;

describe.skipIf(!NATS_AVAILABLE)('real-time messages across api nodes (NATS)', () => {
  let engineNats: NatsConnection;
  let engine: NatsRealtimeOut;
  const nodes: ApiNode[] = [];

  beforeAll(async () => {
    engineNats = await connectNats();
    engine = new NatsRealtimeOut(engineNats, prefix);
  });

  afterAll(async () => {
    await engineNats?.close();
  });

  afterEach(async () => {
    for (const node of nodes.splice(0)) {
      await Promise.all(node.clients.map((c) => c.close()));
      node.relay.unsubscribe();
      await node.gateway.close();
      await new Promise((resolve) => node.server.close(resolve));
      await node.nats.close();
    }
  });

  async function apiNode(): Promise<ApiNode> {
    const gateway = new WsGateway({ logger: createLogger('silent'), clock: new ManualClock(1_750_000_000_000), authenticate: async (token) => PRINCIPALS[token] ?? null, sources: [new EmptyAuctions()] });
    const server = createServer((_req, res) => res.writeHead(404).end());
    gateway.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const nats = await connectNats();
    const handed: ApiNode['handed'] = [];
    // The real gateway, with a record of what the relay gives it (conflation keys are not visible on the socket).
    const recorded = {
      publish: (topic: string, seq: number, event: unknown, options?: { conflate?: string }) => (handed.push({ topic, seq, event, options }), gateway.publish(topic, seq, event, options)),
      sendToUser: (userId: string, message: unknown) => (handed.push({ userId, message }), gateway.sendToUser(userId, message)),
      onInterest: (listener: (change: InterestChange) => void | PromiseLike<void>) => gateway.onInterest(listener),
    };
    const relay = relayRealtime(nats, prefix, recorded, createLogger('silent'));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
    const clients: TestClient[] = [];
    const node: ApiNode = {
      gateway,
      relay,
      nats,
      server,
      url,
      handed,
      barriers: 0,
      clients,
      client: async () => {
        const c = await TestClient.ready(url);
        clients.push(c);
        return c;
      },
    };
    nats.subscribe(barrierSubject, { callback: () => void (node.barriers += 1) });
    await nats.flush();
    nodes.push(node);
    return node;
  }

  /** Sends a barrier after everything the engine published so far and waits until every node has it. */
  async function settled(): Promise<void> {
    const want = nodes.map((n) => n.barriers + 1);
    engineNats.publish(barrierSubject, '');
    const deadline = performance.now() + 5_000;
    while (nodes.some((n, i) => n.barriers < want[i]!)) {
      if (performance.now() > deadline) throw new Error('the barrier did not reach every node');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async function subscribed(client: TestClient, topic: string): Promise<void> {
    const answer = await client.request({ type: 'subscribe', topic, id: `sub-${topic}` });
    expect(answer).toMatchObject({ type: 'subscribed', topic, seq: 0 });
  }

  const eventsOf = (messages: Message[], topic: string) => messages.filter((m) => m.type === 'event' && m.topic === topic).map((m) => [m.seq, m.event]);

  it("a node with a socket on auction:A gets A's events in order and not B's; a node nobody watches receives nothing", async () => {
    const watched = await apiNode();
    const idle = await apiNode();
    const watcher = await watched.client();
    await subscribed(watcher, 'auction:A');
    expect(watched.relay.subjects()).toEqual([topicSubject(prefix, 'auction:A')]);
    expect(idle.relay.subjects()).toEqual([]);

    for (let seq = 1; seq <= 20; seq += 1) {
      engine.publish('auction:A', seq, { bid: seq });
      engine.publish('auction:B', seq, { bid: seq * 100 });
    }
    await settled();
    const lastOfA = await watcher.next((m) => m.type === 'event' && m.seq === 20);
    expect(lastOfA.topic).toBe('auction:A');

    expect(eventsOf(watcher.received, 'auction:A')).toEqual(Array.from({ length: 20 }, (_, i) => [i + 1, { bid: i + 1 }]));
    expect(eventsOf(watcher.received, 'auction:B')).toEqual([]);
    expect(watched.relay.stats().messagesReceived).toBe(20); // B's never reached this node
    expect(idle.relay.stats()).toEqual({ messagesReceived: 0, subjects: 0 });
    expect(idle.handed).toEqual([]);
  });

  it("after the last socket on a topic leaves (unsubscribed or closed) the node's subscription is gone and nothing more arrives", async () => {
    const node = await apiNode();
    const first = await node.client();
    const second = await node.client();
    await subscribed(first, 'auction:A');
    await subscribed(second, 'auction:A');
    expect(node.relay.subjects()).toEqual([topicSubject(prefix, 'auction:A')]);

    expect(await first.request({ type: 'unsubscribe', topic: 'auction:A', id: 'leave' })).toMatchObject({ type: 'unsubscribed' });
    expect(node.relay.subjects()).toEqual([topicSubject(prefix, 'auction:A')]); // the second still watches
    engine.publish('auction:A', 1, { bid: 1 });
    expect(await second.next((m) => m.type === 'event')).toMatchObject({ topic: 'auction:A', seq: 1 });

    await second.close();
    await until(() => node.relay.subjects().length === 0, 'the subscription to go');
    const before = node.relay.stats().messagesReceived;
    engine.publish('auction:A', 2, { bid: 2 });
    await settled();
    expect(node.relay.stats().messagesReceived).toBe(before);

    // Watching again subscribes again, and the events flow once more.
    const third = await node.client();
    await subscribed(third, 'auction:A');
    engine.publish('auction:A', 3, { bid: 3 });
    expect(await third.next((m) => m.type === 'event')).toMatchObject({ topic: 'auction:A', seq: 3, event: { bid: 3 } });
  });

  it('a private push reaches only the node where that person has a socket, and stops when the last one closes', async () => {
    const aliceNode = await apiNode();
    const bobNode = await apiNode();
    const alice = await aliceNode.client();
    const bob = await bobNode.client();
    expect(await alice.request({ type: 'auth', token: 'token-alice', id: 'a' })).toMatchObject({ type: 'authenticated', userId: ALICE });
    expect(await bob.request({ type: 'auth', token: 'token-bob', id: 'b' })).toMatchObject({ type: 'authenticated', userId: BOB });
    expect(aliceNode.relay.subjects()).toEqual([userSubject(prefix, ALICE)]);
    expect(bobNode.relay.subjects()).toEqual([userSubject(prefix, BOB)]);
    // A person's subscription is not confirmed before the answer (a push missed is in the
    // inbox); a round trip on each node's connection makes sure the server holds it.
    await Promise.all([aliceNode.nats.flush(), bobNode.nats.flush()]);

    engine.sendToUser(ALICE, { type: 'outbid', auctionId: 'A' });
    engine.sendToUser(randomUUID(), { type: 'outbid', auctionId: 'nobody here' });
    await settled();
    expect(await alice.next((m) => m.type === 'push')).toEqual({ type: 'push', event: { type: 'outbid', auctionId: 'A' } });
    expect(aliceNode.relay.stats().messagesReceived).toBe(1);
    expect(bobNode.relay.stats().messagesReceived).toBe(0);
    expect(bob.received.filter((m) => m.type === 'push')).toEqual([]);

    await alice.close();
    await until(() => aliceNode.relay.subjects().length === 0, "alice's subscription to go");
    engine.sendToUser(ALICE, { type: 'outbid', auctionId: 'B' });
    await settled();
    expect(aliceNode.relay.stats().messagesReceived).toBe(1);
  });

  it('the conflation key passes through to the gateway', async () => {
    const node = await apiNode();
    const watcher = await node.client();
    await subscribed(watcher, 'auction:A');
    engine.publish('auction:A', 1, { price: '10.00' }, { conflate: 'price' });
    engine.publish('auction:A', 2, { bid: 2 });
    await settled();
    expect(node.handed).toEqual([
      { topic: 'auction:A', seq: 1, event: { price: '10.00' }, options: { conflate: 'price' } },
      { topic: 'auction:A', seq: 2, event: { bid: 2 }, options: {} },
    ]);
  });

  it('topics with characters a NATS subject token may not hold get subjects of their own and still arrive', async () => {
    const node = await apiNode();
    const watcher = await node.client();
    const odd = 'auction:lot.7_b~x';
    await subscribed(watcher, odd);
    await subscribed(watcher, 'auction:lot_7.b~x');
    engine.publish(odd, 1, { bid: 1 });
    engine.publish('auction:lot.7', 1, { bid: 'not this one' });
    await settled();
    expect(await watcher.next((m) => m.type === 'event')).toEqual({ type: 'event', topic: odd, seq: 1, event: { bid: 1 } });
    expect(node.relay.stats().messagesReceived).toBe(1);
  });

  it('a relay started after sockets subscribed and signed in follows them', async () => {
    const node = await apiNode();
    const watcher = await node.client();
    await subscribed(watcher, 'auction:A');
    expect(await watcher.request({ type: 'auth', token: 'token-bob', id: 'b' })).toMatchObject({ type: 'authenticated' });
    node.relay.unsubscribe();
    expect(node.relay.subjects()).toEqual([]);
    node.relay = relayRealtime(node.nats, prefix, node.gateway, createLogger('silent'));
    expect(node.relay.subjects().sort()).toEqual([topicSubject(prefix, 'auction:A'), userSubject(prefix, BOB)].sort());
    await node.nats.flush();
    engine.publish('auction:A', 1, { bid: 1 });
    engine.sendToUser(BOB, { type: 'filled' });
    expect(await watcher.next((m) => m.type === 'event')).toMatchObject({ topic: 'auction:A', seq: 1 });
    expect(await watcher.next((m) => m.type === 'push')).toMatchObject({ event: { type: 'filled' } });
  });
});

describe('a topic catch-up waits for the interest listener', () => {
  it("tells the listener when the topic's first socket subscribes, before the catch-up, and reads the catch-up only once the listener's promise settles", async () => {
    const source = new EmptyAuctions();
    const gateway = new WsGateway({ logger: createLogger('silent'), clock: new ManualClock(1_750_000_000_000), authenticate: async () => null, sources: [source] });
    const server = createServer();
    gateway.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const changes: InterestChange[] = [];
    let confirm!: () => void;
    const stop = gateway.onInterest((change) => {
      changes.push(change);
      return change.active ? new Promise<void>((resolve) => (confirm = resolve)) : undefined;
    });
    const client = await TestClient.ready(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`);
    try {
      client.send({ type: 'subscribe', topic: 'auction:A', id: 1 });
      await until(() => changes.length === 1, 'the listener to hear of auction:A');
      expect(changes).toEqual([{ kind: 'topic', key: 'auction:A', active: true }]);
      // A round trip on the socket: had the catch-up not waited, it would have run by now.
      expect(await client.request({ type: 'ping', id: 'p' })).toMatchObject({ type: 'pong' });
      expect(source.catchUps).toEqual([]);
      confirm();
      expect(await client.next((m) => m.id === 1)).toMatchObject({ type: 'subscribed', topic: 'auction:A' });
      expect(source.catchUps).toEqual(['A']);

      expect(await client.request({ type: 'unsubscribe', topic: 'auction:A', id: 2 })).toMatchObject({ type: 'unsubscribed' });
      expect(changes.at(-1)).toEqual({ kind: 'topic', key: 'auction:A', active: false });
    } finally {
      stop();
      await client.close();
      await gateway.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('subject tokens', () => {
  it('keep UUIDs and symbols readable, never hold . * > or spaces, and never give two topics one subject', () => {
    const id = randomUUID();
    expect(topicSubject('p', `auction:${id}`)).toBe(`p.t.auction.${id}`);
    expect(topicSubject('p', 'book:EUR-USD')).toBe('p.t.book.EUR-USD');
    expect(userSubject('p', id)).toBe(`p.u.${id}`);
    const topics = ['auction:a.b', 'auction:a_2Eb', 'auction:a_b', 'auction:a*', 'auction:a>', 'auction:a b', 'auction:a~b', 'auction.a:b', 'auction:', 'auction', 'auction:é'];
    const subjects = topics.map((t) => topicSubject('p', t));
    expect(new Set(subjects).size).toBe(topics.length);
    for (const topic of topics) expect(subjectToken(topic)).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});

async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
