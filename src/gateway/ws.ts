// The WebSocket gateway at /ws: live feeds for any kind of topic, private pushes to a user's
// sockets, and commands (bids, orders) with the same problem documents as REST.
//
// How modules plug in:
// - A `TopicSource` serves one topic kind (`auction` for `auction:<id>`): it authorises a
//   subscription and says what the client missed. The module then calls `publish(topic, seq,
//   event)` for every event, after it is durable. The gateway handles the race between a
//   catch-up and live events: it registers the subscription first, buffers live events while
//   the source answers, and drops buffered ones the catch-up already covered (seq ≤ last sent).
// - `sendToUser(userId, message)` pushes to every socket signed in as that user.
// - `setCommandHandler(handler)` receives `command` messages from signed-in sockets.
// - `onInterest(listener)` hears when a topic gains its first socket here or loses its last, and
//   when a person signs in on their first socket here or closes their last (the cluster relay
//   subscribes to just those on NATS: src/cluster/realtime-relay.ts).
//
// Serialise once: `publish` builds the whole WebSocket frame once (JSON straight into a Buffer
// behind its 2–10 byte header) and writes that same Buffer to every subscriber's socket, one
// plain write each: no per-socket header, no cork + writev, no copy. `ws` still does the
// handshake, reading, pings and closing; see `SocketFrameSink` (ws-send-queue.ts) for why our
// writes beside it are safe. That took the broadcast from 1.28× to about 1× a bare `ws`
// broadcast (bench:fanout). Compression (permessage-deflate) is off: it costs about 7× the CPU
// on small room messages, and the direct writes rely on it being off.
//
// Options beyond the first sketch: `registry` (the node's prom-client registry, for the
// gavel_ws_* metrics), `heartbeatMs`, and `limits` (every bound, WS_LIMITS_DEFAULT below).
//
// Slow consumers: see ws-send-queue.ts. A socket that falls too far behind is closed with 4000
// and resumes with fromSeq; it never slows anyone else. The protocol is in docs/realtime.md.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import assert from 'node:assert/strict';
import { Counter, Gauge, Registry } from 'prom-client';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Principal } from '../platform/auth/principal.js';
import type { Clock } from '../platform/clock.js';
import { AppError, problemOf, type FieldError, type Problem } from '../platform/errors.js';
import type { Logger } from '../platform/logging.js';
import { Connection, type ConnectionLimits, type Subscription } from './ws-connection.js';
import { TopicFanout } from './ws-fanout.js';
import { textFrame } from './ws-send-queue.js';
import { CLOSE_CODES, messageIdOf, parseClientMessage, parseTopic, type ClientMessage, type ErrorFrameCode, type MessageId, type ServerMessage } from './ws-protocol.js';

export interface TopicSource {
  /** The topic kind this source serves, e.g. 'auction' for topics 'auction:<id>'. */
  kind: string;
  /**
   * Authorises a subscription and says what the client missed. Throw AppError (NOT_FOUND,
   * FORBIDDEN, …) to refuse; the client gets an `error` frame with that code.
   * - fromSeq null: a `snapshot` of the current state, `seq` = the position it reflects.
   * - fromSeq given: `seq` = fromSeq and `events` = every event after it, in order; or, when
   *   the gap is too long to replay, a `snapshot` with its `seq` instead (the client replaces
   *   its state).
   * `events` may also follow a snapshot. Contract: the answer reflects at least every event
   * `publish`ed before `catchUp` was called (read the state the publisher writes, not a lagging copy).
   */
  catchUp(topicId: string, principal: Principal | null, fromSeq: number | null): Promise<CatchUp>;
}

export interface CatchUp {
  seq: number;
  snapshot?: unknown;
  events: ReadonlyArray<{ seq: number; event: unknown }>;
}

/** A command from a signed-in socket. Return the result (JSON-serialisable) or throw AppError. */
export type CommandHandler = (principal: Principal, command: { name: string; topic?: string; args: unknown }) => Promise<unknown>;

