import type { ModuleMigrations } from '../platform/db/migrations.js';
import { auctionsMigration } from './migrations/0001_auctions.js';
import { watchlistMigration } from './migrations/0002_watchlist.js';

export const auctionsMigrations: ModuleMigrations = {
  module: 'auctions',
  migrations: {
    '0001_auctions': auctionsMigration,
    '0002_watchlist': watchlistMigration,
  },
};
