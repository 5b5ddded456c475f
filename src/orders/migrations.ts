import type { ModuleMigrations } from '../platform/db/migrations.js';
import { ordersMigration } from './migrations/0001_orders.js';

export const ordersMigrations: ModuleMigrations = {
  module: 'orders',
  migrations: {
    '0001_orders': ordersMigration,
  },
};
