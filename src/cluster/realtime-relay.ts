// Real-time messages across nodes. A market's events are produced by the engine that owns it,
// but the people watching are connected to any api node. Scaled out, the owner publishes each
// room/book/trade message and each private push on NATS (core, not JetStream: a message an api
// node misses is a gap its clients close from the journal with `fromSeq`, and a push missed is
// also in the person's inbox or order list); every api node subscribes and hands them to its
// WebSocket gateway, which serialises each once and fans it out to its own sockets.
//
// In one process the engine hands them to the gateway directly.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../platform/logging.js';

/** Where real-time messages go: the WebSocket gateway of this node, or every api node's. */
export interface RealtimeOut {
  /** A public event on `topic` (e.g. `auction:<id>`) at position `seq`. */
  publish(topic: string, seq: number, event: unknown, options?: { conflate?: string }): void;
  /** A private message to every socket of one person. */
  sendToUser(userId: string, message: unknown): void;
}

type Wire = { t: string; s: number; e: unknown; c?: string } | { u: string; m: unknown };

/** The owner's side: publishes every message to `<prefix>.out`. */
export class NatsRealtimeOut implements RealtimeOut {
  private readonly subject: string;

  constructor(
    private readonly nats: NatsConnection,
    prefix: string,
  ) {
    this.subject = `${prefix}.out`;
  }

  publish(topic: string, seq: number, event: unknown, options: { conflate?: string } = {}): void {
    this.send({ t: topic, s: seq, e: event, ...(options.conflate !== undefined && { c: options.conflate }) });
  }

  sendToUser(userId: string, message: unknown): void {
    this.send({ u: userId, m: message });
  }

  private send(wire: Wire): void {
    // One subject for every message keeps the owner's order (NATS orders a publisher's messages
    // per subject); a closed connection (shutdown) drops them, as a crash would.
    try {
      this.nats.publish(this.subject, JSON.stringify(wire));
    } catch {
      /* the connection is closing */
    }
  }
}

/** An api node's side: every message published by any node goes to `out` (the local gateway). */
export function relayRealtime(nats: NatsConnection, prefix: string, out: RealtimeOut, logger: Logger): Subscription {
  const decoder = new TextDecoder();
  return nats.subscribe(`${prefix}.out`, {
    callback: (error, msg) => {
      if (error) return;
      try {
        const wire = JSON.parse(decoder.decode(msg.data)) as Wire;
        if ('u' in wire) out.sendToUser(wire.u, wire.m);
        else out.publish(wire.t, wire.s, wire.e, wire.c === undefined ? {} : { conflate: wire.c });
      } catch (err) {
        logger.warn({ err }, 'a real-time message from another node could not be relayed');
      }
    },
  });
}
