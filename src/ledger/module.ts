import type { GavelModule, ModuleContext } from '../platform/module.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import { ledgerMigrations } from './migrations.js';
import { ledgerRoutes } from './routes.js';
import { LedgerService } from './service.js';
import { LedgerStore } from './store.js';

export interface LedgerModule extends GavelModule {
  service: LedgerService;
}

/** How often a worker releases holds whose time ran out. */
export const HOLD_EXPIRY_INTERVAL_MS = 1_000;

export function createLedgerModule(ctx: ModuleContext, deps: { idempotency: Idempotency; userExists: (userId: string) => Promise<boolean> }): LedgerModule {
  const logger = ctx.logger.child({ module: 'ledger' });
  const service = new LedgerService(new LedgerStore(ctx.database), ctx.clock, logger);
  let sweeper: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> = Promise.resolve();
  return {
    name: 'ledger',
    migrations: ledgerMigrations,
    service,
    routes: (app) => ledgerRoutes(app, service, deps, ctx.clock),
    async start() {
      await service.start();
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
    },
  };
}
