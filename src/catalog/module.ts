import type { GavelModule, ModuleContext } from '../platform/module.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import { ImageFiles } from './image-files.js';
import { catalogMigrations } from './migrations.js';
import { catalogRoutes } from './routes.js';
import { CatalogService } from './service.js';
import { CatalogStore } from './store.js';

export interface CatalogModule extends GavelModule {
  service: CatalogService;
  files: ImageFiles;
}

export function createCatalogModule(ctx: ModuleContext, deps: { idempotency: Idempotency }): CatalogModule {
  const logger = ctx.logger.child({ module: 'catalog' });
  const files = new ImageFiles(ctx.config.dataDir);
  const service = new CatalogService(new CatalogStore(ctx.database), files, ctx.clock, logger, ctx.config.imageMaxBytes);
  return {
    name: 'catalog',
    migrations: catalogMigrations,
    service,
    files,
    routes: (app) => catalogRoutes(app, service, { idempotency: deps.idempotency, imageMaxBytes: ctx.config.imageMaxBytes }),
    async start() {
      await files.prepare();
      // File times are wall-clock times, so they are compared with the wall clock.
      const removed = await files.sweepIncoming(Date.now());
      if (removed > 0) logger.info({ removed }, 'removed temporary files of interrupted uploads');
    },
  };
}
