// Which markets this process serves, and how a module's engine hears about it.
//
// In one process (no NATS_URL) every market is this process's: engines load all of theirs at
// start, as they always did, and nothing is leased or fenced. Scaled out, an engine process
// serves a market only while it holds the market's lease (lease-keeper.ts): it wants every
// market its modules list (unfinished auctions, instruments), looks for new ones every few
// seconds, rebuilds a market from its journal when it gains the lease (`take`), stops serving
// it at once when it loses it (`drop`), and makes its market router answer for exactly the
// markets it holds. Every journal write carries the lease's fencing token (fences.ts).
//
// Markets are spread over the live engines: each engine keeps a membership lease
// `engines.<holder>` in the same store, takes free markets only up to its fair share, and
// gives one back per rescan while it holds more than its share plus one (lease-keeper.ts).
import { createHash } from 'node:crypto';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logging.js';
import { AppError } from '../platform/errors.js';
import { LeaseKeeper } from './lease-keeper.js';
import type { LeaseStore } from './leases.js';
import type { MarketRouter } from './market-router.js';

/** One module's markets (auctions, instruments), keyed `<kind>.<id>`. */
export interface MarketKind {
  kind: string;
  /** The ids of every market an engine should serve now (unfinished auctions, every instrument). */
  wanted(): Promise<string[]>;
  /** This process owns the market now: rebuild it from its journal and serve it. */
  take(id: string): Promise<void>;
  /** This process no longer owns the market: stop serving it at once (timers too). */
  drop(id: string): void;
}

/** The lease-key prefix of the engines' membership leases; no market kind may be called so. */
export const ENGINES_PREFIX = 'engines';

/**
 * An engine's membership key: its holder name made a lease-key word (a hostname has dots), with
 * a digest of the whole name so two names that read alike after that still differ.
 */
export function membershipKey(holder: string): string {
  const readable = holder.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
  const digest = createHash('sha256').update(holder).digest('hex').slice(0, 12);
  return `${ENGINES_PREFIX}.${readable}-${digest}`;
}

export interface MarketHostOptions {
  router: MarketRouter;
  /** null in one process: every market is local and unfenced. */
  leases: LeaseStore | null;
  /** This process's name in the lease store. */
  holder: string;
  clock: Clock;
  logger: Logger;
  /** How often the modules are asked for new markets. Default: the lease TTL. */
  rescanMs?: number;
}

export class MarketHost {
  private readonly kinds = new Map<string, MarketKind>();
  private readonly keeper: LeaseKeeper | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private rescanning: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: MarketHostOptions) {
    this.keeper = o.leases
      ? new LeaseKeeper({
          store: o.leases,
          holder: o.holder,
          clock: o.clock,
          logger: o.logger,
          onAcquired: (key) => this.acquired(key),
          onLost: (key) => this.lost(key),
          membership: { prefix: ENGINES_PREFIX, key: membershipKey(o.holder) },
        })
      : undefined;
  }

  /** Whether markets are leased (scaled out), or all this process's (one process). */
  get leased(): boolean {
    return this.keeper !== undefined;
  }

  get router(): MarketRouter {
    return this.o.router;
  }

  register(kind: MarketKind): void {
    if (kind.kind === ENGINES_PREFIX) throw new Error(`"${ENGINES_PREFIX}" names the engines' membership leases, not a market kind`);
    if (this.kinds.has(kind.kind)) throw new Error(`market kind ${kind.kind} is registered already`);
    this.kinds.set(kind.kind, kind);
  }

  /**
   * The fencing token a write to this market carries: undefined when this process may not
   * write to it now (scaled out, its lease is not held), null in one process (no fencing).
   */
  tokenOf(kind: string, id: string): number | null | undefined {
    if (!this.keeper) return null;
    return this.keeper.tokenOf(`${kind}.${id}`);
  }

  /** A market created here: its lease is taken before anything of it is written. */
  async claim(kind: string, id: string): Promise<number | null> {
    if (!this.keeper) return null;
    const key = `${kind}.${id}`;
    const token = await this.keeper.claim(key);
    if (token === undefined) throw new AppError('NOT_READY', `market ${key} is held by another engine`);
    return token;
  }

  /** The market's journal is written and it may be served here: route its commands here. */
  serve(kind: string, id: string): void {
    this.o.router.own(`${kind}.${id}`);
  }

  /** A market that is over (an auction settled): its lease is given back at the next tick. */
  finished(kind: string, id: string): void {
    const key = `${kind}.${id}`;
    this.o.router.disown(key);
    this.keeper?.unwant(key);
  }

  /** Starts serving: in one process nothing to do (engines load their markets themselves). */
  async start(): Promise<void> {
    if (!this.keeper) return;
    this.stopped = false;
    this.o.router.serveAny();
    await this.rescan();
    this.keeper.start();
    this.scheduleRescan();
  }

  /**
   * Asks the modules for their markets now and takes the free ones up to this engine's fair
   * share (tests, and after a create); then gives one back if it holds more than its share + 1.
   */
  async rescan(): Promise<void> {
    if (!this.keeper) return;
    this.rescanning ??= (async () => {
      for (const kind of this.kinds.values()) {
        try {
          this.keeper!.want((await kind.wanted()).map((id) => `${kind.kind}.${id}`));
        } catch (error) {
          this.o.logger.warn({ err: error, kind: kind.kind }, 'listing markets failed; retrying at the next rescan');
        }
      }
      await this.keeper!.tick();
      await this.keeper!.shedOne();
    })().finally(() => (this.rescanning = undefined));
    await this.rescanning;
  }

  /** Gives every lease back (another engine takes the markets at once) and stops answering. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.rescanTimer);
    await this.rescanning?.catch(() => {});
    await this.keeper?.stop();
    this.o.router.close();
  }

  /** The markets held now, for /metrics and tests. */
  owned(): string[] {
    return this.keeper ? [...this.keeper.owned().keys()] : [];
  }

  private scheduleRescan(): void {
    if (this.stopped || !this.keeper) return;
    const every = this.o.rescanMs ?? this.o.leases!.ttlMs;
    this.rescanTimer = setTimeout(() => void this.rescan().finally(() => this.scheduleRescan()), every);
    this.rescanTimer.unref();
  }

  private split(key: string): { kind: MarketKind; id: string } {
    const dot = key.indexOf('.');
    const kind = this.kinds.get(key.slice(0, dot));
    if (!kind) throw new Error(`no market kind for ${key}`);
    return { kind, id: key.slice(dot + 1) };
  }

  private async acquired(key: string): Promise<void> {
    const { kind, id } = this.split(key);
    await kind.take(id);
    this.o.router.own(key);
  }

  private lost(key: string): void {
    this.o.router.disown(key);
    const { kind, id } = this.split(key);
    kind.drop(id);
  }
}