export interface WsLimits extends ConnectionLimits {
  /** Client messages above this get a MESSAGE_TOO_LARGE error frame; the socket stays open. */
  messageBytesMax: number;
  /** Frames above this are refused by `ws` itself, closing the socket with 1009. */
  framePayloadMax: number;
  subscriptionsPerSocketMax: number;
  /** Open sockets (and upgrades in progress) this gateway accepts; more are refused with 503. */
  socketsMax: number;
  /** Live events held per subscription while its catch-up runs; past it the socket is closed as too slow. */
  catchUpBufferMax: number;
  commandsInFlightMax: number;
  /** A signed-in socket's session is re-checked before a command when the last check is older. */
  sessionRecheckMs: number;
  /** How long a closing socket has to finish the close handshake before it is cut. */
  closeGraceMs: number;
  /**
   * A topic with more subscribers than this is fanned out in slices of this many sockets per
   * event-loop turn, and its conflatable events conflate before the loop (ws-fanout.ts).
   */
  fanoutSliceSockets: number;
}

export const WS_LIMITS_DEFAULT: WsLimits = {
  messageBytesMax: 16 * 1024,
  framePayloadMax: 64 * 1024,
  subscriptionsPerSocketMax: 100,
  socketsMax: 16_384,
  socketBufferBytes: 64 * 1024,
  backlogBytesMax: 1024 * 1024,
  backlogMessagesMax: 4096,
  catchUpBufferMax: 4096,
  messagesPerSecond: 50,
  messagesBurst: 200,
  protocolErrorsMax: 20,
  protocolErrorWindowMs: 60_000,
  commandsInFlightMax: 32,
  sessionRecheckMs: 60_000,
  closeGraceMs: 5_000,
  // About 14 ms of writes on our 2-core VM: the longest anything else waits for a fan-out.
  fanoutSliceSockets: 1_000,
};

export interface WsGatewayOptions {
  logger: Logger;
  clock: Clock;
  /** The principal for a bearer token, or null when it is unknown, expired or revoked. */
  authenticate: (token: string) => Promise<Principal | null>;
  sources?: TopicSource[];
  onCommand?: CommandHandler;
  /** Server pings this often; a socket that misses two is cut. Default 15 s. */
  heartbeatMs?: number;
  limits?: Partial<WsLimits>;
  /** Where the gavel_ws_* metrics are registered (the node's registry). */
  registry?: Registry;
}

/** A topic (`auction:<id>`) or a person (user id) gaining its first socket here (active) or losing its last. */
export interface InterestChange {
  kind: 'topic' | 'user';
  key: string;
  active: boolean;
}

/**
 * Called synchronously as the change happens. For a topic becoming active it may return a
 * promise: catch-ups of that topic wait for it, so a relay can make sure the topic's live
 * messages reach this node before storage is read (the listener bounds how long that takes).
 */
export type InterestListener = (change: InterestChange) => void | PromiseLike<void>;

export interface WsStats {
  sockets: number;
  signedInSockets: number;
  subscriptions: number;
  topics: number;
  /** Sockets with messages waiting because they read slower than the feed. */
  socketsBehind: number;
  messagesSent: number;
  messagesConflated: number;
  /** Events superseded before their fan-out began (a busy topic; latest wins). */
  eventsConflated: number;
  /** Topics whose fan-out is running in slices right now. */
  topicsFanningOut: number;
  slowSocketsDropped: number;
  heartbeatTimeouts: number;
}

type UpgradeAuth = { principal: Principal; token: string } | 'invalid' | null;

