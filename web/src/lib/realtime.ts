// One WebSocket per tab to /ws (docs/realtime.md): live topics (auction rooms, order books,
// trades), private pushes (outbid, fills, notifications) and the server's clock.
//
// - Reconnects by itself with backoff (0.5 s doubling to 15 s, with jitter), at once when the
//   browser comes back online, and when a ping gets no pong within 6 s (a silent dead socket).
// - Resumes every topic from the last seq it saw (`fromSeq`): the server replays what was
//   missed, or sends a fresh snapshot; events at or below the last seq are dropped, so a
//   listener sees each seq once, in order.
// - Signs in with an `auth` message (the token never goes in a URL); signing out, or another
//   user signing in, opens a fresh socket, since a socket belongs to one user.
import { sampleOneWay, sampleRoundTrip } from './clock.js';
import { createStore } from './store.js';

export interface TopicListener {
  /** The topic's state at `seq` (on subscribe, and when the server could not replay a gap). */
  onSnapshot?(snapshot: any, seq: number): void;
  onEvent(event: any, seq: number): void;
  /** The server refused the subscription (NOT_FOUND, FORBIDDEN, INVALID_TOPIC…). */
  onError?(code: string, detail: string): void;
}

export type ConnectionStatus = 'connecting' | 'live' | 'reconnecting';

interface Topic {
  listeners: Set<TopicListener>;
  lastSeq: number | null;
}

const PING_EVERY_MS = 10_000;
const PONG_WITHIN_MS = 6_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;

export class Realtime {
  readonly status = createStore<ConnectionStatus>('connecting');
  private ws: WebSocket | null = null;
  private readonly topics = new Map<string, Topic>();
  private readonly pushListeners = new Set<(event: any) => void>();
  private token: string | null = null;
  private attempts = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly pings = new Map<string, number>();
  private nextId = 1;
  private started = false;
  /** Called when the server says the session is over (close 4001, or the token is refused). */
  onSessionEnded: () => void = () => {};

  start(token: string | null): void {
    this.token = token;
    if (this.started) return;
    this.started = true;
    window.addEventListener('online', () => this.reconnectNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.ping();
    });
    this.connect();
  }

  /** A new token for the same socket (sign-in), or a fresh socket (sign-out, another user). */
  setToken(token: string | null): void {
    const previous = this.token;
    this.token = token;
    if (token === previous) return;
    if (previous === null && token !== null && this.ws?.readyState === WebSocket.OPEN) this.send({ type: 'auth', token, id: `auth-${this.nextId++}` });
    else this.reconnectNow();
  }

  subscribe(topic: string, listener: TopicListener): () => void {
    let entry = this.topics.get(topic);
    if (!entry) this.topics.set(topic, (entry = { listeners: new Set(), lastSeq: null }));
    entry.listeners.add(listener);
    // A new listener needs the current state: subscribing again makes the server send a snapshot.
    entry.lastSeq = null;
    this.sendSubscribe(topic, entry);
    return () => {
      entry.listeners.delete(listener);
      if (entry.listeners.size === 0) {
        this.topics.delete(topic);
        this.send({ type: 'unsubscribe', topic });
      }
    };
  }

  onPush(listener: (event: any) => void): () => void {
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  /** Closes the socket now and connects again at once (keeps the topics and their seqs). */
  reconnectNow(): void {
    this.drop();
    this.attempts = 0;
    this.connect();
  }

  private connect(): void {
    clearTimeout(this.reconnectTimer);
    this.status.set(this.attempts === 0 && this.status.get() === 'connecting' ? 'connecting' : 'reconnecting');
    const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/ws`;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (m) => {
      if (this.ws === ws && typeof m.data === 'string') this.handle(JSON.parse(m.data) as Record<string, any>);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopPings();
      if (e.code === 4001) this.onSessionEnded();
      this.scheduleReconnect();
    };
  }

  private drop(): void {
    const ws = this.ws;
    this.ws = null;
    this.stopPings();
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
      try {
        ws.close(1000);
      } catch {
        // closing a socket that never opened
      }
    }
  }

  private scheduleReconnect(): void {
    this.status.set('reconnecting');
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempts);
    this.attempts += 1;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay / 2 + Math.random() * (delay / 2));
  }

  private handle(m: Record<string, any>): void {
    switch (m.type) {
      case 'hello':
        sampleOneWay(m.serverTimeMs as number, Date.now(), 'ws');
        this.attempts = 0;
        if (this.token) this.send({ type: 'auth', token: this.token, id: `auth-${this.nextId++}` });
        for (const [topic, entry] of this.topics) this.sendSubscribe(topic, entry);
        this.status.set('live');
        this.startPings();
        return;
      case 'subscribed': {
        const entry = this.topics.get(m.topic as string);
        if (!entry) return;
        entry.lastSeq = m.seq as number;
        if (m.snapshot !== undefined) for (const l of [...entry.listeners]) l.onSnapshot?.(m.snapshot, m.seq as number);
        return;
      }
      case 'event': {
        const entry = this.topics.get(m.topic as string);
        if (!entry) return;
        const seq = m.seq as number;
        if (entry.lastSeq !== null && seq <= entry.lastSeq) return;
        entry.lastSeq = seq;
        for (const l of [...entry.listeners]) l.onEvent(m.event, seq);
        return;
      }
      case 'push':
        for (const l of [...this.pushListeners]) l(m.event);
        return;
      case 'pong': {
        const sentAt = this.pings.get(String(m.id));
        this.pings.delete(String(m.id));
        clearTimeout(this.pongTimer);
        if (sentAt !== undefined) sampleRoundTrip(m.serverTimeMs as number, sentAt, Date.now());
        return;
      }
      case 'error':
        if (m.topic) {
          const entry = this.topics.get(m.topic as string);
          for (const l of entry ? [...entry.listeners] : []) l.onError?.(m.code as string, m.detail as string);
        } else if (m.code === 'INVALID_CREDENTIALS') {
          this.onSessionEnded();
        }
        return;
      default:
        return;
    }
  }

  private sendSubscribe(topic: string, entry: Topic): void {
    this.send({ type: 'subscribe', topic, ...(entry.lastSeq !== null && { fromSeq: entry.lastSeq }) });
  }

  private send(message: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  private startPings(): void {
    this.stopPings();
    this.ping();
    // A second sample soon after the first refines the clock offset.
    setTimeout(() => this.ping(), 1500);
    this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
  }

  private stopPings(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pings.clear();
  }

  private ping(): void {
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    const id = `p${this.nextId++}`;
    this.pings.set(id, Date.now());
    this.send({ type: 'ping', id });
    clearTimeout(this.pongTimer);
    // No answer: the socket is dead without having noticed (a laptop lid, a lost network).
    this.pongTimer = setTimeout(() => {
      this.drop();
      this.scheduleReconnect();
    }, PONG_WITHIN_MS);
  }
}

export const realtime = new Realtime();
