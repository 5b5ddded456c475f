import type { GavelModule, ModuleContext } from '../platform/module.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import type { EventPublisher } from '../platform/outbox/bus.js';
import { ledgerMigrations } from './migrations.js';
import { ledgerRoutes } from './routes.js';
import { exchangeRoutes } from './exchange-routes.js';
import { ExchangeService } from './exchange-service.js';
import { ExchangeStore } from './exchange-store.js';
import { createPayments, type Payments } from './payments/payments.js';
import { LedgerService } from './service.js';
import { LedgerStore } from './store.js';

export interface LedgerModule extends GavelModule {
  service: LedgerService;
  payments: Payments;
}

/** How often a worker releases holds whose time ran out. */
export const HOLD_EXPIRY_INTERVAL_MS = 1_000;

export function createLedgerModule(ctx: ModuleContext, deps: { idempotency: Idempotency; userExists: (userId: string) => Promise<boolean>; events: EventPublisher }): LedgerModule {
  const logger = ctx.logger.child({ module: 'ledger' });
  const service = new LedgerService(new LedgerStore(ctx.database), ctx.clock, logger);
  const exchange = new ExchangeService(service, new LedgerStore(ctx.database), new ExchangeStore(ctx.database), ctx.clock);
  const payments = createPayments(ctx, { ledger: service, idempotency: deps.idempotency, events: deps.events });
  let sweeper: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> = Promise.resolve();
  return {
    name: 'ledger',
    migrations: ledgerMigrations,
    service,
    payments,
    routes: (app) => {
      ledgerRoutes(app, service, deps, ctx.clock);
      exchangeRoutes(app, exchange, { idempotency: deps.idempotency, scaleOf: (code) => service.currency(code)?.scale ?? 0 });
      payments.routes(app);
    },
    async start() {
      await service.start();
      await payments.start();
      if (ctx.config.roles.has('worker')) {
        sweeper = setInterval(() => {
          sweeping = service.expireHolds().catch((error: unknown) => logger.error({ err: error }, 'expiring holds failed'));
        }, HOLD_EXPIRY_INTERVAL_MS);
        sweeper.unref();
      }
    },
    async stop() {
      clearInterval(sweeper);
      await sweeping;
      await payments.stop();
    },
  };
}
