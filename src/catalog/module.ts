import type { GavelModule, ModuleContext } from '../platform/module.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import { ImageFiles } from './image-files.js';
import { catalogMigrations } from './migrations.js';
import { ProductsService, type CurrencyLookup } from './products-service.js';
import { ProductsStore } from './products-store.js';
import { catalogRoutes } from './routes.js';
import { CatalogService } from './service.js';
import { CatalogStore } from './store.js';

export interface CatalogModule extends GavelModule {
  /** What other modules call: categories, lots, and the products' reservation port (reserveProducts…). */
  service: CatalogService;
  /** Fixed-price products (also reachable as `service.products`). */
  products: ProductsService;
  files: ImageFiles;
}

export function createCatalogModule(ctx: ModuleContext, deps: { idempotency: Idempotency; currencies: CurrencyLookup }): CatalogModule {
  const logger = ctx.logger.child({ module: 'catalog' });
  const files = new ImageFiles(ctx.config.dataDir);
  const store = new CatalogStore(ctx.database);
  const products = new ProductsService(new ProductsStore(ctx.database), store, deps.currencies, ctx.clock);
  const service = new CatalogService(store, files, ctx.clock, logger, ctx.config.imageMaxBytes, products);
  return {
    name: 'catalog',
    migrations: catalogMigrations,
    service,
    products,
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
