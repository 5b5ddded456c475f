// What the gateway keeps per socket: who it is, what it follows, what waits to be sent, and
// the counters that bound what a client may do (message rate, protocol errors, commands).
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Principal } from '../platform/auth/principal.js';
import { SendQueue, SocketFrameSink, type SendQueueCounters, type SendQueueLimits } from './ws-send-queue.js';

/** One socket's interest in one topic. */
export interface Subscription {
  readonly connection: Connection;
  readonly topic: string;
  /** False while the catch-up is in flight: live events wait in `buffered` meanwhile. */
  live: boolean;
  /** The highest seq sent to the client on this topic; anything at or below it is a duplicate. */
  lastSeq: number;
  buffered: Array<{ seq: number; payload: Buffer; conflationKey: string | undefined }>;
}

export interface ConnectionLimits extends SendQueueLimits {
  messagesPerSecond: number;
  messagesBurst: number;
  protocolErrorsMax: number;
  protocolErrorWindowMs: number;
}

export class Connection {
  readonly queue: SendQueue;
  readonly subscriptions = new Map<string, Subscription>();
  principal: Principal | null = null;
  /** Kept in memory only (never logged) to re-check the session behind it. */
  token: string | undefined;
  authCheckedAtMs = 0;
  /** The auth messages in flight, in order; anything needing the principal awaits it. */
  authSettled: Promise<void> = Promise.resolve();
  commandsInFlight = 0;
  /** Heartbeat pings sent since the peer last showed it is alive. */
  missedPongs = 0;
  closing = false;
  readonly closed: Promise<void>;
  markClosed!: () => void;
  killTimer: NodeJS.Timeout | undefined;

  private messageTokens: number;
  private refilledAtMs: number;
  private errorWindowStartMs = 0;
  private errorsInWindow = 0;

  constructor(
    readonly id: number,
    readonly socket: WebSocket,
    /** The socket `socket` was made on: frames go to it directly (ws-send-queue.ts). */
    rawSocket: Duplex,
    private readonly limits: ConnectionLimits,
    counters: SendQueueCounters,
    nowMs: number,
  ) {
    this.queue = new SendQueue(new SocketFrameSink(socket, rawSocket), limits, counters);
    this.messageTokens = limits.messagesBurst;
    this.refilledAtMs = nowMs;
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  /** A token bucket: `messagesBurst` at once, refilled at `messagesPerSecond`. */
  takeMessageToken(nowMs: number): boolean {
    const refill = ((nowMs - this.refilledAtMs) / 1000) * this.limits.messagesPerSecond;
    this.messageTokens = Math.min(this.limits.messagesBurst, this.messageTokens + Math.max(0, refill));
    this.refilledAtMs = nowMs;
    if (this.messageTokens < 1) return false;
    this.messageTokens -= 1;
    return true;
  }

  /** Counts a protocol error; true when the socket has made too many and should be closed. */
  recordProtocolError(nowMs: number): boolean {
    if (nowMs - this.errorWindowStartMs >= this.limits.protocolErrorWindowMs) {
      this.errorWindowStartMs = nowMs;
      this.errorsInWindow = 0;
    }
    this.errorsInWindow += 1;
    return this.errorsInWindow > this.limits.protocolErrorsMax;
  }
}
