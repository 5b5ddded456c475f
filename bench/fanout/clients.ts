// A client worker of bench/fanout.ts (forked, one of K): holds its share of the WebSocket
// subscribers, notes when each price event arrives, and answers the driver's questions over
// the IPC channel with summaries (a latency histogram, counts), never with every sample.
//
// Kept cheap per message, so the clients are not what is measured: frames skip UTF-8
// validation and a price event is recognised and read with Buffer.indexOf, without JSON.parse.
import WebSocket from 'ws';
import { Histogram, now, type ConnectAnswer, type ConnectProgress, type CountAnswer, type PhaseReport, type ToWorker } from './shared.js';

const PRICE_EVENT = Buffer.from('"type":"PriceChanged"');
const PRICE_FIELD = Buffer.from('"price":"');
const KEY_EVENT = Buffer.from('"type":"AuctionCancelled"');
const SUBSCRIBED = Buffer.from('"type":"subscribed"');
const HANDSHAKE_TIMEOUT_MS = 30_000;

interface Subscriber {
  ws: WebSocket;
  /** Price (cents) of the latest price event, -1 before the first. */
  lastPrice: number;
  phasePrices: number;
  gotKeyEvent: boolean;
  /** Close code when the socket closed without being asked to. */
  droppedWith: number | null;
}

const subscribers: Subscriber[] = [];
let closing = false;
let priceEvents = 0;
let keyEvents = 0;
let priceEventBytes = 0;
/** When the last of this worker's sockets got the key event (ms on the shared clock), 0 before. */
let keyArrivalLast = 0;
/** Heartbeat pings from the server this phase (ws answers them by itself). */
let pings = 0;

/** This phase's deliveries: price (cents) and arrival time, side by side, growing as needed. */
let samplePrices = new Int32Array(1 << 16);
let sampleTimes = new Float64Array(1 << 16);
let samples = 0;

function record(price: number, at: number): void {
  if (samples === samplePrices.length) {
    const prices = new Int32Array(samples * 2);
    prices.set(samplePrices);
    samplePrices = prices;
    const times = new Float64Array(samples * 2);
    times.set(sampleTimes);
    sampleTimes = times;
  }
  samplePrices[samples] = price;
  sampleTimes[samples] = at;
  samples += 1;
}

/** "123.45" at `start` in `data`, up to the closing quote, as cents. */
function centsAt(data: Buffer, start: number): number {
  let cents = 0;
  let decimals = -1;
  for (let i = start; i < data.length; i++) {
    const c = data[i]!;
    if (c === 0x22) break; // "
    if (c === 0x2e) decimals = 0; // .
    else {
      cents = cents * 10 + (c - 0x30);
      if (decimals >= 0) decimals += 1;
    }
  }
  return decimals === 1 ? cents * 10 : decimals <= 0 ? cents * 100 : cents;
}

function onMessage(subscriber: Subscriber, data: Buffer): void {
  const at = now();
  if (data.indexOf(PRICE_EVENT) !== -1) {
    const field = data.indexOf(PRICE_FIELD);
    const price = field === -1 ? -1 : centsAt(data, field + PRICE_FIELD.length);
    subscriber.lastPrice = price;
    subscriber.phasePrices += 1;
    priceEvents += 1;
    priceEventBytes ||= data.length;
    record(price, at);
  } else if (data.indexOf(KEY_EVENT) !== -1) {
    if (!subscriber.gotKeyEvent) keyEvents += 1;
    subscriber.gotKeyEvent = true;
    keyArrivalLast = Math.max(keyArrivalLast, at);
  }
}

