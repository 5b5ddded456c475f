import type { GavelModule, ModuleContext } from '../platform/module.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import type { LedgerService } from '../ledger/service.js';
import type { Bus } from '../platform/outbox/bus.js';
import type { MarketHost } from '../cluster/market-host.js';
import { exchangeMigrations } from './migrations.js';
import { EXCHANGE_MARKET, ExchangeEngine } from './engine.js';
import { exchangeRoutes } from './routes.js';
import { ExchangeService, registerExchangeOperations } from './service.js';
import { ExchangeStore } from './store.js';

export interface ExchangeModule extends GavelModule {
  service: ExchangeService;
  engine: ExchangeEngine;
}

export function createExchangeModule(ctx: ModuleContext, deps: { idempotency: Idempotency; bus: Bus; ledger: LedgerService; host: MarketHost }): ExchangeModule {
  const logger = ctx.logger.child({ module: 'exchange' });
  const store = new ExchangeStore(ctx.database);
  const engine = new ExchangeEngine({ store, ledger: deps.ledger, clock: ctx.clock, logger, events: deps.bus, host: deps.host });
  registerExchangeOperations(deps.host.router, engine);
  const service = new ExchangeService(engine, deps.host.router, store, deps.ledger, ctx.clock);
  // Engines serve books: every listed instrument is wanted (none is ever delisted); the host says which are ours.
  if (ctx.config.roles.has('engine')) {
    deps.host.register({
      kind: EXCHANGE_MARKET,
      wanted: async () => (await store.listInstruments()).map((i) => i.symbol),
      take: async (symbol) => {
        const instrument = await service.storedInstrument(symbol);
        if (!instrument) return deps.host.finished(EXCHANGE_MARKET, symbol);
        await engine.take(instrument);
      },
      drop: (symbol) => engine.drop(symbol),
    });
  }
  return {
    name: 'exchange',
    migrations: exchangeMigrations,
    service,
    engine,
    routes: (app) => exchangeRoutes(app, service, { idempotency: deps.idempotency, clock: ctx.clock }),
    // In one process the engine holds every book; scaled out, the leased ones (docs/cluster.md).
    start: async () => {
      if (ctx.config.roles.has('engine') && !deps.host.leased) await engine.start(await service.loadInstruments());
    },
    stop: () => engine.stop(),
  };
}
