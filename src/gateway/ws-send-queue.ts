// One socket's outgoing messages, bounded. While the socket keeps up, a message goes straight
// to `ws` (and on to the kernel). Once `ws` holds `socketBufferBytes` unsent, the socket is
// "behind": further messages wait here, a conflatable one replaces the waiting message with the
// same key (latest wins), and a message with no key is never dropped. When the backlog passes
// its bound the caller closes the socket; other sockets never wait for this one.
//
// Only public `ws` API is used: `bufferedAmount` to see how much is unsent, and the callback of
// the one send that crossed the limit as the signal that the socket drained.

/** The part of a `ws` WebSocket this queue writes to. */
export interface FrameSink {
  readonly bufferedAmount: number;
  send(data: Buffer, options: { binary: boolean }, cb?: (error?: Error) => void): void;
}

export interface SendQueueLimits {
  /** Unsent bytes `ws` may hold before messages wait here instead. */
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

const TEXT = { binary: false } as const;

export class SendQueue {
  private readonly waiting: Waiting[] = [];
  private head = 0;
  private readonly byKey = new Map<string, Waiting>();
  private backlogBytes = 0;
  private backlogMessages = 0;
  /** A send carrying `onFlushed` is in flight: nothing more goes to `ws` until it fires. */
  private awaitingFlush = false;
  private closed = false;
  private readonly onFlushed = (error?: Error): void => {
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
   * Sends `payload` (a serialised text message), or queues it while the socket is behind.
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

  /** Hands `payload` to `ws`; the one that crosses the buffer limit carries the drain callback. */
  private write(payload: Buffer): void {
    this.counters.sent += 1;
    if (this.sink.bufferedAmount + payload.length < this.limits.socketBufferBytes) {
      this.sink.send(payload, TEXT);
      return;
    }
    this.awaitingFlush = true;
    this.sink.send(payload, TEXT, this.onFlushed);
  }

  /** `ws` drained: send what waits, in order, until the socket is behind again. */
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
