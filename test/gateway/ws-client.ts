// A WebSocket client for tests: collects every message, lets a test wait for the next one that
// matches, and reports how the socket closed.
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { WebSocket, type ClientOptions } from 'ws';

export type Message = Record<string, any>;

export class TestClient {
  /** Every JSON message received, in order. */
  readonly received: Message[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private cursor = 0;
  private wake: (() => void) | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      this.received.push(isBinary ? { binary: true } : (JSON.parse(data.toString()) as Message));
      this.wake?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.closed.then(() => this.wake?.());
  }

  static async connect(url: string, options: ClientOptions = {}): Promise<TestClient> {
    const client = new TestClient(new WebSocket(url, { perMessageDeflate: false, ...options }));
    await Promise.race([once(client.socket, 'open'), client.closed.then(({ code }) => Promise.reject(new Error(`closed ${code} before open`)))]);
    return client;
  }

  /** Connects and consumes the hello. */
  static async ready(url: string, options: ClientOptions = {}): Promise<TestClient> {
    const client = await TestClient.connect(url, options);
    await client.next((m) => m.type === 'hello');
    return client;
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  /** The next message after the last one taken that matches; earlier non-matching ones are skipped. */
  async next(matches: (m: Message) => boolean = () => true, timeoutMs = 3000): Promise<Message> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.received.length) {
        const message = this.received[this.cursor++]!;
        if (matches(message)) return message;
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms; last received: ${JSON.stringify(this.received.slice(-3))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Sends a message and waits for the answer carrying the same id. */
  async request(message: Message & { id: string | number }): Promise<Message> {
    this.send(message);
    return this.next((m) => m.id === message.id);
  }

  /** Messages received since the last one taken, without waiting. */
  drain(): Message[] {
    const rest = this.received.slice(this.cursor);
    this.cursor = this.received.length;
    return rest;
  }

  /** The TCP socket under the WebSocket, to stop and resume reading (a slow consumer). */
  get tcp(): Socket {
    return (this.socket as unknown as { _socket: Socket })._socket;
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.terminate();
    await this.closed;
  }
}
