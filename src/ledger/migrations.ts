import type { ModuleMigrations } from '../platform/db/migrations.js';
import { coreMigration } from './migrations/0001_core.js';

export const ledgerMigrations: ModuleMigrations = {
  module: 'ledger',
  migrations: {
    '0001_core': coreMigration,
  },
};
