import type { ModuleMigrations } from '../platform/db/migrations.js';
import { catalogMigration } from './migrations/0001_catalog.js';
import { productsMigration } from './migrations/0002_products.js';

export const catalogMigrations: ModuleMigrations = {
  module: 'catalog',
  migrations: {
    '0001_catalog': catalogMigration,
    '0002_products': productsMigration,
  },
};
