// Frames the gateway builds itself and writes beside `ws`: a real `ws` client on the other end
// must read them as the messages they carry, of every header size, in order with the pings
// `ws` writes to the same socket, and nothing may follow the close frame.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { CORKED_BYTES_MAX, SocketFrameSink, textFrame } from '../../src/gateway/ws-send-queue.js';
import { cleanupsAfterEach } from '../support/cleanups.js';

const cleanups = cleanupsAfterEach();

interface Pair {
  server: WebSocket;
  /** Writes that reached the socket's handle (each a system call): one frame, or several at once. */
  handleWrites: number[];
  sink: SocketFrameSink;
  client: WebSocket;
  /** Everything the client read, in order: text messages as they are, pings as "<ping>". */
  received: string[];
  arrived: (count: number) => Promise<void>;
}

/** A server socket made the way the gateway makes it (noServer + handleUpgrade), and a client. */
async function connectedPair(): Promise<Pair> {
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false });
  const http: Server = createServer();
  const accepted = new Promise<{ server: WebSocket; raw: Duplex }>((resolve) => {
    http.on('upgrade', (req, raw: Duplex, head) => wss.handleUpgrade(req, raw, head, (server) => resolve({ server, raw })));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/`, { perMessageDeflate: false });
  cleanups.push(async () => {
    client.terminate();
    await new Promise((resolve) => http.close(resolve));
  });
  const received: string[] = [];
  let waiter: { count: number; resolve: () => void } | undefined;
  const check = () => {
    if (waiter && received.length >= waiter.count) waiter.resolve();
  };
  client.on('message', (data, isBinary) => {
    expect(isBinary).toBe(false);
    received.push(String(data));
    check();
  });
  client.on('ping', () => {
    received.push('<ping>');
    check();
  });
  const { server, raw } = await accepted;
  await new Promise((resolve) => client.once('open', resolve));
  // Counted where net.Socket hands bytes to its handle: a corked run arrives as one `_writev`.
  const handleWrites: number[] = [];
  const socket = raw as Duplex & { _write: (...a: unknown[]) => void; _writev: (chunks: unknown[], cb: unknown) => void };
  const writeOne = socket._write.bind(socket);
  const writeMany = socket._writev.bind(socket);
  socket._write = (...a: unknown[]) => {
    handleWrites.push(1);
    writeOne(...a);
  };
  socket._writev = (chunks: unknown[], cb: unknown) => {
    handleWrites.push(chunks.length);
    writeMany(chunks, cb);
  };
  const arrived = (count: number) =>
    new Promise<void>((resolve) => {
      waiter = { count, resolve };
      check();
    });
  return { server, handleWrites, sink: new SocketFrameSink(server, raw), client, received, arrived };
}

describe('frames written beside ws', () => {
  it('a client reads every message whole, whatever the size of its length header', async () => {
    const { sink, received, arrived } = await connectedPair();
    // JSON text lengths on both sides of each header size: 7-bit, 16-bit, 64-bit (RFC 6455 §5.2).
    const lengths = [2, 125, 126, 127, 65_535, 65_536, 200_000];
    const messages = lengths.map((length) => (length === 2 ? {} : { t: 'x'.repeat(length - '{"t":""}'.length) }));
    const texts = messages.map((m) => JSON.stringify(m));
    expect(texts.map((t) => t.length)).toEqual(lengths);
    for (const message of messages) sink.write(textFrame(message));
    await arrived(texts.length);
    expect(received).toEqual(texts);
  });

  it('carries multi-byte UTF-8 with its byte length, not its character count', async () => {
    const { sink, received, arrived } = await connectedPair();
    const message = { lot: 'Сервиз «Гжель» — 12 предметов', note: '€ ¥ 🔨'.repeat(40) };
    sink.write(textFrame(message));
    await arrived(1);
    expect(JSON.parse(received[0]!)).toEqual(message);
  });

  it('keeps its order with the pings ws writes to the same socket', async () => {
    const { server, sink, received, arrived } = await connectedPair();
    sink.write(textFrame({ n: 1 }));
    server.ping();
    sink.write(textFrame({ n: 2 }));
    server.ping();
    sink.write(textFrame({ n: 3 }));
    await arrived(5);
    expect(received).toEqual(['{"n":1}', '<ping>', '{"n":2}', '<ping>', '{"n":3}']);
  });

  it('writes nothing after ws has sent its close frame, and says so to a waiting writer', async () => {
    const { server, sink, client, received } = await connectedPair();
    sink.write(textFrame({ n: 1 }));
    const closed = new Promise<number>((resolve) => client.once('close', resolve));
    server.close(4000, 'too slow');
    const refused = new Promise<Error | null | undefined>((resolve) => sink.write(textFrame({ n: 2 }), resolve));
    expect(await refused).toBeInstanceOf(Error);
    expect(await closed).toBe(4000);
    expect(received).toEqual(['{"n":1}']);
  });

  it('frames to one socket in one turn leave together: the first at once, the rest in one write at the turn end', async () => {
    const { sink, received, arrived, handleWrites } = await connectedPair();
    for (let n = 1; n <= 5; n++) sink.write(textFrame({ n }));
    expect(handleWrites).toEqual([1]); // the first frame went at once
    expect(sink.bufferedAmount).toBe(0); // corked frames are not unsent bytes the queue must wait for
    await arrived(5);
    expect(received).toEqual([1, 2, 3, 4, 5].map((n) => `{"n":${n}}`));
    expect(handleWrites).toEqual([1, 4]);
    // The next turn starts afresh: its first frame goes at once again.
    sink.write(textFrame({ n: 6 }));
    expect(handleWrites).toEqual([1, 4, 1]);
    await arrived(6);
  });

  it('a turn that corks more than CORKED_BYTES_MAX sends it before the turn ends', async () => {
    const { sink, received, arrived, handleWrites } = await connectedPair();
    const pad = 'x'.repeat(1000);
    const count = Math.ceil(CORKED_BYTES_MAX / 1000) + 5;
    for (let n = 1; n <= count; n++) sink.write(textFrame({ n, pad }));
    expect(handleWrites.length).toBeGreaterThanOrEqual(2); // the direct write and the first full cork
    await arrived(count);
    expect(received.map((text) => JSON.parse(text).n)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(handleWrites.reduce((a, b) => a + b, 0)).toBe(count);
  });

  it('a close in the same turn goes after the frames corked before it', async () => {
    const { server, sink, client, received } = await connectedPair();
    const closed = new Promise<number>((resolve) => client.once('close', resolve));
    for (let n = 1; n <= 3; n++) sink.write(textFrame({ n }));
    server.close(4000, 'too slow');
    expect(await closed).toBe(4000);
    expect(received).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
  });

  it('refuses a message that is not JSON before anything is written', () => {
    expect(() => textFrame({ amount: 10n })).toThrow();
    expect(() => textFrame(undefined)).toThrow(/not JSON-serialisable/);
  });
});