/** One socket: open, subscribe, resolve on `subscribed`. */
function openOne(url: string, localAddress: string, topic: string): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, localAddress, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    const subscriber: Subscriber = { ws, lastPrice: -1, phasePrices: 0, gotKeyEvent: false, droppedWith: null };
    let live = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no "subscribed" within ${HANDSHAKE_TIMEOUT_MS} ms`));
    }, HANDSHAKE_TIMEOUT_MS);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', topic })));
    ws.on('ping', () => (pings += 1));
    ws.on('message', (data: Buffer) => {
      if (live) return onMessage(subscriber, data);
      if (data.indexOf(SUBSCRIBED) !== -1) {
        live = true;
        clearTimeout(timer);
        resolve(subscriber);
      }
    });
    ws.on('error', (error) => {
      if (live) return;
      clearTimeout(timer);
      reject(error);
    });
    ws.on('close', (code) => {
      if (!live) {
        clearTimeout(timer);
        return reject(new Error(`closed with ${code} before "subscribed"`));
      }
      if (!closing) subscriber.droppedWith = code;
    });
  });
}

async function connect(message: Extract<ToWorker, { type: 'connect' }>): Promise<ConnectAnswer> {
  const began = performance.now();
  let next = 0;
  let opened = 0;
  let failed = 0;
  let firstError = '';
  const progress = setInterval(() => process.send!({ type: 'progress', opened, failed } satisfies ConnectProgress), 1000);
  const lane = async () => {
    while (next < message.count) {
      next += 1;
      try {
        subscribers.push(await openOne(message.url, message.localAddress, message.topic));
        opened += 1;
      } catch (error) {
        failed += 1;
        firstError ||= (error as Error).message;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(message.count, message.inFlight) }, lane));
  } finally {
    clearInterval(progress);
  }
  return { opened, failed, firstError, seconds: (performance.now() - began) / 1000 };
}

function report(message: Extract<ToWorker, { type: 'report' }>): PhaseReport {
  const sentAt = new Map(message.sendTimes);
  const histogram = new Histogram();
  const lastArrival = new Map<number, number>();
  let unmatched = 0;
  for (let i = 0; i < samples; i++) {
    const price = samplePrices[i]!;
    const sent = sentAt.get(price);
    if (sent === undefined) {
      unmatched += 1;
      continue;
    }
    const ms = sampleTimes[i]! - sent;
    histogram.add(ms);
    if (!(lastArrival.get(price)! >= ms)) lastArrival.set(price, ms);
  }
  let perSocketMin = Infinity;
  let perSocketMax = 0;
  let open = 0;
  let dropped = 0;
  let holdingFinalPrice = 0;
  let withKeyEvent = 0;
  const dropCodes: Record<string, number> = {};
  for (const s of subscribers) {
    if (s.droppedWith !== null) {
      dropped += 1;
      dropCodes[s.droppedWith] = (dropCodes[s.droppedWith] ?? 0) + 1;
      continue;
    }
    open += 1;
    perSocketMin = Math.min(perSocketMin, s.phasePrices);
    perSocketMax = Math.max(perSocketMax, s.phasePrices);
    if (s.lastPrice === message.finalPriceCents) holdingFinalPrice += 1;
    if (s.gotKeyEvent) withKeyEvent += 1;
  }
  return {
    histogram: Array.from(histogram.counts),
    maxMs: histogram.maxMs,
    delivered: samples,
    unmatched,
    lastArrival: [...lastArrival],
    perSocketMin: open ? perSocketMin : 0,
    perSocketMax,
    open,
    dropped,
    dropCodes,
    holdingFinalPrice,
    keyEvents: withKeyEvent,
    keyArrivalLast,
    pings,
    priceEventBytes,
  };
}

async function handle(message: ToWorker): Promise<unknown> {
  switch (message.type) {
    case 'connect':
      closing = false;
      return connect(message);
    case 'phase':
      samples = 0;
      keyArrivalLast = 0;
      pings = 0;
      for (const s of subscribers) s.phasePrices = 0;
      return null;
    case 'count': {
      let open = 0;
      for (const s of subscribers) if (s.droppedWith === null) open += 1;
      return { priceEvents, keyEvents, open } satisfies CountAnswer;
    }
    case 'report':
      return report(message);
    case 'clock':
      return now() - message.driverMs;
    case 'close': {
      closing = true;
      const closed = subscribers.map((s) => (s.ws.readyState === WebSocket.CLOSED ? null : new Promise((r) => s.ws.once('close', r))));
      for (const s of subscribers) s.ws.close(1000);
      // A server that does not answer the close handshake is cut after a while.
      const cut = setTimeout(() => subscribers.forEach((s) => s.ws.terminate()), 5_000);
      await Promise.all(closed);
      clearTimeout(cut);
      subscribers.length = 0;
      priceEvents = 0;
      keyEvents = 0;
      samples = 0;
      return null;
    }
  }
}

process.on('message', (message: ToWorker) => {
  handle(message).then(
    (answer) => process.send!({ id: message.id, type: 'answer', answer }),
    (error: Error) => process.send!({ id: message.id, type: 'failed', error: error.stack ?? String(error) }),
  );
});
// The driver went away (it failed or was killed): nothing here is worth keeping.
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
