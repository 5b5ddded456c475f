// A group's write in bulk: hundreds of operations in one batch are written by a statement or
// two per table (on PostgreSQL each column travels as one array), and every field comes back
// exactly as given: text that looks like array syntax, nulls, big amounts, expiry times.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Account, Transfer } from '../../src/ledger/model.js';
import { LedgerStore } from '../../src/ledger/store.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode } from '../support/gavel.js';

const cleanups = cleanupsAfterEach();

/** Text that an array literal would mangle if it were not quoted and escaped. */
const AWKWARD = ['a,b', '{x}', '"quoted"', 'back\\slash', 'NULL', 'null', '', ' padded ', 'ü € 漢字', "it's", '}{,"\\'];
const WALLETS = 300;

for (const dialect of DIALECTS) {
  describe(`a group written in bulk on ${dialect}`, () => {
    it(`${WALLETS} fundings, holds, captures and releases in single batches: every field reads back as written, replays answer the same transfers, the ledger checks clean`, async () => {
      const t = await startTestNode(dialect, { roles: new Set(['api'] as const) });
      cleanups.push(() => t.close());
      const ledger = t.node.ledger.service;
      const store = new LedgerStore(t.node.database);
      const admin = (await t.node.accounts.service.authenticate(await t.adminToken(), Date.now()))!;
      const issuance = await ledger.systemAccount('issuance', 'USD');
      const revenue = await ledger.systemAccount('house_revenue', 'USD');
      const wallets: Account[] = [];
      for (let i = 0; i < WALLETS; i++) wallets.push((await ledger.openWallet(randomUUID(), 'USD')).account);
      const text = (i: number) => `${AWKWARD[i % AWKWARD.length]}#${i}`;
      const big = 9_000_000_000_000_000_000n; // beyond 2^53: must not pass through a float

      const fundings = await ledger.execute(
        wallets.map((w, i) => ({ type: 'transfer' as const, ref: `fund ${text(i)}`, debitAccountId: issuance.id, creditAccountId: w.id, currency: 'USD', amountMinor: big / BigInt(WALLETS) + BigInt(i), owner: text(i + 1), memo: text(i + 2) })),
      );
      const holdOps = wallets.map((w, i) => ({
        type: 'hold' as const, ref: `hold ${text(i)}`, accountId: w.id, currency: 'USD', amountMinor: 1_000n + BigInt(i), owner: `auction:${text(i)}`, expiresAtMs: i % 3 === 0 ? null : Date.UTC(2040, 0, 1) + i, memo: text(i + 5),
      }));
      const holds = await ledger.execute(holdOps);
      // The same batch again: the same transfers, found by their awkward refs.
      expect((await ledger.execute(holdOps)).map((h) => h.id)).toEqual(holds.map((h) => h.id));
      const settlements = await ledger.execute(
        holds.map((h, i) => (i % 2 === 0 ? { type: 'capture' as const, ref: `capture ${text(i)}`, holdId: h.id, toAccountId: revenue.id, amountMinor: 500n, memo: text(i + 7) } : { type: 'release' as const, ref: `release ${text(i)}`, holdId: h.id, memo: text(i + 9) })),
      );

      const written: Transfer[] = [...fundings, ...holds, ...settlements];
      for (const transfer of written) {
        const stored = await store.findTransferByRef(store.db, transfer.ref);
        const { holdStatus: _storedStatus, ...storedRest } = stored!;
        const { holdStatus: _givenStatus, ...givenRest } = transfer;
        expect(storedRest).toEqual(givenRest);
      }
      // Every hold was settled in the third batch: half captured (500 of it), half released.
      for (const [i, hold] of holds.entries()) expect((await store.findTransfer(store.db, hold.id))!.holdStatus).toBe(i % 2 === 0 ? 'captured' : 'released');
      for (const [i, wallet] of wallets.entries()) {
        const account = (await store.findAccount(store.db, wallet.id))!;
        expect({ posted: account.creditsPosted - account.debitsPosted, pending: account.debitsPending }).toEqual({ posted: big / BigInt(WALLETS) + BigInt(i) - (i % 2 === 0 ? 500n : 0n), pending: 0n });
      }
      const check = await ledger.check(admin);
      expect(check.violations).toEqual([]);
    });
  });
}

describe('a group written in bulk, outside a transaction', () => {
  it('on SQLite the group statements refuse to run: statement-per-row writes need the transaction that holds the connection', async () => {
    const t = await startTestNode('sqlite', { roles: new Set(['api'] as const) });
    cleanups.push(() => t.close());
    const store = new LedgerStore(t.node.database);
    await expect(store.lockAccounts(store.db, [randomUUID()])).rejects.toThrow(/only inside a transaction/);
    await expect(store.writeBalances(store.db, [])).rejects.toThrow(/only inside a transaction/);
  });
});
