import { sql, type Kysely, type Migration } from 'kysely';

/**
 * An account's history as a chain instead of two indexes. Each transfer row names the transfer
 * before it on its debit account and on its credit account, and each account names its newest
 * transfer, so a statement page walks the chain backwards from there (LedgerStore.listTransfersOf).
 *
 * Why: the indexes on (debit_account_id, id) and (credit_account_id, id) put every transfer
 * into two B-tree leaves picked by its accounts, two random pages per transfer, and every dirty
 * page is written whole at commit. Measured on SQLite with plain better-sqlite3 (1,000 wallets,
 * 64 transfers a commit), those two indexes cost about 60 % of a transfer's time. The chain's
 * pointers live in the transfer row (appended in id order) and the account row (which every
 * transfer updates anyway), so they cost almost nothing to keep.
 *
 * Existing transfers are chained in id order, the order the indexes listed them in.
 */
export const historyChainMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('ledger_transfers').addColumn('debit_prev_id', 'text').execute();
    await db.schema.alterTable('ledger_transfers').addColumn('credit_prev_id', 'text').execute();
    await db.schema.alterTable('ledger_accounts').addColumn('last_transfer_id', 'text').execute();

    await sql`create temporary table ledger_history_backfill as
      select id, account_id, lag(id) over (partition by account_id order by id) as prev_id
      from (select id, debit_account_id as account_id from ledger_transfers
            union all
            select id, credit_account_id as account_id from ledger_transfers) postings`.execute(db);
    await sql`create index ledger_history_backfill_by_transfer on ledger_history_backfill (id, account_id)`.execute(db);
    await sql`create index ledger_history_backfill_by_account on ledger_history_backfill (account_id, id)`.execute(db);
    await sql`update ledger_transfers set
      debit_prev_id = (select b.prev_id from ledger_history_backfill b where b.id = ledger_transfers.id and b.account_id = ledger_transfers.debit_account_id),
      credit_prev_id = (select b.prev_id from ledger_history_backfill b where b.id = ledger_transfers.id and b.account_id = ledger_transfers.credit_account_id)`.execute(db);
    await sql`update ledger_accounts set last_transfer_id = (select max(b.id) from ledger_history_backfill b where b.account_id = ledger_accounts.id)`.execute(db);
    await sql`drop table ledger_history_backfill`.execute(db);

    await db.schema.dropIndex('ledger_transfers_debit').execute();
    await db.schema.dropIndex('ledger_transfers_credit').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.createIndex('ledger_transfers_debit').on('ledger_transfers').columns(['debit_account_id', 'id']).execute();
    await db.schema.createIndex('ledger_transfers_credit').on('ledger_transfers').columns(['credit_account_id', 'id']).execute();
    await db.schema.alterTable('ledger_accounts').dropColumn('last_transfer_id').execute();
    await db.schema.alterTable('ledger_transfers').dropColumn('credit_prev_id').execute();
    await db.schema.alterTable('ledger_transfers').dropColumn('debit_prev_id').execute();
  },
};