export class WsGateway {
  readonly limits: WsLimits;
  readonly heartbeatMs: number;
  private readonly logger: Logger;
  private readonly sources = new Map<string, TopicSource>();
  private onCommand: CommandHandler | undefined;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly topics = new Map<string, Set<Subscription>>();
  private readonly users = new Map<string, Set<Connection>>();
  private readonly interestListeners = new Set<InterestListener>();
  /** Topics just become active whose listeners are still making their messages flow here. */
  private readonly topicsArriving = new Map<string, Promise<void>>();
  private readonly counters = { sent: 0, conflated: 0 };
  private readonly fanout: TopicFanout;
  private slowSocketsDropped = 0;
  private heartbeatTimeouts = 0;
  private subscriptionCount = 0;
  private upgradesInProgress = 0;
  private nextConnectionId = 1;
  private heartbeat: NodeJS.Timeout | undefined;
  private attached: { server: Server; listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void } | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: WsGatewayOptions) {
    this.logger = options.logger.child({ component: 'ws' });
    this.limits = { ...WS_LIMITS_DEFAULT, ...options.limits };
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.onCommand = options.onCommand;
    for (const source of options.sources ?? []) this.addSource(source);
    this.fanout = new TopicFanout(this.limits.fanoutSliceSockets, (topic) => this.topics.get(topic), (subscription, e) => this.deliver(subscription, e.seq, e.payload, e.conflationKey));
    // perMessageDeflate stays off: our frames are written beside ws's own (SocketFrameSink).
    this.wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: this.limits.framePayloadMax });
    registerMetrics(options.registry ?? new Registry(), () => this.stats());
  }

  addSource(source: TopicSource): void {
    assert(parseTopic(`${source.kind}:x`)?.kind === source.kind, `"${source.kind}" is not a topic kind (lower-case letters, digits and -)`);
    assert(!this.sources.has(source.kind), `a source for topic kind "${source.kind}" is registered already`);
    this.sources.set(source.kind, source);
  }

  setCommandHandler(handler: CommandHandler): void {
    this.onCommand = handler;
  }

  /**
   * Tells `listener` of every change in the topics and people with sockets here, starting with
   * those that have some now (each as active). Returns a function that stops telling it.
   */
  onInterest(listener: InterestListener): () => void {
    this.interestListeners.add(listener);
    for (const topic of this.topics.keys()) this.interestChanged({ kind: 'topic', key: topic, active: true }, [listener]);
    for (const userId of this.users.keys()) this.interestChanged({ kind: 'user', key: userId, active: true }, [listener]);
    return () => void this.interestListeners.delete(listener);
  }

  /** Answers WebSocket upgrades for `path` on `server` (fastify's app.server) and starts heartbeats. */
  attach(server: Server, path = '/ws'): void {
    assert(this.attached === undefined, 'the gateway is attached already');
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (pathOf(req.url) === path) void this.upgrade(req, socket, head);
      // Another upgrade listener may own other paths; alone, we refuse them.
      else if (server.listenerCount('upgrade') === 1) refuseUpgrade(socket, 404, problemOf('ROUTE_NOT_FOUND', `WebSocket connections are served at ${path}`));
    };
    server.on('upgrade', listener);
    this.attached = { server, listener };
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * Sends an event to every subscriber of `topic`. The JSON is built once; `event` must be
   * JSON-serialisable (amounts as decimal strings), or this throws before anything is sent.
   * `conflate`: a key such as 'price'; while a socket is behind, or while a busy topic's
   * previous fan-out is still running, only the latest event with that key waits. Leave it out
   * for events that must never be dropped. A topic with more than `fanoutSliceSockets`
   * subscribers is sent to over several event-loop turns (ws-fanout.ts).
   */
  publish(topic: string, seq: number, event: unknown, options: { conflate?: string } = {}): void {
    assert(Number.isSafeInteger(seq) && seq >= 0, `seq must be a non-negative integer, got ${seq}`);
    if (!this.topics.has(topic)) return;
    const payload = serialise({ type: 'event', topic, seq, event });
    const conflationKey = options.conflate === undefined ? undefined : `${topic}\n${options.conflate}`;
    this.fanout.publish(topic, { seq, payload, conflationKey });
  }

  /** Pushes `message` (as `{type:'push', event: message}`) to every socket signed in as `userId`. */
  sendToUser(userId: string, message: unknown): void {
    const sockets = this.users.get(userId);
    if (!sockets) return;
    const payload = serialise({ type: 'push', event: message });
    for (const connection of sockets) this.enqueue(connection, payload);
  }

  stats(): WsStats {
    let signedInSockets = 0;
    for (const sockets of this.users.values()) signedInSockets += sockets.size;
    let socketsBehind = 0;
    for (const connection of this.connections) if (connection.queue.behind) socketsBehind += 1;
    return {
      sockets: this.connections.size,
      signedInSockets,
      subscriptions: this.subscriptionCount,
      topics: this.topics.size,
      socketsBehind,
      messagesSent: this.counters.sent,
      messagesConflated: this.counters.conflated,
      eventsConflated: this.fanout.counters.eventsConflated,
      topicsFanningOut: this.fanout.busyTopics,
      slowSocketsDropped: this.slowSocketsDropped,
      heartbeatTimeouts: this.heartbeatTimeouts,
    };
  }

  /** Closes every socket with 1001 (clients reconnect elsewhere and resume), then stops. Safe to call twice. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      clearInterval(this.heartbeat);
      this.attached?.server.off('upgrade', this.attached.listener);
      for (const connection of this.connections) this.closeConnection(connection, CLOSE_CODES.GOING_AWAY, 'server shutting down');
      await Promise.all([...this.connections].map((c) => c.closed));
      this.wss.close();
    })());
  }

  // --- connecting ------------------------------------------------------------------------------

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (this.closing) return refuseUpgrade(socket, 503, problemOf('NOT_READY', 'the server is shutting down: connect to another node'));
    if (this.connections.size + this.upgradesInProgress >= this.limits.socketsMax) {
      return refuseUpgrade(socket, 503, problemOf('NOT_READY', 'this node holds as many WebSocket connections as it may: retry later or elsewhere'));
    }
    this.upgradesInProgress += 1;
    socket.on('error', () => {}); // a peer that vanishes mid-upgrade is not an error of ours
    let auth: UpgradeAuth;
    try {
      auth = await this.upgradeAuth(req);
    } catch (error) {
      this.logger.error({ err: error }, 'authenticating a WebSocket upgrade failed');
      return refuseUpgrade(socket, 503, problemOf('NOT_READY', 'sign-in is not available right now: retry shortly'));
    } finally {
      this.upgradesInProgress -= 1;
    }
    if (socket.destroyed) return;
    if (this.closing) return refuseUpgrade(socket, 503, problemOf('NOT_READY', 'the server is shutting down: connect to another node'));
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, socket, req, auth));
  }

  /** A token on the upgrade: `Authorization: Bearer` (API clients) or `?token=` (browsers cannot set headers). */
  private async upgradeAuth(req: IncomingMessage): Promise<UpgradeAuth> {
    const header = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = header ?? new URL(req.url ?? '/', 'http://gateway').searchParams.get('token') ?? undefined;
    if (token === undefined || token === '') return null;
    const principal = await this.options.authenticate(token);
    return principal ? { principal, token } : 'invalid';
  }

  private connected(socket: WebSocket, rawSocket: Duplex, req: IncomingMessage, auth: UpgradeAuth): void {
    const connection = new Connection(this.nextConnectionId++, socket, rawSocket, this.limits, this.counters, this.options.clock.nowMs());
    this.connections.add(connection);
    socket.on('message', (data, isBinary) => this.received(connection, data, isBinary));
    socket.on('pong', () => (connection.missedPongs = 0));
    socket.on('error', (error) => this.logger.debug({ socketId: connection.id, err: error }, 'WebSocket error'));
    socket.on('close', (code) => this.forget(connection, code));
    this.logger.debug({ socketId: connection.id, address: req.socket.remoteAddress }, 'WebSocket connected');
    this.send(connection, { type: 'hello', serverTimeMs: this.options.clock.nowMs(), heartbeatMs: this.heartbeatMs, messageBytesMax: this.limits.messageBytesMax });
    if (auth === 'invalid') this.sendError(connection, 'INVALID_CREDENTIALS', 'the token is unknown, expired or revoked; the socket is not signed in');
    else if (auth) this.signIn(connection, auth.principal, auth.token);
  }

  // --- receiving -------------------------------------------------------------------------------

  private received(connection: Connection, data: RawData, isBinary: boolean): void {
    if (connection.closing) return;
    connection.missedPongs = 0;
    if (isBinary) return this.closeConnection(connection, CLOSE_CODES.UNSUPPORTED_DATA, 'binary frames are not accepted: send JSON text');
    const text = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (text.length > this.limits.messageBytesMax) {
      // Still parsed (it is under framePayloadMax) for its id, so a waiting command hears why.
      return this.protocolError(connection, 'MESSAGE_TOO_LARGE', `a message may be at most ${this.limits.messageBytesMax} bytes`, messageIdOf(text.toString('utf8')));
    }
    const parsed = parseClientMessage(text.toString('utf8'));
    if (!parsed.ok) return this.protocolError(connection, parsed.code, parsed.detail, parsed.id, parsed.errors);
    if (!connection.takeMessageToken(this.options.clock.nowMs())) {
      const detail = `at most ${this.limits.messagesPerSecond} messages a second (bursts of ${this.limits.messagesBurst}); this one was ignored`;
      return this.protocolError(connection, 'RATE_LIMITED', detail, parsed.message.id);
    }
    this.dispatch(connection, parsed.message).catch((error: unknown) => {
      this.logger.error({ socketId: connection.id, type: parsed.message.type, err: error }, 'WebSocket message handling failed');
      this.sendError(connection, 'INTERNAL', 'something went wrong on our side', parsed.message.id);
    });
  }

  private async dispatch(connection: Connection, message: ClientMessage): Promise<void> {
    switch (message.type) {
      case 'auth':
        return this.authMessage(connection, message.token, message.id);
      case 'subscribe':
        return this.subscribe(connection, message.topic, message.fromSeq ?? null, message.id);
      case 'unsubscribe':
        this.unsubscribe(connection, message.topic);
        this.send(connection, withId({ type: 'unsubscribed', topic: message.topic }, message.id));
        return;
      case 'ping':
        this.send(connection, withId({ type: 'pong', serverTimeMs: this.options.clock.nowMs() }, message.id));
        return;
      case 'command':
        return this.command(connection, message);
    }
  }

  private protocolError(connection: Connection, code: ErrorFrameCode, detail: string, id?: MessageId, errors?: FieldError[]): void {
    this.sendError(connection, code, detail, id, undefined, errors);
    if (connection.recordProtocolError(this.options.clock.nowMs())) {
      this.closeConnection(connection, CLOSE_CODES.POLICY_VIOLATION, 'too many protocol errors');
    }
  }

  // --- signing in ------------------------------------------------------------------------------

  /** Auth messages run one after another; subscribes and commands wait for those before them. */
  private authMessage(connection: Connection, token: string, id: MessageId | undefined): Promise<void> {
    const run = async () => {
      const principal = await this.options.authenticate(token);
      if (!principal) return this.protocolError(connection, 'INVALID_CREDENTIALS', 'the token is unknown, expired or revoked', id);
      if (connection.principal && connection.principal.userId !== principal.userId) {
        return this.protocolError(connection, 'ALREADY_AUTHENTICATED', 'this socket is signed in as someone else: open a new socket', id);
      }
      this.signIn(connection, principal, token, id);
    };
    const settled = connection.authSettled.then(run).catch((error: unknown) => {
      this.logger.error({ socketId: connection.id, err: error }, 'WebSocket sign-in failed');
      this.sendError(connection, 'INTERNAL', 'sign-in is not available right now: retry shortly', id);
    });
    connection.authSettled = settled;
    return settled;
  }

  private signIn(connection: Connection, principal: Principal, token: string, id?: MessageId): void {
    if (connection.closing) return;
    connection.principal = principal;
    connection.token = token;
    connection.authCheckedAtMs = this.options.clock.nowMs();
    let sockets = this.users.get(principal.userId);
    if (!sockets) {
      this.users.set(principal.userId, (sockets = new Set()));
      this.interestChanged({ kind: 'user', key: principal.userId, active: true });
    }
    sockets.add(connection);
    this.send(connection, withId({ type: 'authenticated', userId: principal.userId, roles: principal.roles }, id));
  }

  /** The socket's principal for a command; a session that ended since closes the socket (4001). */
  private async currentPrincipal(connection: Connection): Promise<Principal | null> {
    await connection.authSettled;
    const { principal, token } = connection;
    if (!principal || token === undefined) return null;
    const nowMs = this.options.clock.nowMs();
    if (nowMs - connection.authCheckedAtMs < this.limits.sessionRecheckMs) return principal;
    const again = await this.options.authenticate(token);
    if (!again || again.userId !== principal.userId) {
      this.closeConnection(connection, CLOSE_CODES.SESSION_ENDED, 'the session ended: sign in again');
      return null;
    }
    connection.principal = again;
    connection.authCheckedAtMs = nowMs;
    return again;
  }

  // --- subscriptions ---------------------------------------------------------------------------

  private async subscribe(connection: Connection, topic: string, fromSeq: number | null, id: MessageId | undefined): Promise<void> {
    const parsed = parseTopic(topic);
    const source = parsed && this.sources.get(parsed.kind);
    if (!parsed || !source) {
      const kinds = [...this.sources.keys()].map((k) => `${k}:<id>`).join(', ') || 'none yet';
      return this.protocolError(connection, 'INVALID_TOPIC', `"${topic.slice(0, 80)}" is not a topic served here (${kinds})`, id);
    }
    if (!connection.subscriptions.has(topic) && connection.subscriptions.size >= this.limits.subscriptionsPerSocketMax) {
      return this.protocolError(connection, 'TOO_MANY_SUBSCRIPTIONS', `a socket may follow at most ${this.limits.subscriptionsPerSocketMax} topics`, id);
    }
    // Subscribing again restarts the topic from fromSeq. Registered before the catch-up starts,
    // so no event published meanwhile is missed: it waits in `buffered`. The topic's first socket
    // here tells the interest listeners in addSubscription, synchronously, so scaled out the
    // relay subscribes to the topic on NATS now; the catch-up is read only once that
    // subscription is in effect (`topicsArriving`), so an event the relay has not received is
    // one committed before the catch-up's read, and the catch-up has it.
    this.unsubscribe(connection, topic);
    const subscription: Subscription = { connection, topic, live: false, lastSeq: -1, buffered: [] };
    this.addSubscription(subscription);
    await connection.authSettled;
    const arriving = this.topicsArriving.get(topic);
    if (arriving) await arriving;
    try {
      const catchUp = await source.catchUp(parsed.id, connection.principal, fromSeq);
      if (connection.subscriptions.get(topic) !== subscription) return; // unsubscribed, replaced or closed meanwhile
      this.goLive(subscription, catchUp, id);
    } catch (error) {
      if (connection.subscriptions.get(topic) === subscription) this.unsubscribe(connection, topic);
      this.refuseSubscription(connection, topic, error, id);
    }
  }

  /** Sends `subscribed`, the missed events, then the live events that arrived meanwhile, each seq once. */
  private goLive(subscription: Subscription, catchUp: CatchUp, id: MessageId | undefined): void {
    const { connection, topic } = subscription;
    if (!Number.isSafeInteger(catchUp?.seq) || !Array.isArray(catchUp.events)) throw new Error(`the ${topic} source answered a catch-up without seq or events`);
    // Serialised before anything is sent, so a source bug refuses the subscription cleanly.
    const subscribed = serialise(withId({ type: 'subscribed', topic, seq: catchUp.seq, ...(catchUp.snapshot !== undefined && { snapshot: catchUp.snapshot }) }, id));
    let lastSeq = catchUp.seq;
    const missed: Buffer[] = [];
    for (const { seq, event } of catchUp.events) {
      if (!(seq > lastSeq)) continue;
      lastSeq = seq;
      missed.push(serialise({ type: 'event', topic, seq, event }));
    }
    if (!this.enqueue(connection, subscribed)) return;
    for (const payload of missed) if (!this.enqueue(connection, payload)) return;
    const buffered = subscription.buffered;
    subscription.buffered = [];
    subscription.lastSeq = lastSeq;
    subscription.live = true;
    for (const { seq, payload, conflationKey } of buffered) this.deliver(subscription, seq, payload, conflationKey);
  }

  private refuseSubscription(connection: Connection, topic: string, error: unknown, id: MessageId | undefined): void {
    if (error instanceof AppError) return this.sendError(connection, error.code, error.message, id, topic, error.errors);
    this.logger.error({ socketId: connection.id, topic, err: error }, 'a topic catch-up failed');
    this.sendError(connection, 'INTERNAL', 'the catch-up failed on our side: subscribe again shortly', id, topic);
  }

  private addSubscription(subscription: Subscription): void {
    subscription.connection.subscriptions.set(subscription.topic, subscription);
    let subscribers = this.topics.get(subscription.topic);
    if (!subscribers) {
      this.topics.set(subscription.topic, (subscribers = new Set()));
      this.interestChanged({ kind: 'topic', key: subscription.topic, active: true });
    }
    subscribers.add(subscription);
    this.subscriptionCount += 1;
  }

  private unsubscribe(connection: Connection, topic: string): void {
    const subscription = connection.subscriptions.get(topic);
    if (!subscription) return;
    connection.subscriptions.delete(topic);
    const subscribers = this.topics.get(topic);
    subscribers?.delete(subscription);
    if (subscribers?.size === 0) {
      this.topics.delete(topic);
      this.interestChanged({ kind: 'topic', key: topic, active: false });
    }
    this.subscriptionCount -= 1;
  }

  private interestChanged(change: InterestChange, listeners: Iterable<InterestListener> = this.interestListeners): void {
    const waits: PromiseLike<void>[] = [];
    for (const listener of listeners) {
      try {
        const wait = listener(change);
        if (wait) waits.push(wait);
      } catch (error) {
        this.logger.error({ err: error, ...change }, 'an interest listener failed');
      }
    }
    if (change.kind !== 'topic') return;
    if (!change.active) return void this.topicsArriving.delete(change.key);
    if (waits.length === 0) return;
    const earlier = this.topicsArriving.get(change.key);
    if (earlier) waits.push(earlier);
    // A listener that fails still lets the catch-up run: subscribers get it, late or not.
    const arriving: Promise<void> = Promise.all(waits).then(
      () => {},
      (error: unknown) => this.logger.warn({ err: error, topic: change.key }, 'an interest listener failed to make a topic flow here'),
    );
    this.topicsArriving.set(change.key, arriving);
    void arriving.then(() => {
      if (this.topicsArriving.get(change.key) === arriving) this.topicsArriving.delete(change.key);
    });
  }

  private deliver(subscription: Subscription, seq: number, payload: Buffer, conflationKey: string | undefined): void {
    if (!subscription.live) {
      if (subscription.buffered.length >= this.limits.catchUpBufferMax) return this.dropSlow(subscription.connection);
      subscription.buffered.push({ seq, payload, conflationKey });
      return;
    }
    if (seq <= subscription.lastSeq) return;
    subscription.lastSeq = seq;
    this.enqueue(subscription.connection, payload, conflationKey);
  }

  // --- commands --------------------------------------------------------------------------------

  private async command(connection: Connection, message: Extract<ClientMessage, { type: 'command' }>): Promise<void> {
    const { id } = message;
    if (connection.commandsInFlight >= this.limits.commandsInFlightMax) {
      return this.sendProblem(connection, id, problemOf('RATE_LIMITED', `at most ${this.limits.commandsInFlightMax} commands may wait for their result at once`));
    }
    connection.commandsInFlight += 1;
    try {
      const principal = await this.currentPrincipal(connection);
      if (!principal) return this.sendProblem(connection, id, problemOf('UNAUTHENTICATED', 'commands need a signed-in socket: send {"type":"auth","token":…} first'));
      if (message.topic !== undefined && !parseTopic(message.topic)) {
        const errors: FieldError[] = [{ in: 'body', field: 'topic', message: 'must be a topic like "auction:<id>"' }];
        return this.sendProblem(connection, id, problemOf('VALIDATION', 'topic: must be a topic like "auction:<id>"', { errors }));
      }
      if (!this.onCommand) return this.sendProblem(connection, id, problemOf('NOT_FOUND', `no command named "${message.name}" is served here`));
      const command = { name: message.name, args: message.args, ...(message.topic !== undefined && { topic: message.topic }) };
      const result = await this.onCommand(principal, command);
      if (!this.send(connection, { type: 'result', id, ok: true, result: result ?? null })) {
        this.sendProblem(connection, id, problemOf('INTERNAL', 'the result could not be sent; the command was carried out'));
      }
    } catch (error) {
      this.sendProblem(connection, id, this.problemOfError(error, connection, message.name));
    } finally {
      connection.commandsInFlight -= 1;
    }
  }

  private problemOfError(error: unknown, connection: Connection, name: string): Problem {
    if (error instanceof AppError) return problemOf(error.code, error.message, error.errors ? { errors: error.errors } : {});
    this.logger.error({ socketId: connection.id, command: name, err: error }, 'a WebSocket command failed');
    return problemOf('INTERNAL', 'something went wrong on our side');
  }

  private sendProblem(connection: Connection, id: MessageId, problem: Problem): void {
    this.send(connection, { type: 'result', id, ok: false, problem });
  }

  // --- sending ---------------------------------------------------------------------------------

  /** Serialises and sends one message to one socket; false (and logged) if it is not JSON-serialisable. */
  private send(connection: Connection, message: ServerMessage): boolean {
    let payload: Buffer;
    try {
      payload = serialise(message);
    } catch (error) {
      this.logger.error({ socketId: connection.id, type: message.type, err: error }, 'a WebSocket message is not JSON-serialisable');
      return false;
    }
    this.enqueue(connection, payload);
    return true;
  }

  private sendError(connection: Connection, code: ErrorFrameCode, detail: string, id?: MessageId, topic?: string, errors?: FieldError[]): void {
    this.send(connection, { type: 'error', code, detail, ...(id !== undefined && { id }), ...(topic !== undefined && { topic }), ...(errors && { errors }) });
  }

  /** Queues bytes for the socket; a socket whose backlog overflows is closed. False if it was. */
  private enqueue(connection: Connection, payload: Buffer, conflationKey?: string): boolean {
    if (connection.closing) return false;
    if (connection.queue.send(payload, conflationKey)) return true;
    this.dropSlow(connection);
    return false;
  }

  private dropSlow(connection: Connection): void {
    if (connection.closing) return;
    this.slowSocketsDropped += 1;
    this.logger.info({ socketId: connection.id, backlog: connection.queue.backlog }, 'WebSocket too slow for its feeds: closed');
    this.closeConnection(connection, CLOSE_CODES.TOO_SLOW, 'too slow: reconnect and resume with fromSeq');
  }

  // --- closing ---------------------------------------------------------------------------------

  /** Stops everything for the socket now, then closes it; a peer that does not answer is cut. */
  private closeConnection(connection: Connection, code: number, reason: string): void {
    if (connection.closing) return;
    this.detach(connection);
    connection.socket.close(code, reason);
    connection.killTimer = setTimeout(() => connection.socket.terminate(), this.limits.closeGraceMs);
    connection.killTimer.unref();
  }

  private detach(connection: Connection): void {
    connection.closing = true;
    connection.queue.clear();
    for (const topic of [...connection.subscriptions.keys()]) this.unsubscribe(connection, topic);
    if (connection.principal) {
      const sockets = this.users.get(connection.principal.userId);
      sockets?.delete(connection);
      if (sockets?.size === 0) {
        this.users.delete(connection.principal.userId);
        this.interestChanged({ kind: 'user', key: connection.principal.userId, active: false });
      }
    }
  }

  private forget(connection: Connection, code: number): void {
    if (!connection.closing) this.detach(connection);
    clearTimeout(connection.killTimer);
    this.connections.delete(connection);
    connection.markClosed();
    this.logger.debug({ socketId: connection.id, code }, 'WebSocket closed');
  }

  /** Pings every socket; one that has not answered the last two pings is cut. */
  private beat(): void {
    for (const connection of this.connections) {
      if (connection.closing) continue;
      if (connection.missedPongs >= 2) {
        this.heartbeatTimeouts += 1;
        this.detach(connection);
        connection.socket.terminate();
        continue;
      }
      connection.missedPongs += 1;
      connection.socket.ping();
    }
  }
}

