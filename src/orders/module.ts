import type { Idempotency } from '../platform/idempotency/idempotency.js';
import type { LedgerService } from '../ledger/service.js';
import type { GavelModule, ModuleContext } from '../platform/module.js';
import type { Bus } from '../platform/outbox/bus.js';
import type { SchemaRegistry } from '../platform/bus/avro.js';
import { ordersMigrations } from './migrations.js';
import { PARTICIPANT_CONSUMERS, PARTICIPANT_OF, PurchaseParticipants, parseFaults, type CatalogPort, type Participant } from './purchase-participants.js';
import { purchaseDeadLetterRoutes } from './purchase-dead-letter-routes.js';
import { PurchaseDeadLetters } from './purchase-dead-letters.js';
import { purchaseRoutes } from './purchase-routes.js';
import { PURCHASE_SAGA_CONSUMER, PurchaseSaga } from './purchase-saga.js';
import { COMMAND_NAMES, REPLY_NAMES, purchaseSchemas, topicOf } from './purchase-schemas.js';
import { PurchaseStore } from './purchase-store.js';
import { ordersRoutes } from './routes.js';
import { OrdersService, type AdjustReputation } from './service.js';
import { OrdersStore } from './store.js';

/** The durable consumer that turns won auctions into orders: its checkpoint row in platform_outbox_consumers. */
export const ORDERS_FROM_AUCTIONS = 'orders.from-auctions';

export interface OrdersModule extends GavelModule {
  service: OrdersService;
  purchases: { saga: PurchaseSaga; participants: PurchaseParticipants; store: PurchaseStore; deadLetters: PurchaseDeadLetters; registry: SchemaRegistry };
}

export function createOrdersModule(ctx: ModuleContext, deps: { idempotency: Idempotency; bus: Bus; ledger: LedgerService; adjustReputation: AdjustReputation; catalog: CatalogPort }): OrdersModule {
  const logger = ctx.logger.child({ module: 'orders' });
  const store = new OrdersStore(ctx.database);
  const service = new OrdersService({ store, ledger: deps.ledger, adjustReputation: deps.adjustReputation, events: deps.bus, clock: ctx.clock, logger });
  deps.bus.subscribe(ORDERS_FROM_AUCTIONS, ['auctions.auction.settled'], service.handleAuctionSettled);

  // Purchases: the saga's orchestrator and its three participants talk over the bus.
  const scaleOf = (currency: string) => service.scaleOf(currency);
  const registry = purchaseSchemas();
  const purchaseStore = new PurchaseStore(ctx.database);
  const stepTimeoutMs = ctx.config.purchaseStepTimeoutMs;
  const saga = new PurchaseSaga({
    store: purchaseStore,
    registry,
    events: deps.bus,
    clock: ctx.clock,
    logger: logger.child({ part: 'purchase-saga' }),
    stepTimeoutMs,
    scaleOf,
    requireCurrency: (code) => deps.ledger.requireCurrency(code),
  });
  const participants = new PurchaseParticipants({
    store: purchaseStore,
    orders: store,
    ledger: deps.ledger,
    catalog: deps.catalog,
    registry,
    events: deps.bus,
    clock: ctx.clock,
    logger: logger.child({ part: 'purchase-participants' }),
    // Test-only fault injection; see docs/purchases.md.
    faults: parseFaults(process.env.GAVEL_FAULT),
    scaleOf,
  });
  // Admins read, redrive and discard what the consumers below could not use.
  const deadLetters = new PurchaseDeadLetters({ store: purchaseStore, registry, events: deps.bus, logger: logger.child({ part: 'purchase-dead-letters' }) });
  deps.bus.subscribe(PURCHASE_SAGA_CONSUMER, REPLY_NAMES.map(topicOf), saga.handleReply);
  for (const participant of Object.keys(PARTICIPANT_CONSUMERS) as Participant[]) {
    const topics = COMMAND_NAMES.filter((c) => PARTICIPANT_OF[c] === participant).map(topicOf);
    deps.bus.subscribe(PARTICIPANT_CONSUMERS[participant], topics, participants.handlerFor(participant));
  }

  // Workers work the participants' inbox and watch the deadlines, a few times per step timeout.
  const tickMs = Math.max(20, Math.min(1_000, Math.floor(stepTimeoutMs / 4)));
  let ticker: NodeJS.Timeout | undefined;
  const tick = () => {
    participants.kick();
    saga.sweep().catch((error: unknown) => logger.error({ err: error }, 'purchase deadline sweep failed'));
  };

  return {
    name: 'orders',
    migrations: ordersMigrations,
    service,
    purchases: { saga, participants, store: purchaseStore, deadLetters, registry },
    routes: (app) => {
      ordersRoutes(app, service, { idempotency: deps.idempotency });
      purchaseRoutes(app, saga, { idempotency: deps.idempotency, scaleOf });
      purchaseDeadLetterRoutes(app, deadLetters);
    },
    async start() {
      if (!ctx.config.roles.has('worker')) return;
      await saga.resume();
      ticker = setInterval(tick, tickMs);
      ticker.unref();
      tick();
    },
    async stop() {
      clearInterval(ticker);
      await participants.stop();
      await saga.stop();
    },
  };
}
