import type { ModuleMigrations } from '../platform/db/migrations.js';
import { exchangeMigration } from './migrations/0001_exchange.js';

export const exchangeMigrations: ModuleMigrations = {
  module: 'exchange',
  migrations: {
    '0001_exchange': exchangeMigration,
  },
};
