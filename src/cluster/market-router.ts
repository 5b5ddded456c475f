// Routing a market's commands to the engine that owns it (DESIGN, real-time path: "gateway node
// → NATS request when scaled → engine owning the auction").
//
// A module registers its market operations by name (`bid`, `placeOrder` …) with handlers that
// run on the owner. `call(market, operation, args)` runs the handler here when this process owns
// the market, and otherwise sends a NATS request to `<prefix>.<market>`, the subject the owner
// subscribes to while it holds the market's lease (lease-keeper.ts calls `own` / `disown`).
// Arguments and results are JSON as the journal writes it (bigint `…Minor` fields as integer
// strings, read back as bigints: hash-chain.ts's encodePayload/decodePayload); a refusal
// (AppError) travels as its problem code, detail and field errors and is thrown again on the
// caller's side, so a bid refused on another node answers exactly as one refused here.
//
// Nobody answering (no owner right now: an engine died and its lease has not passed on yet)
// is NOT_READY (503, retry shortly); so is a request with no answer within the timeout. The
// caller never learns "maybe": an operation that timed out may still have been applied, so
// market operations carry their own idempotency (bid ids, client order ids) for the retry.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { AppError, type FieldError, type ProblemCode } from '../platform/errors.js';
import { decodePayload, encodePayload } from '../platform/journal/hash-chain.js';
import type { Logger } from '../platform/logging.js';

export type MarketHandler = (market: string, args: unknown) => Promise<unknown>;

interface Reply {
  ok: boolean;
  value?: unknown;
  problem?: { code: ProblemCode; detail: string; errors?: FieldError[] };
}

export interface MarketRouterOptions {
  /** null: one process (embedded): every market is local. */
  nats: NatsConnection | null;
  logger: Logger;
  /** Subjects are `<prefix>.<market key>`. Default gavel.market. */
  subjectPrefix?: string;
  /** How long a caller waits for the owner's answer. Default 10 s. */
  timeoutMs?: number;
}

/** Operations for no market yet (creating one): any engine may run them; `callAny` picks one. */
const ANY = '_any';

export class MarketRouter {
  private readonly handlers = new Map<string, MarketHandler>();
  private readonly owned = new Map<string, Subscription | null>();
  private anySubscription: Subscription | undefined;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(private readonly o: MarketRouterOptions) {
    this.prefix = o.subjectPrefix ?? 'gavel.market';
    this.timeoutMs = o.timeoutMs ?? 10_000;
  }

  /** Registers what `operation` does on the owner. */
  register(operation: string, handler: MarketHandler): void {
    if (this.handlers.has(operation)) throw new Error(`market operation ${operation} is registered already`);
    this.handlers.set(operation, handler);
  }

  /** This process now serves `market`: calls for it run here, and other nodes' requests arrive. */
  own(market: string): void {
    if (this.owned.has(market)) return;
    const nats = this.o.nats;
    const subscription = nats ? nats.subscribe(this.subjectOf(market), { callback: (error, msg) => (error ? undefined : void this.answer(market, msg)) }) : null;
    this.owned.set(market, subscription);
  }

  /** This process no longer serves `market` (its lease was lost or given back). */
  disown(market: string): void {
    const subscription = this.owned.get(market);
    this.owned.delete(market);
    subscription?.unsubscribe();
  }

  owns(market: string): boolean {
    return this.owned.has(market);
  }

  /** Whether calls can leave this process (NATS): false in one process, where every market is local. */
  get distributed(): boolean {
    return this.o.nats !== null;
  }

  /** Runs `operation` on the market's owner, here or over NATS; its result, or its AppError thrown here. */
  async call<T>(market: string, operation: string, args: unknown): Promise<T> {
    if (this.owned.has(market) || !this.o.nats) return (await this.run(market, operation, args)) as T;
    return this.request<T>(this.subjectOf(market), market, operation, args);
  }

  /**
   * This process (an engine) takes `callAny` operations: each goes to one of the engines that
   * serve them (a NATS queue group), e.g. creating a market, which its engine then owns.
   */
  serveAny(): void {
    if (!this.o.nats || this.anySubscription) return;
    this.anySubscription = this.o.nats.subscribe(this.subjectOf(ANY), { queue: 'engines', callback: (error, msg) => (error ? undefined : void this.answer(null, msg)) });
  }

  /** Runs `operation` on some engine (here in one process); NOT_READY when no engine runs. */
  async callAny<T>(operation: string, args: unknown): Promise<T> {
    if (!this.o.nats) return (await this.run(ANY, operation, args)) as T;
    return this.request<T>(this.subjectOf(ANY), 'new', operation, args);
  }

  /** Stops answering for every market. */
  close(): void {
    for (const market of [...this.owned.keys()]) this.disown(market);
    this.anySubscription?.unsubscribe();
    this.anySubscription = undefined;
  }

  private async request<T>(subject: string, market: string, operation: string, args: unknown): Promise<T> {
    let msg: Msg;
    try {
      msg = await this.o.nats!.request(subject, this.encoder.encode(encodePayload({ operation, args })), { timeout: this.timeoutMs });
    } catch (error) {
      const what = /no responders/i.test(String((error as Error)?.message)) || (error as { code?: string })?.code === '503' ? 'no engine serves it right now' : 'its engine did not answer in time';
      throw new AppError('NOT_READY', `market ${market}: ${what}; retry shortly (a market moves to another engine within seconds when one stops)`);
    }
    const reply = decodePayload<Reply>(this.decoder.decode(msg.data));
    if (reply.ok) return reply.value as T;
    const p = reply.problem!;
    throw new AppError(p.code, p.detail, p.errors ? { errors: p.errors } : {});
  }

  private subjectOf(market: string): string {
    return `${this.prefix}.${market}`;
  }

  private async run(market: string, operation: string, args: unknown): Promise<unknown> {
    const handler = this.handlers.get(operation);
    if (!handler) throw new Error(`no market operation named ${operation}`);
    return handler(market, args);
  }

  /** Answers a request for `market` (null: a `callAny` operation). */
  private async answer(market: string | null, msg: Msg): Promise<void> {
    let reply: Reply;
    try {
      const request = decodePayload<{ operation: string; args: unknown }>(this.decoder.decode(msg.data));
      // Lost the market between the request's routing and now: say so rather than act.
      if (market !== null && !this.owned.has(market)) throw new AppError('NOT_READY', `market ${market} moved to another engine; retry shortly`);
      reply = { ok: true, value: await this.run(market ?? ANY, request.operation, request.args) };
    } catch (error) {
      if (error instanceof AppError) reply = { ok: false, problem: { code: error.code, detail: error.message, ...(error.errors && { errors: error.errors }) } };
      else {
        this.o.logger.error({ err: error, market }, 'a routed market operation failed');
        reply = { ok: false, problem: { code: 'INTERNAL', detail: 'something went wrong on our side' } };
      }
    }
    msg.respond(this.encoder.encode(encodePayload(reply)));
  }
}
