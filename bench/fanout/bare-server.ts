// The baseline of bench/fanout.ts: a bare `ws` broadcast, in its own process like the Gavel
// node it is compared with. Same protocol surface the clients use (hello, subscribe →
// subscribed, event frames of the same shape and size as the gateway's PriceChanged), but
// nothing else: no auth, no limits, no send queue, no heartbeat, no storage. A broadcast is
// serialised once and the same Buffer is sent to every socket as a text frame, as the gateway
// does.
//
//   POST /broadcast {"price":"11.00","minimumNextBid":"12.00","bidCount":2}  → 204 after the loop
//   POST /cancel                                                               → AuctionCancelled to all
//   GET /last                                                                  → {"price": the latest price sent}
//
// It prints "listening on http://127.0.0.1:<port>" when ready and exits when its stdin closes
// (the driver went away).
import http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const TEXT = { binary: false } as const;
const subscribers = new Set<WebSocket>();
let topic = 'auction:unknown';
let seq = 1;
/** The price of the latest broadcast: with bids overtaking each other on their way in, not always the highest. */
let lastPrice: string | null = null;

function broadcast(event: Record<string, unknown>): void {
  seq += 1;
  const payload = Buffer.from(JSON.stringify({ type: 'event', topic, seq, event: { seq, atMs: Date.now(), ...event } }), 'utf8');
  for (const ws of subscribers) ws.send(payload, TEXT);
}

function body(req: http.IncomingMessage): Promise<any> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      try {
        resolve(text ? JSON.parse(text) : {});
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

const server = http.createServer((req, res) => {
  void (async () => {
    if (req.method === 'POST' && req.url === '/broadcast') {
      const b = await body(req);
      lastPrice = b.price;
      broadcast({ type: 'PriceChanged', price: b.price, leader: `bidder ${(b.bidCount % 2) + 1}`, leaderSource: 'online', bidCount: b.bidCount, reserveMet: true, minimumNextBid: b.minimumNextBid });
      res.writeHead(204).end();
    } else if (req.method === 'POST' && req.url === '/cancel') {
      await body(req);
      broadcast({ type: 'AuctionCancelled', reason: 'bench over' });
      res.writeHead(204).end();
    } else if (req.method === 'GET' && req.url === '/last') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ price: lastPrice }));
    } else {
      res.writeHead(404).end();
    }
  })().catch((error: Error) => res.writeHead(400).end(error.message));
});

// Keep-alive as long as fastify's default (72 s), so the driver never reuses a connection
// the server is closing at that moment (ECONNRESET).
server.keepAliveTimeout = 72_000;

const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, clientTracking: false, maxPayload: 64 * 1024 });
wss.on('connection', (ws) => {
  ws.send(JSON.stringify({ type: 'hello', serverTimeMs: Date.now(), heartbeatMs: 15000, messageBytesMax: 16384 }));
  ws.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString('utf8'));
    if (message.type !== 'subscribe') return;
    topic = message.topic;
    subscribers.add(ws);
    ws.send(JSON.stringify({ type: 'subscribed', topic, seq }));
  });
  ws.on('close', () => subscribers.delete(ws));
  ws.on('error', () => {});
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
