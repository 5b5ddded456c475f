import type { ModuleMigrations } from '../platform/db/migrations.js';
import { catalogMigration } from './migrations/0001_catalog.js';

export const catalogMigrations: ModuleMigrations = {
  module: 'catalog',
  migrations: {
    '0001_catalog': catalogMigration,
  },
};
