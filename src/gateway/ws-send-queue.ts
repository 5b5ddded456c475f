// One socket's outgoing messages, bounded. While the socket keeps up, a message goes straight
// to the socket (and on to the kernel). Once the socket holds `socketBufferBytes` unsent, it is
// "behind": further messages wait here, a conflatable one replaces the waiting message with the
// same key (latest wins), and a message with no key is never dropped. When the backlog passes
// its bound the caller closes the socket; other sockets never wait for this one.
//
// Messages are whole WebSocket frames (`textFrame`), built once per message however many sockets
// it goes to, and written as they are: see `SocketFrameSink` for why that is safe beside `ws`.
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';

/** Where a queue writes its frames: a socket, or a test's fake. */
export interface FrameSink {
  /** Bytes written but not yet taken by the kernel. */
  readonly bufferedAmount: number;
  write(frame: Buffer, cb?: (error?: Error | null) => void): void;
}

/**
 * Serialises `message` as JSON straight into one final, unmasked text frame (RFC 6455 §5.2):
 * the header and payload in one Buffer, so a socket write is one plain write, with no per-socket
 * header and no cork + writev. Throws (before anything is sent) if `message` is not JSON-serialisable.
 */
export function textFrame(message: unknown): Buffer {
  const json = JSON.stringify(message);
  if (json === undefined) throw new TypeError('the message is not JSON-serialisable');
  const length = Buffer.byteLength(json, 'utf8');
  const headerBytes = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerBytes + length);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (headerBytes === 2) {
    frame[1] = length;
  } else if (headerBytes === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2); // the length is a 64-bit integer; a message is far below 2^32 bytes
    frame.writeUInt32BE(length, 6);
  }
  frame.write(json, headerBytes, 'utf8');
  return frame;
}

/** Bytes a socket may hold corked within one turn before they go to the kernel anyway. */
export const CORKED_BYTES_MAX = 16 * 1024;

// The turn: from one check phase of the event loop (setImmediate) to the next. Sinks that
// corked during it are uncorked at its end, so their frames leave as one write.
let turn = 0;
let turnEndScheduled = false;
const corkedSinks: SocketFrameSink[] = [];

function endTurn(): void {
  turnEndScheduled = false;
  turn += 1;
  for (let i = 0; i < corkedSinks.length; i++) corkedSinks[i]!.uncork();
  corkedSinks.length = 0;
}

function scheduleTurnEnd(): void {
  if (turnEndScheduled) return;
  turnEndScheduled = true;
  setImmediate(endTurn);
}

/**
 * Writes pre-built frames to the raw socket a `ws` WebSocket was made on (the one the gateway
 * handed to `handleUpgrade`). Why not `ws.send`: it frames per socket, a header Buffer and a
 * corked two-part write each time, which made our broadcast cost 1.28× a bare `ws` broadcast
 * (bench:fanout). Why it is safe: with permessage-deflate off (the gateway never turns it on)
 * `ws` writes each of its own frames (pings, pongs, close) to the same socket synchronously,
 * never holding one back, so frames cannot interleave or reorder; and nothing is written once
 * `ws` has left OPEN (it has sent or received a close frame), as `ws.send` would refuse.
 *
 * Frames to one socket within one turn leave together: the first is written at once (a room's
 * broadcast, one frame per socket, pays nothing more), later ones are corked until the turn
 * ends, so an exchange commit's answer and pushes to a trader cost one system call, not one
 * each. `ws`'s own frames written meanwhile join the cork in order, and its close frame is
 * only sent after what was corked before it. Corked bytes do not count as unsent
 * (`bufferedAmount`): the send queue must see what the kernel has not taken, not what this
 * turn is about to write; they are bounded by `CORKED_BYTES_MAX`.
 */
export class SocketFrameSink implements FrameSink {
  private corkedBytes = 0;
  private lastWriteTurn = -1;

  constructor(
    private readonly ws: WebSocket,
    private readonly raw: Duplex,
  ) {}

  get bufferedAmount(): number {
    return this.raw.writableLength - this.corkedBytes;
  }

  write(frame: Buffer, cb?: (error?: Error | null) => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) {
      if (cb) process.nextTick(cb, new Error('the WebSocket is not open'));
      return;
    }
    if (this.lastWriteTurn !== turn) {
      this.lastWriteTurn = turn;
      scheduleTurnEnd();
      this.raw.write(frame, cb);
      return;
    }
    if (this.corkedBytes === 0) {
      this.raw.cork();
      corkedSinks.push(this);
    }
    this.corkedBytes += frame.length;
    this.raw.write(frame, cb);
    if (this.corkedBytes >= CORKED_BYTES_MAX) this.uncork();
  }

  /** Sends what this turn corked (a no-op once done, or if `ws` ended the socket meanwhile). */
  uncork(): void {
    if (this.corkedBytes === 0) return;
    this.corkedBytes = 0;
    this.raw.uncork();
  }
}

