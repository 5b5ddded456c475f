// An account's statement walks its history chain (migration 0005): the transfers on either
// side of it, newest first, in the order they were made, page by page; and transfers written
// before the chain existed are chained by the migration, with new ones going on top.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Account, Transfer } from '../../src/ledger/model.js';
import { ledgerMigrations } from '../../src/ledger/migrations.js';
import { LedgerStore } from '../../src/ledger/store.js';
import { openDatabase } from '../../src/platform/db/database.js';
import { migrateModule } from '../../src/platform/db/migrations.js';
import { uuidv7 } from '../../src/platform/ids.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { DIALECTS, scratchStorage } from '../support/databases.js';
import { attachTestNode, startTestNode, type TestNode } from '../support/gavel.js';

const cleanups = cleanupsAfterEach();

/** The whole statement of `account`, read `pageSize` transfers at a time. */
async function statementOf(t: TestNode, account: Account, pageSize: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await t.node.ledger.service.history(account, { limit: pageSize, ...(cursor !== undefined && { cursor }) });
    expect(page.items.length).toBeLessThanOrEqual(pageSize);
    ids.push(...page.items.map((i) => i.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return ids;
}

const newestFirst = (transfers: readonly Transfer[], account: Account) =>
  transfers.filter((t) => t.debitAccountId === account.id || t.creditAccountId === account.id).map((t) => t.id).reverse();

for (const dialect of DIALECTS) {
  describe(`account history on ${dialect}`, () => {
    it('lists the transfers on either side of an account, newest first in the order they were made, page by page', async () => {
      const t = await startTestNode(dialect);
      cleanups.push(() => t.close());
      const ledger = t.node.ledger.service;
      const issuance = await ledger.systemAccount('issuance', 'USD');
      const [a, b, c] = await Promise.all([0, 1, 2].map(async () => (await ledger.openWallet(randomUUID(), 'USD')).account));
      const made: Transfer[] = [];
      const move = (from: Account, to: Account, cents: bigint) => ({ type: 'transfer' as const, ref: randomUUID(), debitAccountId: from.id, creditAccountId: to.id, currency: 'USD', amountMinor: cents, owner: 'test' });
      for (const wallet of [a!, b!, c!]) made.push(...(await ledger.execute([move(issuance, wallet, 10_000n)])));
      made.push(...(await ledger.execute([move(a!, b!, 100n)])));
      made.push(...(await ledger.execute([move(b!, c!, 50n), move(c!, a!, 25n), move(a!, c!, 5n)]))); // one batch
      // Concurrent callers share one group commit; their order is the order the ledger applied them.
      const together = await Promise.all([1n, 2n, 3n, 4n].map((cents) => ledger.execute([move(c!, b!, cents)])));
      made.push(...together.flat());
      made.push(...(await ledger.execute([move(b!, a!, 7n)])));

      for (const wallet of [a!, b!, c!]) {
        const expected = newestFirst(made, wallet);
        expect(await statementOf(t, wallet, 2)).toEqual(expected);
        expect(await statementOf(t, wallet, 100)).toEqual(expected);
      }
      // The issuance account's statement holds the three fundings, newest first.
      expect(await statementOf(t, issuance, 2)).toEqual(made.slice(0, 3).map((m) => m.id).reverse());
    });

    it('chains the transfers written before the chain existed, in id order, and new ones go on top', async () => {
      const storage = await scratchStorage(dialect);
      const database = await openDatabase({ databaseUrl: storage.databaseUrl, dataDir: storage.dataDir });
      const first = Object.fromEntries(Object.entries(ledgerMigrations.migrations).filter(([name]) => name < '0005'));
      await migrateModule(database, { module: ledgerMigrations.module, migrations: first });
      const db = database.kysely as any;
      const startMs = Date.UTC(2030, 0, 1);
      const accountRow = (id: string, kind: string, owner: string | null) => ({
        id, currency: 'USD', kind, owner_user_id: owner, no_overdraft: owner ? 1 : 0, closed_at_ms: null,
        debits_pending: 0n, debits_posted: 0n, credits_pending: 0n, credits_posted: 0n, created_at_ms: startMs,
      });
      const ids = { issuance: uuidv7(startMs), a: uuidv7(startMs), b: uuidv7(startMs) };
      await db.insertInto('ledger_accounts').values([accountRow(ids.issuance, 'issuance', null), accountRow(ids.a, 'wallet', randomUUID()), accountRow(ids.b, 'wallet', randomUUID())]).execute();
      const pairs: Array<[string, string]> = [[ids.issuance, ids.a], [ids.issuance, ids.b], [ids.a, ids.b], [ids.b, ids.a], [ids.a, ids.b]];
      const old = pairs.map(([debit, credit], i) => ({
        id: uuidv7(startMs + i), ref: `old-${i}`, kind: 'posted', debit_account_id: debit, credit_account_id: credit, currency: 'USD', amount_minor: 1n,
        hold_id: null, hold_status: null, owner: 'test', expires_at_ms: null, batch_id: uuidv7(startMs + i), memo: '', created_at_ms: startMs + i,
      }));
      await db.insertInto('ledger_transfers').values([...old].reverse()).execute(); // the row order must not matter
      await database.close();

      const t = await attachTestNode(storage, {}, {}, { dropStorage: true });
      cleanups.push(() => t.close());
      const ledger = t.node.ledger.service;
      const store = new LedgerStore(t.node.database);
      const account = async (id: string) => (await store.findAccount(store.db, id))!;
      const byAccount = (id: string) => old.filter((r) => r.debit_account_id === id || r.credit_account_id === id).map((r) => r.id).reverse();
      for (const id of Object.values(ids)) expect(await statementOf(t, await account(id), 2)).toEqual(byAccount(id));

      const [added] = await ledger.execute([{ type: 'transfer', ref: 'new-0', debitAccountId: ids.issuance, creditAccountId: ids.a, currency: 'USD', amountMinor: 1n, owner: 'test' }]);
      expect(await statementOf(t, await account(ids.a), 3)).toEqual([added!.id, ...byAccount(ids.a)]);
      expect(await statementOf(t, await account(ids.b), 3)).toEqual(byAccount(ids.b));
    });
  });
}
