// Real-time messages across nodes. A market's events are produced by the engine that owns it,
// but the people watching are connected to any api node. Scaled out, the owner publishes each
// room/book/trade message on its topic's NATS subject and each private push on its person's
// subject (NATS core, not JetStream: a message an api node misses is a gap its clients close
// from the journal with `fromSeq`, and a push missed is also in the person's inbox or order
// list). An api node subscribes only to the topics and people its own sockets follow, as its
// WebSocket gateway reports them (`WsGateway.onInterest`), and hands what arrives to that
// gateway, which serialises each once and fans it out to its own sockets. So a bid costs the
// api nodes where nobody watches that auction nothing.
//
// Subjects, under the prefix (`<cluster prefix>.realtime`):
//   t.<kind>.<id>  a topic `<kind>:<id>`, e.g. `auction:<uuid>` → `t.auction.<uuid>`
//   u.<userId>     private pushes to one person
// Each part is one subject token: every character but A–Z a–z 0–9 and '-' is written as '_'
// and the two hex digits of each of its UTF-8 bytes ('.' → `_2E`, '_' → `_5F`), so no token
// holds '.', '*', '>' or white space and different topics never share a subject. UUIDs and
// instrument symbols like EUR-USD stay as they are.
//
// Order: NATS delivers one publisher's messages in order, so a topic's events (one owner)
// arrive in seq order and one person's pushes from one node in the order sent.
//
// In one process the engine hands them to the gateway directly.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { InterestListener } from '../gateway/ws.js';
import type { Logger } from '../platform/logging.js';

/** Where real-time messages go: the WebSocket gateway of this node, or the api nodes' that want them. */
export interface RealtimeOut {
  /** A public event on `topic` (e.g. `auction:<id>`) at position `seq`. */
  publish(topic: string, seq: number, event: unknown, options?: { conflate?: string }): void;
  /** A private message to every socket of one person. */
  sendToUser(userId: string, message: unknown): void;
}

/** Reports which topics and people have sockets here (WsGateway). */
export interface InterestSource {
  onInterest(listener: InterestListener): () => void;
}

type Wire = { t: string; s: number; e: unknown; c?: string } | { u: string; m: unknown };

/** The NATS subject of a topic's public messages. */
export function topicSubject(prefix: string, topic: string): string {
  const colon = topic.indexOf(':');
  // Token counts keep the two forms apart: `t.<kind>.<id>`, or `t.<token>` for a topic without ':'.
  return colon < 0 ? `${prefix}.t.${subjectToken(topic)}` : `${prefix}.t.${subjectToken(topic.slice(0, colon))}.${subjectToken(topic.slice(colon + 1))}`;
}

/** The NATS subject of one person's private pushes. */
export function userSubject(prefix: string, userId: string): string {
  return `${prefix}.u.${subjectToken(userId)}`;
}

/** `text` as one NATS subject token, one to one (see the top of this file). */
export function subjectToken(text: string): string {
  if (/^[A-Za-z0-9-]+$/.test(text)) return text;
  let token = '';
  for (const char of text) {
    if (/^[A-Za-z0-9-]$/.test(char)) token += char;
    else for (const byte of Buffer.from(char, 'utf8')) token += `_${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  // An empty text still needs a token; '_' alone is never an escape.
  return token === '' ? '_' : token;
}

/** The owner's side: publishes each message on its topic's or person's subject. */
export class NatsRealtimeOut implements RealtimeOut {
  constructor(
    private readonly nats: NatsConnection,
    private readonly prefix: string,
  ) {}

  publish(topic: string, seq: number, event: unknown, options: { conflate?: string } = {}): void {
    this.send(topicSubject(this.prefix, topic), { t: topic, s: seq, e: event, ...(options.conflate !== undefined && { c: options.conflate }) });
  }

  sendToUser(userId: string, message: unknown): void {
    this.send(userSubject(this.prefix, userId), { u: userId, m: message });
  }

  private send(subject: string, wire: Wire): void {
    // A closed connection (shutdown) drops them, as a crash would.
    try {
      this.nats.publish(subject, JSON.stringify(wire));
    } catch {
      /* the connection is closing */
    }
  }
}

export interface RealtimeRelayStats {
  /** Messages received on this node's subscriptions since it started. */
  messagesReceived: number;
  /** Topic and person subjects subscribed to now. */
  subjects: number;
}

export interface RealtimeRelay {
  /** Stops following the gateway's interest and drops every subscription. */
  unsubscribe(): void;
  stats(): RealtimeRelayStats;
  /** The subjects subscribed to now (for tests and diagnostics). */
  subjects(): string[];
}

export interface RelayRealtimeOptions {
  /**
   * How long a topic's first catch-up on this node waits for NATS to confirm the topic's
   * subscription (a round trip). Past it (NATS unreachable, reconnecting) the catch-up goes
   * ahead: its subscribers get it, perhaps with a gap the next event shows. Default 2 s.
   */
  confirmWaitMs?: number;
}

/**
 * An api node's side: subscribes to the subject of every topic and person with a socket on
 * `gateway`, while they have one, and hands what arrives to `gateway`.
 */
export function relayRealtime(nats: NatsConnection, prefix: string, gateway: RealtimeOut & InterestSource, logger: Logger, options: RelayRealtimeOptions = {}): RealtimeRelay {
  const confirmWaitMs = options.confirmWaitMs ?? 2_000;
  const decoder = new TextDecoder();
  const subscriptions = new Map<string, Subscription>();
  let messagesReceived = 0;
  let stopped = false;

  const deliver = (error: Error | null, data: Uint8Array) => {
    if (error) return;
    messagesReceived += 1;
    try {
      const wire = JSON.parse(decoder.decode(data)) as Wire;
      if ('u' in wire) gateway.sendToUser(wire.u, wire.m);
      else gateway.publish(wire.t, wire.s, wire.e, wire.c === undefined ? {} : { conflate: wire.c });
    } catch (err) {
      logger.warn({ err }, 'a real-time message from another node could not be relayed');
    }
  };

  const follow: InterestListener = ({ kind, key, active }) => {
    if (stopped) return;
    const subject = kind === 'topic' ? topicSubject(prefix, key) : userSubject(prefix, key);
    if (!active) {
      subscriptions.get(subject)?.unsubscribe();
      subscriptions.delete(subject);
      return;
    }
    if (subscriptions.has(subject)) return;
    try {
      subscriptions.set(subject, nats.subscribe(subject, { callback: (error, msg) => deliver(error, msg.data) }));
    } catch (err) {
      // Closed or draining: shutting down, nothing more arrives here anyway.
      logger.warn({ err, subject }, 'could not subscribe to real-time messages');
      return;
    }
    // A push missed meanwhile is also in the person's inbox or order list; a topic's catch-up
    // waits for the server to hold the subscription (the SUB goes before the PING that flush
    // answers), so an event this node does not receive was committed before the catch-up's read.
    if (kind === 'topic') return confirmed(nats, confirmWaitMs);
  };

  const stopFollowing = gateway.onInterest(follow);
  return {
    unsubscribe() {
      if (stopped) return;
      stopped = true;
      stopFollowing();
      for (const subscription of subscriptions.values()) subscription.unsubscribe();
      subscriptions.clear();
    },
    stats: () => ({ messagesReceived, subjects: subscriptions.size }),
    subjects: () => [...subscriptions.keys()],
  };
}

/** Settles once the server has answered a PING sent now, or after `waitMs`; never rejects. */
function confirmed(nats: NatsConnection, waitMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    try {
      nats.flush().then(done, done);
    } catch {
      done();
    }
  });
}
