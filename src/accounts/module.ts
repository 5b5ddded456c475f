import type { GavelModule, ModuleContext } from '../platform/module.js';
import { accountsMigrations } from './migrations.js';
import { accountsRoutes } from './routes.js';
import { AccountsService, type LoginLimits } from './service.js';
import { AccountsStore } from './store.js';

export interface AccountsModule extends GavelModule {
  service: AccountsService;
}

export function createAccountsModule(ctx: ModuleContext, options: { loginLimits?: LoginLimits } = {}): AccountsModule {
  const service = new AccountsService(new AccountsStore(ctx.database), ctx.clock, ctx.logger.child({ module: 'accounts' }), ctx.config.tokenTtlSeconds, options.loginLimits);
  return {
    name: 'accounts',
    migrations: accountsMigrations,
    service,
    routes: (app) => accountsRoutes(app, service),
    async start() {
      const { adminEmail, adminPassword } = ctx.config;
      if (adminEmail && adminPassword) {
        const { created, isAdmin } = await service.ensureAdmin({ name: 'Administrator', email: adminEmail, password: adminPassword });
        if (created) ctx.logger.info({ email: adminEmail }, 'created the admin from GAVEL_ADMIN_EMAIL');
        else if (!isAdmin) ctx.logger.error({ email: adminEmail }, 'GAVEL_ADMIN_EMAIL belongs to an account without the admin role; it was not promoted');
      }
    },
  };
}
