// The sandbox's webhook to its own node over HTTP: the status of the answer, a refusal, and an
// answer that never comes (a bounded wait, then an error the sandbox retries on).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { selfDeliver } from '../../src/ledger/payments/deliver.js';
import type { HttpServer } from '../../src/platform/http/server.js';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => (s.closeAllConnections(), s.close(resolve)))));
});

/** A node whose HTTP server answers with `handler`, listening on 127.0.0.1. */
async function listening(handler: http.RequestListener): Promise<HttpServer> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server } as unknown as HttpServer;
}

const webhook = { path: '/api/payments/webhook', headers: { 'content-type': 'application/json', 'gavel-signature': 't=1,v1=ab' }, body: '{"id":"evt_1","note":"crème"}' };

describe('the sandbox posting its webhook to its own node', () => {
  it('sends the path, headers and body as given, and resolves with the status, on a reused connection', async () => {
    const seen: Array<{ url: string | undefined; headers: http.IncomingHttpHeaders; body: string; socketPort: number | undefined }> = [];
    const node = await listening((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), socketPort: req.socket.remotePort });
        res.writeHead(seen.length === 1 ? 204 : 409).end(seen.length === 1 ? undefined : 'refused: a long answer nobody reads');
      });
    });
    const deliver = selfDeliver(() => node);
    expect(await deliver(webhook)).toEqual({ status: 204 });
    expect(await deliver(webhook)).toEqual({ status: 409 });
    expect(seen[0]).toMatchObject({ url: webhook.path, body: webhook.body, headers: { 'content-type': 'application/json', 'gavel-signature': 't=1,v1=ab', 'content-length': String(Buffer.byteLength(webhook.body)) } });
    expect(seen[1]!.socketPort).toBe(seen[0]!.socketPort); // kept alive
  });

  it('rejects when nothing answers in time, and when nothing listens', async () => {
    const silent = await listening(() => {}); // reads the request, never answers
    await expect(selfDeliver(() => silent, 200)(webhook)).rejects.toThrow('no answer within 200 ms');

    const gone = await listening(() => {});
    const { port } = gone.server.address() as AddressInfo;
    await new Promise((resolve) => gone.server.close(resolve));
    const stale = { server: { listening: true, address: () => ({ address: '127.0.0.1', family: 'IPv4', port }) } } as unknown as HttpServer;
    await expect(selfDeliver(() => stale, 1_000)(webhook)).rejects.toThrow(/ECONNREFUSED/);
  });
});
