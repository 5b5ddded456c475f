import type { GavelModule, ModuleContext } from '../platform/module.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import type { LedgerService } from '../ledger/service.js';
import type { CatalogService } from '../catalog/service.js';
import type { Bus } from '../platform/outbox/bus.js';
import { auctionsMigrations } from './migrations.js';
import { AuctionEngine } from './engine.js';
import { discoveryRoutes } from './discovery-routes.js';
import { auctionsRoutes } from './routes.js';
import { AuctionsService } from './service.js';
import { AuctionsStore } from './store.js';
import { reputationChangesOf, type SettledSale } from './reputation.js';
import type { Kysely } from 'kysely';

export interface AuctionsModule extends GavelModule {
  service: AuctionsService;
  engine: AuctionEngine;
}

export function createAuctionsModule(
  ctx: ModuleContext,
  deps: { idempotency: Idempotency; bus: Bus; ledger: LedgerService; catalog: CatalogService; reputationOf: (userId: string) => Promise<number | undefined>;
    adjustReputation: (userId: string, delta: number, reason: string, options: { tx: Kysely<any>; changeId: string }) => Promise<unknown>;
  },
): AuctionsModule {
  const logger = ctx.logger.child({ module: 'auctions' });
  const store = new AuctionsStore(ctx.database);
  const engine = new AuctionEngine({ store, ledger: deps.ledger, clock: ctx.clock, logger, commissionBps: ctx.config.auctionCommissionBps, events: deps.bus });
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
  const service = new AuctionsService(engine, store, deps.ledger, deps.catalog, deps.reputationOf, ctx.clock);
  return {
    name: 'auctions',
    migrations: auctionsMigrations,
    service,
    engine,
    routes: (app) => {
      auctionsRoutes(app, service, { idempotency: deps.idempotency, scaleOf: (code) => deps.ledger.currency(code)?.scale ?? 0 });
      discoveryRoutes(app, { store, clock: ctx.clock, catalog: deps.catalog, ledger: deps.ledger });
    },
    // One process holds every auction until scale-out brings leases (issue 8): the engine
    // role owns the markets.
    start: async () => {
      if (ctx.config.roles.has('engine')) await engine.start();
    },
    stop: () => engine.stop(),
  };
}