/** The message as one whole text frame, written as is to each socket (ws-send-queue.ts). */
function serialise(message: ServerMessage): Buffer {
  return textFrame(message);
}

function withId<T extends ServerMessage>(message: T, id: MessageId | undefined): T {
  return id === undefined ? message : { ...message, id };
}

function pathOf(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!;
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** Answers an upgrade we will not take with a plain HTTP problem response. */
function refuseUpgrade(socket: Duplex, status: number, problem: Problem): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(problem);
  const reason = status === 404 ? 'Not Found' : 'Service Unavailable';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** gavel_ws_* metrics, read from the gateway's counters when scraped (nothing extra per message). */
function registerMetrics(registry: Registry, stats: () => WsStats): void {
  const gauge = (name: string, help: string, read: (s: WsStats) => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(read(stats())); } });
  const counter = (name: string, help: string, read: (s: WsStats) => number) =>
    new Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(read(stats())); } });
  gauge('gavel_ws_sockets', 'Open WebSocket connections', (s) => s.sockets);
  gauge('gavel_ws_subscriptions', 'Topic subscriptions across open WebSocket connections', (s) => s.subscriptions);
  gauge('gavel_ws_sockets_behind', 'WebSocket connections with messages waiting because they read slower than their feeds', (s) => s.socketsBehind);
  counter('gavel_ws_messages_sent_total', 'Messages handed to WebSocket connections', (s) => s.messagesSent);
  counter('gavel_ws_messages_conflated_total', 'Waiting messages superseded by a later one with the same conflation key', (s) => s.messagesConflated);
  counter('gavel_ws_events_conflated_total', 'Events of a busy topic superseded by a later one with the same conflation key before their fan-out began', (s) => s.eventsConflated);
  counter('gavel_ws_slow_sockets_dropped_total', 'WebSocket connections closed (4000) for falling too far behind', (s) => s.slowSocketsDropped);
  counter('gavel_ws_heartbeat_timeouts_total', 'WebSocket connections cut for missing two heartbeats', (s) => s.heartbeatTimeouts);
}
