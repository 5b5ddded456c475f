// Many callers at once against the same accounts: the ledger must never overspend a wallet,
// settle a hold twice, deadlock, or lose money. On SQLite one connection writes at a time; on
// PostgreSQL the accounts are locked (FOR UPDATE, in id order; a linked batch locks all of its accounts up front).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/platform/auth/principal.js';
import { walletBalances, type Account, type Transfer } from '../../src/ledger/model.js';
import { LedgerError, type LedgerOp, type LedgerService } from '../../src/ledger/service.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';

const SLOW = { timeout: 120_000 };

for (const dialect of DIALECTS) {
  describe(`ledger under concurrency on ${dialect}`, () => {
    let t: TestNode;
    let ledger: LedgerService;
    let admin: Principal;
    let refCounter = 0;
    const ref = (what: string) => `conc:${what}:${++refCounter}:${randomUUID()}`;

    beforeAll(async () => {
      t = await startTestNode(dialect, { roles: new Set(['api'] as const) });
      ledger = t.node.ledger.service;
      admin = (await t.node.accounts.service.authenticate(await t.adminToken(), Date.now()))!;
    });
    afterAll(async () => t?.close());

    /** A wallet for a new (ledger-only) person, credited from issuance. */
    async function fundedWallet(currency: string, amountMinor: bigint): Promise<Account> {
      const { account } = await ledger.openWallet(randomUUID(), currency);
      if (amountMinor > 0n) {
        const issuance = await ledger.systemAccount('issuance', currency);
        await ledger.transfer({ ref: ref('fund'), debitAccountId: issuance.id, creditAccountId: account.id, currency, amountMinor, owner: 'test:fund' });
      }
      return account;
    }

    const balancesOf = async (account: Account) => walletBalances((await ledger.accountFor(admin, account.id)));

    async function expectClean(): Promise<void> {
      const check = await ledger.check(admin);
      expect(check.violations).toEqual([]);
    }

    /** Every rejection must be a LedgerError with one of `failures`; returns the fulfilled values. */
    function partition<T>(results: PromiseSettledResult<T>[], failures: string[]): { won: T[]; lost: LedgerError[] } {
      const won: T[] = [];
      const lost: LedgerError[] = [];
      for (const r of results) {
        if (r.status === 'fulfilled') won.push(r.value);
        else {
          expect(r.reason, String(r.reason)).toBeInstanceOf(LedgerError);
          expect(failures).toContain((r.reason as LedgerError).failure);
          lost.push(r.reason as LedgerError);
        }
      }
      return { won, lost };
    }

    it('200 concurrent holds against a wallet funded for exactly 17: 17 succeed, the rest are INSUFFICIENT_FUNDS, available never goes negative', SLOW, async () => {
      const N = 17;
      const HOLD = 250n;
      const wallet = await fundedWallet('USD', BigInt(N) * HOLD);

      // An observer reads the wallet over and over while the holds are in flight.
      let storming = true;
      const seen: bigint[] = [];
      const observer = (async () => {
        while (storming) {
          seen.push(walletBalances((await ledger.walletOf(wallet.ownerUserId!, 'USD'))!).available);
          await new Promise((r) => setImmediate(r));
        }
      })();
      const results = await Promise.allSettled(
        Array.from({ length: 200 }, (_, i) => ledger.hold({ ref: ref(`storm-${i}`), accountId: wallet.id, currency: 'USD', amountMinor: HOLD, owner: `test:storm:${i}` })),
      );
      storming = false;
      await observer;

      const { won, lost } = partition(results, ['INSUFFICIENT_FUNDS']);
      expect(won).toHaveLength(N);
      expect(lost).toHaveLength(200 - N);
      expect(new Set(won.map((h) => h.id)).size).toBe(N);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((a) => a >= 0n)).toBe(true);
      expect(await balancesOf(wallet)).toEqual({ posted: BigInt(N) * HOLD, held: BigInt(N) * HOLD, available: 0n });
      await expectClean();
    });

    it('holds of uneven sizes racing for one wallet never hold more than it has', SLOW, async () => {
      const wallet = await fundedWallet('JPY', 10_000n);
      const sizes = Array.from({ length: 120 }, (_, i) => BigInt(100 + ((i * 37) % 400)));
      const results = await Promise.allSettled(sizes.map((amountMinor, i) => ledger.hold({ ref: ref(`uneven-${i}`), accountId: wallet.id, currency: 'JPY', amountMinor, owner: 'test:uneven' })));
      const { won } = partition(results, ['INSUFFICIENT_FUNDS']);
      const refusedSizes = sizes.filter((_, i) => results[i]!.status === 'rejected');
      expect(refusedSizes.length).toBeGreaterThan(0);
      const heldMinor = won.reduce((sum, h) => sum + h.amountMinor, 0n);
      const b = await balancesOf(wallet);
      expect(b.held).toBe(heldMinor);
      expect(b.available).toBe(10_000n - heldMinor);
      expect(b.available).toBeGreaterThanOrEqual(0n);
      // Nothing that was refused would fit even now: each was refused for want of money.
      const smallestRefused = refusedSizes.reduce((m, s) => (s < m ? s : m));
      expect(b.available).toBeLessThan(smallestRefused);
      await expectClean();
    });

    it('concurrent captures and releases of the same hold: exactly one wins, the others are HOLD_NOT_PENDING', SLOW, async () => {
      const payer = await fundedWallet('EUR', 5_000n);
      const payees = await Promise.all([fundedWallet('EUR', 0n), fundedWallet('EUR', 0n), fundedWallet('EUR', 0n)]);
      const revenue = await ledger.systemAccount('house_revenue', 'EUR');
      for (let round = 0; round < 5; round++) {
        const hold = await ledger.hold({ ref: ref('contested'), accountId: payer.id, currency: 'EUR', amountMinor: 1_000n, owner: 'test:contested' });
        const attempts: Promise<{ type: 'capture' | 'release'; transfer: Transfer; to?: string; amountMinor?: bigint }>[] = [];
        for (let i = 0; i < 8; i++) {
          const to = i % 4 === 3 ? revenue.id : payees[i % 3]!.id;
          const amountMinor = 400n + BigInt(i) * 50n;
          attempts.push(ledger.capture({ ref: ref('cap'), holdId: hold.id, toAccountId: to, amountMinor }).then((transfer) => ({ type: 'capture' as const, transfer, to, amountMinor })));
          attempts.push(ledger.release({ ref: ref('rel'), holdId: hold.id }).then((transfer) => ({ type: 'release' as const, transfer })));
        }
        const { won, lost } = partition(await Promise.allSettled(attempts), ['HOLD_NOT_PENDING']);
        expect(won, `round ${round}`).toHaveLength(1);
        expect(lost).toHaveLength(15);
        const winner = won[0]!;
        const stored = await t.node.database.kysely
          .selectFrom('ledger_transfers' as never)
          .select(['hold_status' as never])
          .where('id' as never, '=', hold.id as never)
          .executeTakeFirstOrThrow();
        expect((stored as { hold_status: string }).hold_status).toBe(winner.type === 'capture' ? 'captured' : 'released');
        // Exactly one settlement was written for the hold.
        const settlements = await t.node.database.kysely
          .selectFrom('ledger_transfers' as never)
          .select(['kind' as never])
          .where('hold_id' as never, '=', hold.id as never)
          .execute();
        expect(settlements.map((s) => (s as { kind: string }).kind)).toEqual([winner.type]);
      }
      // The payer lost exactly what the winning captures took; everyone else got exactly that.
      const b = await balancesOf(payer);
      expect(b.held).toBe(0n);
      const received = (await Promise.all(payees.map(balancesOf))).reduce((sum, p) => sum + p.posted, 0n);
      const revenueNow = walletBalances((await ledger.accountFor(admin, revenue.id))).posted;
      expect(5_000n - b.posted).toBe(received + revenueNow);
      await expectClean();
    });

    it('the same capture or release sent many times at once is written once and every caller gets that transfer', SLOW, async () => {
      const payer = await fundedWallet('GBP', 3_000n);
      const payee = await fundedWallet('GBP', 0n);
      const toCapture = await ledger.hold({ ref: ref('dup-cap-hold'), accountId: payer.id, currency: 'GBP', amountMinor: 1_000n, owner: 'test:dup' });
      const toRelease = await ledger.hold({ ref: ref('dup-rel-hold'), accountId: payer.id, currency: 'GBP', amountMinor: 1_000n, owner: 'test:dup' });
      const captureRef = ref('dup-capture');
      const releaseRef = ref('dup-release');
      const [captures, releases] = await Promise.all([
        Promise.allSettled(Array.from({ length: 12 }, () => ledger.capture({ ref: captureRef, holdId: toCapture.id, toAccountId: payee.id, amountMinor: 600n }))),
        Promise.allSettled(Array.from({ length: 12 }, () => ledger.release({ ref: releaseRef, holdId: toRelease.id }))),
      ]);
      for (const results of [captures, releases]) {
        const { won } = partition(results, []);
        expect(won).toHaveLength(12);
        expect(new Set(won.map((w) => w.id)).size).toBe(1);
      }
      expect(await balancesOf(payee)).toEqual({ posted: 600n, held: 0n, available: 600n });
      expect(await balancesOf(payer)).toEqual({ posted: 2_400n, held: 0n, available: 2_400n });
      await expectClean();
    });

    it('the same hold sent many times at once against a wallet that can afford it once is one hold for every caller', SLOW, async () => {
      const wallet = await fundedWallet('CHF', 1_000n);
      const holdRef = ref('dup-hold');
      const results = await Promise.allSettled(Array.from({ length: 12 }, () => ledger.hold({ ref: holdRef, accountId: wallet.id, currency: 'CHF', amountMinor: 1_000n, owner: 'test:dup-hold' })));
      const { won } = partition(results, []);
      expect(won).toHaveLength(12);
      expect(new Set(won.map((h) => h.id)).size).toBe(1);
      expect(await balancesOf(wallet)).toEqual({ posted: 1_000n, held: 1_000n, available: 0n });
      await expectClean();
    });

    it('transfers in both directions between two wallets at once neither deadlock nor create or lose money', SLOW, async () => {
      const a = await fundedWallet('USD', 50_000n);
      const b = await fundedWallet('USD', 50_000n);
      const ops: Promise<Transfer>[] = [];
      for (let i = 0; i < 100; i++) {
        const amountMinor = BigInt(1 + ((i * 7919) % 900));
        ops.push(ledger.transfer({ ref: ref('ab'), debitAccountId: a.id, creditAccountId: b.id, currency: 'USD', amountMinor, owner: 'test:ab' }));
        ops.push(ledger.transfer({ ref: ref('ba'), debitAccountId: b.id, creditAccountId: a.id, currency: 'USD', amountMinor: amountMinor + 3n, owner: 'test:ba' }));
      }
      const { won } = partition(await Promise.allSettled(ops), ['INSUFFICIENT_FUNDS']);
      const [ba, bb] = [await balancesOf(a), await balancesOf(b)];
      expect(ba.posted + bb.posted).toBe(100_000n);
      expect(ba.available).toBeGreaterThanOrEqual(0n);
      expect(bb.available).toBeGreaterThanOrEqual(0n);
      // The balances are exactly what the successful transfers say.
      const net = won.reduce((sum, tr) => sum + (tr.creditAccountId === a.id ? tr.amountMinor : -tr.amountMinor), 0n);
      expect(ba.posted).toBe(50_000n + net);
      await expectClean();
    });

    it('linked batches locking the same wallets in opposite orders all complete, none refused by a deadlock', SLOW, async () => {
      const a = await fundedWallet('CAD', 100_000n);
      const b = await fundedWallet('CAD', 100_000n);
      const x = await fundedWallet('CAD', 0n);
      const y = await fundedWallet('CAD', 0n);
      const batches: Promise<Transfer[]>[] = [];
      const tr = (from: Account, to: Account, amountMinor: bigint): LedgerOp => ({ type: 'transfer', ref: ref('lnk'), debitAccountId: from.id, creditAccountId: to.id, currency: 'CAD', amountMinor, owner: 'test:linked' });
      for (let i = 0; i < 40; i++) {
        batches.push(ledger.execute([tr(a, x, 10n), tr(b, x, 10n)]));
        batches.push(ledger.execute([tr(b, y, 10n), tr(a, y, 10n)]));
      }
      const { won } = partition(await Promise.allSettled(batches), []);
      expect(won).toHaveLength(80);
      expect((await balancesOf(x)).posted).toBe(800n);
      expect((await balancesOf(y)).posted).toBe(800n);
      expect((await balancesOf(a)).posted + (await balancesOf(b)).posted).toBe(200_000n - 1_600n);
      await expectClean();
    });

    it('the invariant check run while money is moving reports no violation', SLOW, async () => {
      const wallets = await Promise.all(Array.from({ length: 4 }, () => fundedWallet('MXN', 100_000n)));
      let moving = true;
      const checks: number[] = [];
      const checker = (async () => {
        while (moving) {
          const result = await ledger.check(admin);
          expect(result.violations).toEqual([]);
          checks.push(result.transfers);
        }
      })();
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 150; i++) {
        const from = wallets[i % 4]!;
        const to = wallets[(i + 1) % 4]!;
        work.push(
          i % 3 === 0
            ? ledger.hold({ ref: ref('chk-hold'), accountId: from.id, currency: 'MXN', amountMinor: 10n, owner: 'test:chk' }).then((h) => ledger.capture({ ref: ref('chk-cap'), holdId: h.id, toAccountId: to.id }))
            : ledger.transfer({ ref: ref('chk'), debitAccountId: from.id, creditAccountId: to.id, currency: 'MXN', amountMinor: 5n, owner: 'test:chk' }),
        );
      }
      const settled = await Promise.allSettled(work);
      moving = false;
      await checker;
      partition(settled, []);
      expect(checks.length).toBeGreaterThan(0);
      await expectClean();
    });
  });
}
