import type { ModuleMigrations } from '../platform/db/migrations.js';
import { auctionsMigration } from './migrations/0001_auctions.js';

export const auctionsMigrations: ModuleMigrations = {
  module: 'auctions',
  migrations: {
    '0001_auctions': auctionsMigration,
  },
};
