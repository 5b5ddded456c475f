import type { Idempotency } from '../platform/idempotency/idempotency.js';
import type { LedgerService } from '../ledger/service.js';
import type { GavelModule, ModuleContext } from '../platform/module.js';
import type { Bus } from '../platform/outbox/bus.js';
import { ordersMigrations } from './migrations.js';
import { ordersRoutes } from './routes.js';
import { OrdersService, type AdjustReputation } from './service.js';
import { OrdersStore } from './store.js';

/** The durable consumer that turns won auctions into orders: its checkpoint row in platform_outbox_consumers. */
export const ORDERS_FROM_AUCTIONS = 'orders.from-auctions';

export interface OrdersModule extends GavelModule {
  service: OrdersService;
}

export function createOrdersModule(ctx: ModuleContext, deps: { idempotency: Idempotency; bus: Bus; ledger: LedgerService; adjustReputation: AdjustReputation }): OrdersModule {
  const service = new OrdersService({
    store: new OrdersStore(ctx.database),
    ledger: deps.ledger,
    adjustReputation: deps.adjustReputation,
    events: deps.bus,
    clock: ctx.clock,
    logger: ctx.logger.child({ module: 'orders' }),
  });
  deps.bus.subscribe(ORDERS_FROM_AUCTIONS, ['auctions.auction.settled'], service.handleAuctionSettled);
  return {
    name: 'orders',
    migrations: ordersMigrations,
    service,
    routes: (app) => ordersRoutes(app, service, { idempotency: deps.idempotency }),
  };
}
