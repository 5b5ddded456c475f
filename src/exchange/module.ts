import type { GavelModule, ModuleContext } from '../platform/module.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import type { LedgerService } from '../ledger/service.js';
import type { Bus } from '../platform/outbox/bus.js';
import { exchangeMigrations } from './migrations.js';
import { ExchangeEngine } from './engine.js';
import { exchangeRoutes } from './routes.js';
import { ExchangeService } from './service.js';
import { ExchangeStore } from './store.js';

export interface ExchangeModule extends GavelModule {
  service: ExchangeService;
  engine: ExchangeEngine;
}

export function createExchangeModule(ctx: ModuleContext, deps: { idempotency: Idempotency; bus: Bus; ledger: LedgerService }): ExchangeModule {
  const logger = ctx.logger.child({ module: 'exchange' });
  const store = new ExchangeStore(ctx.database);
  const engine = new ExchangeEngine({ store, ledger: deps.ledger, clock: ctx.clock, logger, events: deps.bus });
  const service = new ExchangeService(engine, store, deps.ledger, ctx.clock);
  return {
    name: 'exchange',
    migrations: exchangeMigrations,
    service,
    engine,
    routes: (app) => exchangeRoutes(app, service, { idempotency: deps.idempotency, clock: ctx.clock }),
    // One process holds every book until scale-out brings leases (issue 8).
    start: async () => {
      if (ctx.config.roles.has('engine')) await engine.start(await service.loadInstruments());
    },
    stop: () => engine.stop(),
  };
}
