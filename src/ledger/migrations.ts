import type { ModuleMigrations } from '../platform/db/migrations.js';
import { coreMigration } from './migrations/0001_core.js';
import { paymentsMigration } from './migrations/0002_payments.js';
import { exchangeRatesMigration } from './migrations/0003_exchange_rates.js';
import { pendingHoldsByOwnerMigration } from './migrations/0004_pending_holds_by_owner.js';
import { historyChainMigration } from './migrations/0005_history_chain.js';

export const ledgerMigrations: ModuleMigrations = {
  module: 'ledger',
  migrations: {
    '0001_core': coreMigration,
    '0002_payments': paymentsMigration,
    '0003_exchange_rates': exchangeRatesMigration,
    '0004_pending_holds_by_owner': pendingHoldsByOwnerMigration,
    '0005_history_chain': historyChainMigration,
  },
};
