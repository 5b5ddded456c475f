import type { ModuleMigrations } from '../platform/db/migrations.js';
import { ordersMigration } from './migrations/0001_orders.js';
import { purchasesMigration } from './migrations/0002_purchases.js';

export const ordersMigrations: ModuleMigrations = {
  module: 'orders',
  migrations: {
    '0001_orders': ordersMigration,
    '0002_purchases': purchasesMigration,
  },
};
