import type { ModuleMigrations } from '../platform/db/migrations.js';
import { inboxMigration } from './migrations/0001_inbox.js';

export const notificationsMigrations: ModuleMigrations = {
  module: 'notifications',
  migrations: {
    '0001_inbox': inboxMigration,
  },
};
