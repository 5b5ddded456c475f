// Two-phase holds through LedgerService: expiry on a clock the test moves, the refusals a
// capture can meet, idempotent references, linked batches and the caller's own transaction.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import type { Principal } from '../../src/platform/auth/principal.js';
import { walletBalances, type Account } from '../../src/ledger/model.js';
import { LedgerError, type LedgerService } from '../../src/ledger/service.js';
import type { LedgerExecutor } from '../../src/ledger/store.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';

const MINUTE_MS = 60_000;

for (const dialect of DIALECTS) {
  describe(`holds on ${dialect}`, () => {
    let t: TestNode;
    let ledger: LedgerService;
    let clock: ManualClock;
    let admin: Principal;
    let n = 0;
    const ref = (what: string) => `holds:${what}:${++n}`;

    beforeAll(async () => {
      clock = new ManualClock(Date.UTC(2030, 5, 1, 12));
      // No worker: holds expire only when the test sweeps.
      t = await startTestNode(dialect, { roles: new Set(['api'] as const) }, { clock });
      ledger = t.node.ledger.service;
      admin = (await t.node.accounts.service.authenticate(await t.adminToken(), clock.nowMs()))!;
    });
    afterAll(async () => t?.close());

    async function wallet(currency: string, amountMinor: bigint): Promise<Account> {
      const { account } = await ledger.openWallet(randomUUID(), currency);
      if (amountMinor > 0n) {
        const issuance = await ledger.systemAccount('issuance', currency);
        await ledger.transfer({ ref: ref('fund'), debitAccountId: issuance.id, creditAccountId: account.id, currency, amountMinor, owner: 'test:fund' });
      }
      return account;
    }

    const balances = async (account: Account) => walletBalances(await ledger.accountFor(admin, account.id));
    const db = () => t.node.database.kysely as unknown as Kysely<any>;
    const rows = async () => ({
      accounts: await db().selectFrom('ledger_accounts').selectAll().orderBy('id').execute(),
      transfers: await db().selectFrom('ledger_transfers').selectAll().orderBy('id').execute(),
    });
    const statusOf = async (holdId: string) => (await db().selectFrom('ledger_transfers').select('hold_status').where('id', '=', holdId).executeTakeFirstOrThrow()).hold_status as string;
    const refused = async (promise: Promise<unknown>, failure: string, opIndex = 0) => {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, `expected ${failure}`).toBeInstanceOf(LedgerError);
      expect({ failure: (error as LedgerError).failure, opIndex: (error as LedgerError).opIndex }).toEqual({ failure, opIndex });
    };
    const expectClean = async () => expect((await ledger.check(admin)).violations).toEqual([]);

    it('a hold whose time ran out is released by the sweep: the funds are available again and the hold is expired', async () => {
      const w = await wallet('USD', 10_000n);
      const soon = await ledger.hold({ ref: ref('soon'), accountId: w.id, currency: 'USD', amountMinor: 3_000n, owner: 'test:expiry', expiresAtMs: clock.nowMs() + 5 * MINUTE_MS });
      const later = await ledger.hold({ ref: ref('later'), accountId: w.id, currency: 'USD', amountMinor: 2_000n, owner: 'test:expiry', expiresAtMs: clock.nowMs() + 60 * MINUTE_MS });
      const never = await ledger.hold({ ref: ref('never'), accountId: w.id, currency: 'USD', amountMinor: 1_000n, owner: 'test:expiry' });
      expect(soon.holdStatus).toBe('pending');
      expect(await balances(w)).toEqual({ posted: 10_000n, held: 6_000n, available: 4_000n });

      clock.advance(5 * MINUTE_MS - 1);
      expect(await ledger.expireHolds()).toBe(0);
      expect(await statusOf(soon.id)).toBe('pending');

      clock.advance(1); // exactly at the expiry time
      expect(await ledger.expireHolds()).toBe(1);
      expect(await statusOf(soon.id)).toBe('expired');
      expect(await statusOf(later.id)).toBe('pending');
      expect(await statusOf(never.id)).toBe('pending');
      expect(await balances(w)).toEqual({ posted: 10_000n, held: 3_000n, available: 7_000n });
      // A second sweep finds nothing more to do.
      expect(await ledger.expireHolds()).toBe(0);

      // The expiry is a transfer of its own, referring to the hold.
      const expiry = await db().selectFrom('ledger_transfers').selectAll().where('hold_id', '=', soon.id).execute();
      expect(expiry).toHaveLength(1);
      expect(expiry[0]).toMatchObject({ kind: 'expire', ref: `expire:${soon.id}` });
      // ...and a settled hold cannot be captured or released any more.
      await refused(ledger.capture({ ref: ref('cap-expired'), holdId: soon.id, toAccountId: (await wallet('USD', 0n)).id }), 'HOLD_NOT_PENDING');
      await refused(ledger.release({ ref: ref('rel-expired'), holdId: soon.id }), 'HOLD_NOT_PENDING');

      clock.advance(24 * 60 * MINUTE_MS);
      expect(await ledger.expireHolds()).toBe(1);
      expect(await statusOf(never.id)).toBe('pending');
      expect(await balances(w)).toEqual({ posted: 10_000n, held: 1_000n, available: 9_000n });
      await expectClean();
    });

    it('a capture after the expiry time is HOLD_EXPIRED even before the sweep has run, and writes nothing', async () => {
      const w = await wallet('EUR', 5_000n);
      const seller = await wallet('EUR', 0n);
      const hold = await ledger.hold({ ref: ref('exp-cap'), accountId: w.id, currency: 'EUR', amountMinor: 2_500n, owner: 'test:expired-capture', expiresAtMs: clock.nowMs() + MINUTE_MS });
      const justBefore = await ledger.hold({ ref: ref('exp-cap-ok'), accountId: w.id, currency: 'EUR', amountMinor: 500n, owner: 'test:expired-capture', expiresAtMs: clock.nowMs() + MINUTE_MS + 1 });
      clock.advance(MINUTE_MS);
      const before = await rows();
      await refused(ledger.capture({ ref: ref('too-late'), holdId: hold.id, toAccountId: seller.id }), 'HOLD_EXPIRED');
      await refused(ledger.capture({ ref: ref('too-late-part'), holdId: hold.id, toAccountId: seller.id, amountMinor: 1n }), 'HOLD_EXPIRED');
      expect(await rows()).toEqual(before);
      expect(await statusOf(hold.id)).toBe('pending');
      // One millisecond before its own expiry, the other hold still captures.
      await ledger.capture({ ref: ref('in-time'), holdId: justBefore.id, toAccountId: seller.id });
      expect(await balances(seller)).toEqual({ posted: 500n, held: 0n, available: 500n });
      // The sweep then expires the late one.
      expect(await ledger.expireHolds()).toBe(1);
      expect(await statusOf(hold.id)).toBe('expired');
      expect(await balances(w)).toEqual({ posted: 4_500n, held: 0n, available: 4_500n });
      await expectClean();
    });

    it('a hold released after its expiry time but before the sweep is released, and the sweep leaves it alone', async () => {
      const w = await wallet('GBP', 1_000n);
      const hold = await ledger.hold({ ref: ref('late-release'), accountId: w.id, currency: 'GBP', amountMinor: 1_000n, owner: 'test', expiresAtMs: clock.nowMs() + 1 });
      clock.advance(10);
      const release = await ledger.release({ ref: ref('late-release:rel'), holdId: hold.id });
      expect(release.kind).toBe('release');
      expect(await ledger.expireHolds()).toBe(0);
      expect(await statusOf(hold.id)).toBe('released');
      expect(await balances(w)).toEqual({ posted: 1_000n, held: 0n, available: 1_000n });
    });

    it('refuses a capture larger than the hold, of nothing, to another currency or to a closed wallet, writing nothing', async () => {
      const w = await wallet('USD', 10_000n);
      const seller = await wallet('USD', 0n);
      const yen = await wallet('JPY', 0n);
      const closedPerson = randomUUID();
      const closed = (await ledger.openWallet(closedPerson, 'USD')).account;
      await ledger.closeWallet({ userId: closedPerson, roles: ['bidder'], sessionId: 'test' }, 'USD');
      const hold = await ledger.hold({ ref: ref('refusals'), accountId: w.id, currency: 'USD', amountMinor: 4_000n, owner: 'test:refusals' });
      const posted = await ledger.transfer({ ref: ref('posted'), debitAccountId: w.id, creditAccountId: seller.id, currency: 'USD', amountMinor: 1n, owner: 'test' });
      await ledger.transfer({ ref: ref('posted-back'), debitAccountId: seller.id, creditAccountId: w.id, currency: 'USD', amountMinor: 1n, owner: 'test' });
      const before = await rows();
      await refused(ledger.capture({ ref: ref('too-much'), holdId: hold.id, toAccountId: seller.id, amountMinor: 4_001n }), 'CAPTURE_EXCEEDS_HOLD');
      await refused(ledger.capture({ ref: ref('nothing'), holdId: hold.id, toAccountId: seller.id, amountMinor: 0n }), 'AMOUNT_INVALID');
      await refused(ledger.capture({ ref: ref('yen'), holdId: hold.id, toAccountId: yen.id }), 'CURRENCY_MISMATCH');
      await refused(ledger.capture({ ref: ref('closed'), holdId: hold.id, toAccountId: closed.id }), 'ACCOUNT_CLOSED');
      await refused(ledger.capture({ ref: ref('nobody'), holdId: hold.id, toAccountId: randomUUID() }), 'ACCOUNT_NOT_FOUND');
      await refused(ledger.capture({ ref: ref('no-hold'), holdId: randomUUID(), toAccountId: seller.id }), 'HOLD_NOT_FOUND');
      // A transfer that is not a hold cannot be captured either.
      await refused(ledger.capture({ ref: ref('not-a-hold'), holdId: posted.id, toAccountId: seller.id }), 'HOLD_NOT_FOUND');
      await refused(ledger.release({ ref: ref('not-a-hold-rel'), holdId: posted.id }), 'HOLD_NOT_FOUND');
      expect(await rows()).toEqual(before);
      // The whole hold may be captured.
      const capture = await ledger.capture({ ref: ref('exact'), holdId: hold.id, toAccountId: seller.id, amountMinor: 4_000n });
      expect(capture).toMatchObject({ kind: 'capture', amountMinor: 4_000n, holdId: hold.id });
      expect(await balances(w)).toEqual({ posted: 6_000n, held: 0n, available: 6_000n });
      expect(await balances(seller)).toEqual({ posted: 4_000n, held: 0n, available: 4_000n });
      await expectClean();
    });

    it('a hold larger than the available balance is INSUFFICIENT_FUNDS, counting what is already held', async () => {
      const w = await wallet('CHF', 1_000n);
      await ledger.hold({ ref: ref('first'), accountId: w.id, currency: 'CHF', amountMinor: 600n, owner: 'test' });
      await refused(ledger.hold({ ref: ref('second'), accountId: w.id, currency: 'CHF', amountMinor: 401n, owner: 'test' }), 'INSUFFICIENT_FUNDS');
      await ledger.hold({ ref: ref('third'), accountId: w.id, currency: 'CHF', amountMinor: 400n, owner: 'test' });
      expect(await balances(w)).toEqual({ posted: 1_000n, held: 1_000n, available: 0n });
      // Held money cannot be spent by a plain transfer either.
      const other = await wallet('CHF', 0n);
      await refused(ledger.transfer({ ref: ref('spend-held'), debitAccountId: w.id, creditAccountId: other.id, currency: 'CHF', amountMinor: 1n, owner: 'test' }), 'INSUFFICIENT_FUNDS');
    });

    it('a repeated ref answers the first transfer; the same ref with different data is REF_EXISTS_WITH_DIFFERENT_DATA', async () => {
      const w = await wallet('USD', 10_000n);
      const seller = await wallet('USD', 0n);
      const holdRef = ref('idem-hold');
      const hold = await ledger.hold({ ref: holdRef, accountId: w.id, currency: 'USD', amountMinor: 1_000n, owner: 'test:idem' });
      const again = await ledger.hold({ ref: holdRef, accountId: w.id, currency: 'USD', amountMinor: 1_000n, owner: 'test:idem' });
      expect(again.id).toBe(hold.id);
      expect(await balances(w)).toMatchObject({ held: 1_000n });
      const before = await rows();
      await refused(ledger.hold({ ref: holdRef, accountId: w.id, currency: 'USD', amountMinor: 1_001n, owner: 'test:idem' }), 'REF_EXISTS_WITH_DIFFERENT_DATA');
      await refused(ledger.hold({ ref: holdRef, accountId: seller.id, currency: 'USD', amountMinor: 1_000n, owner: 'test:idem' }), 'REF_EXISTS_WITH_DIFFERENT_DATA');
      await refused(ledger.transfer({ ref: holdRef, debitAccountId: w.id, creditAccountId: seller.id, currency: 'USD', amountMinor: 1_000n, owner: 'test:idem' }), 'REF_EXISTS_WITH_DIFFERENT_DATA');
      await refused(ledger.release({ ref: holdRef, holdId: hold.id }), 'REF_EXISTS_WITH_DIFFERENT_DATA');

      const captureRef = ref('idem-capture');
      const capture = await ledger.capture({ ref: captureRef, holdId: hold.id, toAccountId: seller.id, amountMinor: 700n });
      // The same capture again (even with the amount left out) is the first one, not a second.
      expect((await ledger.capture({ ref: captureRef, holdId: hold.id, toAccountId: seller.id, amountMinor: 700n })).id).toBe(capture.id);
      expect((await ledger.capture({ ref: captureRef, holdId: hold.id, toAccountId: seller.id })).id).toBe(capture.id);
      await refused(ledger.capture({ ref: captureRef, holdId: hold.id, toAccountId: seller.id, amountMinor: 701n }), 'REF_EXISTS_WITH_DIFFERENT_DATA');
      expect(await balances(seller)).toEqual({ posted: 700n, held: 0n, available: 700n });

      const transferRef = ref('idem-transfer');
      const first = await ledger.transfer({ ref: transferRef, debitAccountId: w.id, creditAccountId: seller.id, currency: 'USD', amountMinor: 50n, owner: 'test' });
      expect((await ledger.transfer({ ref: transferRef, debitAccountId: w.id, creditAccountId: seller.id, currency: 'USD', amountMinor: 50n, owner: 'test' })).id).toBe(first.id);
      await refused(ledger.transfer({ ref: transferRef, debitAccountId: seller.id, creditAccountId: w.id, currency: 'USD', amountMinor: 50n, owner: 'test' }), 'REF_EXISTS_WITH_DIFFERENT_DATA');
      expect(await balances(seller)).toEqual({ posted: 750n, held: 0n, available: 750n });
      expect((await rows()).transfers.length).toBe(before.transfers.length + 3); // capture, its onward leg, the transfer
      await expectClean();
    });

    it('a linked batch whose second op fails writes nothing of the first and names the failing op', async () => {
      const w = await wallet('USD', 1_000n);
      const seller = await wallet('USD', 0n);
      const pending = await ledger.hold({ ref: ref('batch-hold'), accountId: w.id, currency: 'USD', amountMinor: 300n, owner: 'test:batch' });
      const before = await rows();
      const firstRef = ref('batch-first');
      await refused(
        ledger.execute([
          { type: 'capture', ref: firstRef, holdId: pending.id, toAccountId: seller.id },
          { type: 'transfer', ref: ref('batch-second'), debitAccountId: w.id, creditAccountId: seller.id, currency: 'USD', amountMinor: 701n, owner: 'test:batch' },
        ]),
        'INSUFFICIENT_FUNDS',
        1,
      );
      expect(await rows()).toEqual(before);
      expect(await statusOf(pending.id)).toBe('pending');
      // The first op's ref was not taken: the same capture alone now succeeds.
      await ledger.capture({ ref: firstRef, holdId: pending.id, toAccountId: seller.id });
      expect(await balances(seller)).toEqual({ posted: 300n, held: 0n, available: 300n });

      // A batch fails on its third op too, after a hold and a transfer that would each succeed.
      const before2 = await rows();
      const another = await ledger.hold({ ref: ref('batch-hold-2'), accountId: w.id, currency: 'USD', amountMinor: 100n, owner: 'test:batch' });
      const before3 = await rows();
      await refused(
        ledger.execute([
          { type: 'hold', ref: ref('b3-hold'), accountId: w.id, currency: 'USD', amountMinor: 50n, owner: 'test:batch' },
          { type: 'release', ref: ref('b3-release'), holdId: another.id },
          { type: 'release', ref: ref('b3-release-again'), holdId: another.id },
        ]),
        'HOLD_NOT_PENDING',
        2,
      );
      expect(await rows()).toEqual(before3);
      expect(before3.transfers.length).toBe(before2.transfers.length + 1);
      // A batch that succeeds writes all of it in one batch id.
      const written = await ledger.execute([
        { type: 'release', ref: ref('b4-release'), holdId: another.id },
        { type: 'transfer', ref: ref('b4-transfer'), debitAccountId: w.id, creditAccountId: seller.id, currency: 'USD', amountMinor: 700n, owner: 'test:batch' },
      ]);
      expect(new Set(written.map((tr) => tr.batchId)).size).toBe(1);
      expect(await balances(w)).toEqual({ posted: 0n, held: 0n, available: 0n });
      await expectClean();
    });

    it("a hold made inside the caller's transaction is rolled back when that transaction throws, and kept when it commits", async () => {
      const w = await wallet('CAD', 2_000n);
      const before = await rows();
      const holdRef = ref('outer');
      const failure = await t.node.database.kysely
        .transaction()
        .execute(async (tx) => {
          const hold = await ledger.hold({ ref: holdRef, accountId: w.id, currency: 'CAD', amountMinor: 1_500n, owner: 'test:outer' }, tx as unknown as LedgerExecutor);
          expect(hold.holdStatus).toBe('pending');
          throw new Error('the caller changed its mind');
        })
        .then(
          () => undefined,
          (e: Error) => e.message,
        );
      expect(failure).toBe('the caller changed its mind');
      expect(await rows()).toEqual(before);
      expect(await balances(w)).toEqual({ posted: 2_000n, held: 0n, available: 2_000n });

      // A ledger refusal inside the caller's transaction propagates and undoes the caller's work too.
      const refusedInside = t.node.database.kysely.transaction().execute(async (tx) => {
        await ledger.hold({ ref: ref('outer-ok'), accountId: w.id, currency: 'CAD', amountMinor: 1_500n, owner: 'test:outer' }, tx as unknown as LedgerExecutor);
        await ledger.hold({ ref: ref('outer-too-much'), accountId: w.id, currency: 'CAD', amountMinor: 501n, owner: 'test:outer' }, tx as unknown as LedgerExecutor);
      });
      await refused(refusedInside, 'INSUFFICIENT_FUNDS');
      expect(await rows()).toEqual(before);

      // The same hold, committed with the caller's transaction.
      const kept = await t.node.database.kysely.transaction().execute((tx) => ledger.hold({ ref: holdRef, accountId: w.id, currency: 'CAD', amountMinor: 1_500n, owner: 'test:outer' }, tx as unknown as LedgerExecutor));
      expect(await statusOf(kept.id)).toBe('pending');
      expect(await balances(w)).toEqual({ posted: 2_000n, held: 1_500n, available: 500n });
      await expectClean();
    });

    it('a capture or release may name its hold by the ref it was placed with; an unknown ref is HOLD_NOT_FOUND', async () => {
      const buyer = await wallet('EUR', 5_000n);
      const seller = await wallet('EUR', 0n);
      const holdRef = ref('by-ref');
      const hold = await ledger.hold({ ref: holdRef, accountId: buyer.id, currency: 'EUR', amountMinor: 2_000n, owner: 'test:by-ref' });
      const capture = await ledger.capture({ ref: ref('capture-by-ref'), holdRef, toAccountId: seller.id, amountMinor: 1_200n });
      expect(capture.holdId).toBe(hold.id);
      expect(await statusOf(hold.id)).toBe('captured');
      expect(await balances(buyer)).toEqual({ posted: 3_800n, held: 0n, available: 3_800n });
      expect(await balances(seller)).toEqual({ posted: 1_200n, held: 0n, available: 1_200n });

      const second = await ledger.hold({ ref: ref('by-ref-2'), accountId: buyer.id, currency: 'EUR', amountMinor: 800n, owner: 'test:by-ref' });
      const releaseRef = ref('release-by-ref');
      const released = await ledger.release({ ref: releaseRef, holdRef: second.ref });
      // Repeating the release by ref answers the first one.
      expect((await ledger.release({ ref: releaseRef, holdRef: second.ref })).id).toBe(released.id);
      expect(await statusOf(second.id)).toBe('released');
      await refused(ledger.release({ ref: ref('release-unknown'), holdRef: 'no-such-ref' }), 'HOLD_NOT_FOUND');
      await expectClean();
    });

    it('a hold placed earlier in the same batch or group can be captured and released by its ref (a market re-holding the rest of an order)', async () => {
      const buyer = await wallet('EUR', 10_000n);
      const seller = await wallet('EUR', 0n);
      const [h0, h1, h2] = [ref('group-h0'), ref('group-h1'), ref('group-h2')];
      // One batch: hold, capture part and re-hold the rest, capture again; a second batch in
      // the same group captures the hold the first one left pending.
      const [first, second] = await db().transaction().execute((tx) => ledger.executeEach([
        [
          { type: 'hold', ref: h0, accountId: buyer.id, currency: 'EUR', amountMinor: 6_000n, owner: 'test:group' },
          { type: 'capture', ref: ref('group-c0'), holdRef: h0, toAccountId: seller.id, amountMinor: 1_000n },
          { type: 'hold', ref: h1, accountId: buyer.id, currency: 'EUR', amountMinor: 5_000n, owner: 'test:group' },
          { type: 'capture', ref: ref('group-c1'), holdRef: h1, toAccountId: seller.id, amountMinor: 2_000n },
          { type: 'hold', ref: h2, accountId: buyer.id, currency: 'EUR', amountMinor: 3_000n, owner: 'test:group' },
        ],
        [{ type: 'release', ref: ref('group-r2'), holdRef: h2 }],
      ], tx as unknown as LedgerExecutor));
      expect(first!.ok && second!.ok).toBe(true);
      expect(await balances(buyer)).toEqual({ posted: 7_000n, held: 0n, available: 7_000n });
      expect(await balances(seller)).toEqual({ posted: 3_000n, held: 0n, available: 3_000n });
      const byRef = async (r: string) => (await db().selectFrom('ledger_transfers').select('hold_status').where('ref', '=', r).executeTakeFirstOrThrow()).hold_status;
      expect([await byRef(h0), await byRef(h1), await byRef(h2)]).toEqual(['captured', 'captured', 'released']);
      await expectClean();
    });
  });
}
