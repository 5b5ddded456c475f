import type { ModuleMigrations } from '../platform/db/migrations.js';
import { inboxMigration } from './migrations/0001_inbox.js';
import { deliveryMigration } from './migrations/0002_delivery.js';

export const notificationsMigrations: ModuleMigrations = {
  module: 'notifications',
  migrations: {
    '0001_inbox': inboxMigration,
    '0002_delivery': deliveryMigration,
  },
};