export interface SendQueueLimits {
  /** Unsent bytes the socket may hold before messages wait here instead. */
  socketBufferBytes: number;
  /** Bytes waiting here beyond which the socket is given up (the caller closes it). */
  backlogBytesMax: number;
  /** Messages waiting here beyond which the socket is given up. */
  backlogMessagesMax: number;
}

export interface SendQueueCounters {
  sent: number;
  conflated: number;
}

interface Waiting {
  /** null once a later message with the same key replaced it. */
  payload: Buffer | null;
  key: string | undefined;
}

export class SendQueue {
  private readonly waiting: Waiting[] = [];
  private head = 0;
  private readonly byKey = new Map<string, Waiting>();
  private backlogBytes = 0;
  private backlogMessages = 0;
  /** A send carrying `onFlushed` is in flight: nothing more goes to `ws` until it fires. */
  private awaitingFlush = false;
  private closed = false;
  private readonly onFlushed = (error?: Error | null): void => {
    this.awaitingFlush = false;
    if (error) this.clear();
    else this.flush();
  };

  constructor(
    private readonly sink: FrameSink,
    private readonly limits: SendQueueLimits,
    private readonly counters: SendQueueCounters,
  ) {}

  /** Whether messages are waiting here (the socket is behind). */
  get behind(): boolean {
    return this.awaitingFlush || this.backlogMessages > 0;
  }

  get backlog(): { messages: number; bytes: number } {
    return { messages: this.backlogMessages, bytes: this.backlogBytes };
  }

  /**
   * Sends `payload` (a whole frame: `textFrame`), or queues it while the socket is behind.
   * `conflationKey`: a later message with the same key supersedes this one while both wait.
   * Returns false when the backlog is over its bound: the caller must close the socket.
   */
  send(payload: Buffer, conflationKey?: string): boolean {
    if (this.closed) return true;
    if (!this.behind) {
      this.write(payload);
      return true;
    }
    if (conflationKey !== undefined) this.dropWaiting(conflationKey);
    if (this.waiting.length - this.head > 2 * this.backlogMessages + 64) this.compact();
    const entry: Waiting = { payload, key: conflationKey };
    this.waiting.push(entry);
    if (conflationKey !== undefined) this.byKey.set(conflationKey, entry);
    this.backlogBytes += payload.length;
    this.backlogMessages += 1;
    return this.backlogBytes <= this.limits.backlogBytesMax && this.backlogMessages <= this.limits.backlogMessagesMax;
  }

  /** Forgets everything waiting; later sends are ignored (the socket is closing). */
  clear(): void {
    this.closed = true;
    this.waiting.length = 0;
    this.head = 0;
    this.byKey.clear();
    this.backlogBytes = 0;
    this.backlogMessages = 0;
  }

  private dropWaiting(key: string): void {
    const superseded = this.byKey.get(key);
    if (!superseded?.payload) return;
    this.backlogBytes -= superseded.payload.length;
    this.backlogMessages -= 1;
    superseded.payload = null;
    this.counters.conflated += 1;
  }

  /** Drops superseded entries, so a socket behind on a busy feed holds only what it will get. */
  private compact(): void {
    let kept = 0;
    for (let i = this.head; i < this.waiting.length; i++) {
      const entry = this.waiting[i]!;
      if (entry.payload !== null) this.waiting[kept++] = entry;
    }
    this.waiting.length = kept;
    this.head = 0;
  }

  /** Writes `payload` to the socket; the one that crosses the buffer limit carries the drain callback. */
  private write(payload: Buffer): void {
    this.counters.sent += 1;
    if (this.sink.bufferedAmount + payload.length < this.limits.socketBufferBytes) {
      this.sink.write(payload);
      return;
    }
    this.awaitingFlush = true;
    this.sink.write(payload, this.onFlushed);
  }

  /** The socket drained: send what waits, in order, until the socket is behind again. */
  private flush(): void {
    while (!this.closed && !this.awaitingFlush && this.head < this.waiting.length) {
      const entry = this.waiting[this.head++]!;
      if (entry.payload === null) continue;
      if (entry.key !== undefined && this.byKey.get(entry.key) === entry) this.byKey.delete(entry.key);
      this.backlogBytes -= entry.payload.length;
      this.backlogMessages -= 1;
      this.write(entry.payload);
    }
    // Sent and superseded entries before `head` are dropped in one go rather than shifted one by one.
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
  }
}
