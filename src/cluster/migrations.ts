import type { ModuleMigrations } from '../platform/db/migrations.js';
import { fencesMigration } from './migrations/0001_fences.js';

export const clusterMigrations: ModuleMigrations = {
  module: 'cluster',
  migrations: {
    '0001_fences': fencesMigration,
  },
};
