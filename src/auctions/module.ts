import type { GavelModule, ModuleContext } from '../platform/module.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import type { LedgerService } from '../ledger/service.js';
import type { CatalogService } from '../catalog/service.js';
import type { Bus } from '../platform/outbox/bus.js';
import { auctionsMigrations } from './migrations.js';
import { AUCTION_MARKET, AuctionEngine } from './engine.js';
import type { MarketHost } from '../cluster/market-host.js';
import { discoveryRoutes } from './discovery-routes.js';
import { auctionsRoutes } from './routes.js';
import { AUCTION_CATCH_UP, AUCTION_STANDING, AuctionsService, registerAuctionOperations } from './service.js';
import { AppError } from '../platform/errors.js';
import { AuctionsStore } from './store.js';
import { reputationChangesOf, type SettledSale } from './reputation.js';
import type { Kysely } from 'kysely';
import { STARTING_SOON_SWEEP_INTERVAL_MS, WatchlistService } from './watchlist.js';
import { watchlistRoutes } from './watchlist-routes.js';
import { WatchlistStore } from './watchlist-store.js';

export interface AuctionsModule extends GavelModule {
  service: AuctionsService;
  engine: AuctionEngine;
  watchlist: WatchlistService;
}

export function createAuctionsModule(
  ctx: ModuleContext,
  deps: { idempotency: Idempotency; bus: Bus; ledger: LedgerService; catalog: CatalogService; host: MarketHost; reputationOf: (userId: string) => Promise<number | undefined>;
    adjustReputation: (userId: string, delta: number, reason: string, options: { tx: Kysely<any>; changeId: string }) => Promise<unknown>;
  },
): AuctionsModule {
  const logger = ctx.logger.child({ module: 'auctions' });
  const store = new AuctionsStore(ctx.database);
  const engine = new AuctionEngine({ store, ledger: deps.ledger, clock: ctx.clock, logger, commissionBps: ctx.config.auctionCommissionBps, events: deps.bus, host: deps.host });
  registerAuctionOperations(deps.host.router, engine);
  // Engines serve auctions: every unfinished one is wanted; the host says which are ours.
  if (ctx.config.roles.has('engine')) {
    deps.host.register({
      kind: AUCTION_MARKET,
      wanted: async () => (await store.listUnfinished(store.db)).map((row) => row.id),
      take: (id) => engine.take(id),
      drop: (id) => engine.drop(id),
    });
  }
  // Reputation moves once per settlement event, in the delivery's transaction.
  deps.bus.subscribe('auctions.reputation', ['auctions.auction.settled'], async (event, delivery) => {
    for (const change of reputationChangesOf(event.payload as SettledSale)) {
      await deps.adjustReputation(change.userId, change.delta, change.reason, { tx: delivery.tx, changeId: `${event.id}:${change.userId}` });
    }
  });
  // A lot that did not sell can be auctioned again.
  engine.onSettled((auctionId, state, row) => {
    if (state.outcome === 'sold') return;
    deps.catalog.unlockLot(row.lotId, `auction:${auctionId}`).catch((error: unknown) => logger.warn({ err: error, auctionId }, 'unlocking the lot of an unsold auction failed'));
  });
  const service = new AuctionsService(engine, deps.host.router, store, deps.ledger, deps.catalog, deps.reputationOf, ctx.clock);
  // Reads of a running auction for other nodes, from this engine's memory (service.atOwner).
  const heldRow = (auctionId: string) => {
    const row = engine.rowOf(auctionId);
    if (!row) throw new AppError('NOT_FOUND', `auction ${auctionId} is not held here`);
    return row;
  };
  deps.host.router.register(AUCTION_STANDING, async (_market, args) => {
    const { auctionId, viewer } = args as { auctionId: string; viewer: string | null };
    return service.standingHere(heldRow(auctionId), viewer);
  });
  deps.host.router.register(AUCTION_CATCH_UP, async (_market, args) => {
    const { auctionId, fromSeq } = args as { auctionId: string; fromSeq: number | null };
    return service.roomCatchUpHere(heldRow(auctionId), fromSeq);
  });
  const scaleOf = (code: string) => deps.ledger.currency(code)?.scale ?? 0;
  const watchlist = new WatchlistService({ store: new WatchlistStore(ctx.database), auctions: store, events: deps.bus, clock: ctx.clock, logger, startingSoonMs: ctx.config.startingSoonMinutes * 60_000, scaleOf });
  // Workers look for watched auctions about to start (scheduled work, like the purchase deadlines).
  let watchSweeper: NodeJS.Timeout | undefined;
  const sweepWatches = () => {
    watchlist.sweepStartingSoon().catch((error: unknown) => logger.error({ err: error }, 'starting-soon sweep failed; the next tick tries again'));
  };
  return {
    name: 'auctions',
    migrations: auctionsMigrations,
    service,
    engine,
    watchlist,
    routes: (app) => {
      auctionsRoutes(app, service, { idempotency: deps.idempotency, scaleOf: (code) => deps.ledger.currency(code)?.scale ?? 0 });
      discoveryRoutes(app, { store, clock: ctx.clock, catalog: deps.catalog, ledger: deps.ledger });
      watchlistRoutes(app, watchlist, { clock: ctx.clock, scaleOf, categoryPath: (id) => deps.catalog.categoryPath(id) });
    },
    // In one process the engine holds every auction; scaled out, the leased ones (docs/cluster.md).
    start: async () => {
      if (ctx.config.roles.has('engine')) await engine.start();
      if (ctx.config.roles.has('worker')) {
        watchSweeper = setInterval(sweepWatches, STARTING_SOON_SWEEP_INTERVAL_MS);
        watchSweeper.unref();
        sweepWatches();
      }
    },
    stop: async () => {
      clearInterval(watchSweeper);
      await watchlist.stop();
      await engine.stop();
    },
  };
}
