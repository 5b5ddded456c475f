import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Pending holds by owner: a market that restarts finds the holds it placed and no longer needs
 * (an order whose hold was placed but which never reached the book). Partial, so it holds only
 * the pending holds and costs nothing for posted transfers.
 */
export const pendingHoldsByOwnerMigration: Migration = {
  async up(db: Kysely<any>) {
    await sql`create index ledger_pending_holds_by_owner on ledger_transfers (owner) where hold_status = 'pending'`.execute(db);
  },
  async down(db: Kysely<any>) {
    await sql`drop index ledger_pending_holds_by_owner`.execute(db);
  },
};
