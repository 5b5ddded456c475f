// The per-socket send queue against a fake socket whose unsent bytes the test controls: when
// messages wait, what conflation keeps, and in which order things go out.
import { describe, expect, it } from 'vitest';
import { SendQueue, type FrameSink } from '../../src/gateway/ws-send-queue.js';

/** A socket whose peer reads nothing while `stuck`: what is sent stays unsent (bufferedAmount grows). */
class FakeSocket implements FrameSink {
  bufferedAmount = 0;
  stuck = true;
  readonly written: string[] = [];
  private pendingFlush: ((error?: Error | null) => void) | undefined;

  write(data: Buffer, cb?: (error?: Error | null) => void): void {
    this.written.push(data.toString());
    if (this.stuck) this.bufferedAmount += data.length;
    if (cb) this.pendingFlush = cb;
  }

  /** The kernel took everything: the callback of the last send fires. The peer may stay `stuck`. */
  drain(options: { error?: Error; stuck?: boolean } = {}): void {
    this.bufferedAmount = 0;
    this.stuck = options.stuck ?? false;
    const cb = this.pendingFlush;
    this.pendingFlush = undefined;
    cb?.(options.error);
  }
}

const LIMITS = { socketBufferBytes: 10, backlogBytesMax: 1000, backlogMessagesMax: 5 };
const msg = (text: string) => Buffer.from(text);

function setUp(limits = LIMITS) {
  const socket = new FakeSocket();
  const counters = { sent: 0, conflated: 0 };
  return { socket, counters, queue: new SendQueue(socket, limits, counters) };
}

describe('send queue', () => {
  it('writes straight through while the socket keeps up', () => {
    const { socket, queue, counters } = setUp();
    socket.stuck = false;
    expect(queue.send(msg('a'))).toBe(true);
    expect(queue.send(msg('b'), 'k')).toBe(true);
    expect(socket.written).toEqual(['a', 'b']);
    expect(queue.behind).toBe(false);
    expect(counters.sent).toBe(2);
  });

  it('once the socket holds socketBufferBytes, messages wait and go out in order when it drains', () => {
    const { socket, queue } = setUp();
    queue.send(msg('0123456789')); // crosses the buffer limit: carries the drain callback
    expect(queue.behind).toBe(true);
    queue.send(msg('b'));
    queue.send(msg('c'));
    expect(socket.written).toEqual(['0123456789']);
    expect(queue.backlog).toEqual({ messages: 2, bytes: 2 });
    socket.drain();
    expect(socket.written).toEqual(['0123456789', 'b', 'c']);
    expect(queue.behind).toBe(false);
  });

  it('a conflatable message replaces the waiting one with its key and moves to the back, so order holds', () => {
    const { socket, queue, counters } = setUp();
    queue.send(msg('0123456789'));
    queue.send(msg('price5'), 'price');
    queue.send(msg('outbid6'));
    queue.send(msg('price7'), 'price');
    queue.send(msg('depth8'), 'depth');
    queue.send(msg('price9'), 'price');
    expect(counters.conflated).toBe(2);
    expect(queue.backlog.messages).toBe(3);
    socket.drain();
    expect(socket.written.slice(1)).toEqual(['outbid6', 'depth8', 'price9']);
  });

  it('messages without a key are never dropped; past the bound the queue says to close the socket', () => {
    const { queue, socket } = setUp();
    queue.send(msg('0123456789'));
    for (let i = 1; i <= 5; i++) expect(queue.send(msg(`key${i}`))).toBe(true);
    expect(queue.send(msg('key6'))).toBe(false);
    socket.drain();
    expect(socket.written.slice(1)).toEqual(['key1', 'key2', 'key3', 'key4', 'key5', 'key6']);
  });

  it('a drain that fills the socket again stops the flush; the rest waits for the next drain', () => {
    const { socket, queue } = setUp();
    queue.send(msg('0123456789'));
    queue.send(msg('aaaaaaaaaa'));
    queue.send(msg('b'));
    socket.drain({ stuck: true });
    expect(socket.written).toEqual(['0123456789', 'aaaaaaaaaa']);
    expect(queue.behind).toBe(true);
    socket.drain();
    expect(socket.written.at(-1)).toBe('b');
    expect(queue.behind).toBe(false);
  });

  it('a socket behind for long on a busy conflated feed holds only the latest message', () => {
    const { socket, queue } = setUp();
    queue.send(msg('0123456789'));
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) if (queue.send(msg(`p${i}`), 'price')) accepted += 1;
    expect(accepted).toBe(10_000);
    expect(queue.backlog).toEqual({ messages: 1, bytes: 5 });
    socket.drain();
    expect(socket.written.slice(1)).toEqual(['p9999']);
  });

  it('a failed write (the socket closed) forgets what waits', () => {
    const { socket, queue } = setUp();
    queue.send(msg('0123456789'));
    queue.send(msg('b'));
    socket.drain({ error: new Error('closed') });
    expect(queue.backlog.messages).toBe(0);
    queue.send(msg('c'));
    expect(socket.written).toEqual(['0123456789']);
  });
});
