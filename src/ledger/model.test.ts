import { describe, expect, it } from 'vitest';
import { MAX_AMOUNT_MINOR } from '../platform/money.js';
import {
  ZERO_BALANCES,
  addBalances,
  assertBalanced,
  available,
  checkInvariants,
  checkMovement,
  postingOf,
  walletBalances,
  type Account,
  type Balances,
  type Transfer,
  type TransferKind,
} from './model.js';

const b = (p: Partial<Balances>): Balances => ({ ...ZERO_BALANCES, ...p });

function account(id: string, kind: Account['kind'], over: Partial<Account> = {}): Account {
  return { id, currency: 'USD', kind, ownerUserId: kind === 'wallet' ? `user-${id}` : null, noOverdraft: kind === 'wallet', closed: false, ...ZERO_BALANCES, ...over };
}

describe('postingOf', () => {
  it('a posted transfer moves posted debits and credits', () => {
    expect(postingOf('posted', 500n, 0n)).toEqual([b({ debitsPosted: 500n }), b({ creditsPosted: 500n })]);
  });

  it('a hold moves pending debits and credits only', () => {
    expect(postingOf('hold', 500n, 0n)).toEqual([b({ debitsPending: 500n }), b({ creditsPending: 500n })]);
  });

  it('a capture posts its amount and removes the whole held amount from pending', () => {
    expect(postingOf('capture', 300n, 500n)).toEqual([b({ debitsPending: -500n, debitsPosted: 300n }), b({ creditsPending: -500n, creditsPosted: 300n })]);
  });

  it('a release and an expiry remove the held amount from pending and post nothing', () => {
    for (const kind of ['release', 'expire'] as const) {
      expect(postingOf(kind, 500n, 500n), kind).toEqual([b({ debitsPending: -500n }), b({ creditsPending: -500n })]);
    }
  });

  it('every kind leaves debits equal to credits, posted and pending alike', () => {
    for (const kind of ['posted', 'hold', 'capture', 'release', 'expire'] as TransferKind[]) {
      const [d, c] = postingOf(kind, 7n, 11n);
      expect(d.debitsPosted, kind).toBe(c.creditsPosted);
      expect(d.debitsPending, kind).toBe(c.creditsPending);
      expect(d.creditsPosted + d.creditsPending + c.debitsPosted + c.debitsPending, kind).toBe(0n);
    }
  });
});

describe('balances', () => {
  it('posted is credits minus debits, held is pending debits, available is posted minus held', () => {
    const wallet = b({ creditsPosted: 10_000n, debitsPosted: 2_500n, debitsPending: 1_500n, creditsPending: 99n });
    expect(walletBalances(wallet)).toEqual({ posted: 7_500n, held: 1_500n, available: 6_000n });
    expect(available(wallet)).toBe(6_000n);
    // Pending credits (money on its way in) are not available yet.
    expect(available(b({ creditsPending: 500n }))).toBe(0n);
    expect(walletBalances(ZERO_BALANCES)).toEqual({ posted: 0n, held: 0n, available: 0n });
  });

  it('a system account may show a negative balance', () => {
    expect(walletBalances(b({ debitsPosted: 300n }))).toEqual({ posted: -300n, held: 0n, available: -300n });
  });

  it('addBalances adds field by field', () => {
    expect(addBalances(b({ debitsPending: 1n, debitsPosted: 2n, creditsPending: 3n, creditsPosted: 4n }), b({ debitsPending: 10n, debitsPosted: 20n, creditsPending: -3n, creditsPosted: 40n }))).toEqual(
      b({ debitsPending: 11n, debitsPosted: 22n, creditsPending: 0n, creditsPosted: 44n }),
    );
  });
});

describe('checkMovement', () => {
  const funded = account('a', 'wallet', { creditsPosted: 1_000n, debitsPending: 200n });
  const other = account('b', 'wallet');
  const issuance = account('i', 'issuance');

  it('lets a movement within the available balance proceed', () => {
    expect(checkMovement(funded, other, 800n, 'USD')).toBeUndefined();
  });

  it('refuses a missing account on either side', () => {
    expect(checkMovement(undefined, other, 1n, 'USD')).toBe('ACCOUNT_NOT_FOUND');
    expect(checkMovement(funded, undefined, 1n, 'USD')).toBe('ACCOUNT_NOT_FOUND');
  });

  it('refuses a movement from an account to itself', () => {
    expect(checkMovement(funded, funded, 1n, 'USD')).toBe('SAME_ACCOUNT');
  });

  it('refuses accounts in another currency than the movement', () => {
    expect(checkMovement(funded, other, 1n, 'EUR')).toBe('CURRENCY_MISMATCH');
    expect(checkMovement(funded, { ...other, currency: 'EUR' }, 1n, 'USD')).toBe('CURRENCY_MISMATCH');
  });

  it('refuses a closed account on either side', () => {
    expect(checkMovement({ ...funded, closed: true }, other, 1n, 'USD')).toBe('ACCOUNT_CLOSED');
    expect(checkMovement(funded, { ...other, closed: true }, 1n, 'USD')).toBe('ACCOUNT_CLOSED');
  });

  it('refuses zero, negative and over-maximum amounts', () => {
    expect(checkMovement(issuance, other, 0n, 'USD')).toBe('AMOUNT_INVALID');
    expect(checkMovement(issuance, other, -1n, 'USD')).toBe('AMOUNT_INVALID');
    expect(checkMovement(issuance, other, MAX_AMOUNT_MINOR + 1n, 'USD')).toBe('AMOUNT_INVALID');
  });

  it('refuses a wallet spending more than its available balance, counting what is held', () => {
    expect(checkMovement(funded, other, 801n, 'USD')).toBe('INSUFFICIENT_FUNDS');
    expect(checkMovement(other, funded, 1n, 'USD')).toBe('INSUFFICIENT_FUNDS');
  });

  it('refuses a movement that would take any counter it grows past 2^63 − 1 minor units', () => {
    const full = account('full', 'wallet', { creditsPosted: MAX_AMOUNT_MINOR });
    const drained = account('drained', 'issuance', { debitsPosted: MAX_AMOUNT_MINOR - 10n });
    expect(checkMovement(issuance, full, 1n, 'USD')).toBe('AMOUNT_INVALID');
    expect(checkMovement(drained, other, 11n, 'USD')).toBe('AMOUNT_INVALID');
    expect(checkMovement(drained, other, 10n, 'USD')).toBeUndefined();
    // A wallet that received the maximum can still spend all of it.
    expect(checkMovement(full, other, MAX_AMOUNT_MINOR, 'USD')).toBeUndefined();
  });

  it('lets a system account go negative', () => {
    expect(checkMovement(issuance, other, MAX_AMOUNT_MINOR, 'USD')).toBeUndefined();
  });
});

// A tiny ledger that writes transfers the way the service does, to build clean histories.
class History {
  readonly accounts = new Map<string, Account>();
  readonly transfers: Transfer[] = [];
  private seq = 0;

  constructor(accounts: Account[]) {
    for (const a of accounts) this.accounts.set(a.id, a);
  }

  private write(kind: TransferKind, debitId: string, creditId: string, amountMinor: bigint, extra: Partial<Transfer> = {}, heldMinor = 0n): Transfer {
    this.seq += 1;
    const debit = this.accounts.get(debitId)!;
    const t: Transfer = {
      id: `t${String(this.seq).padStart(4, '0')}`,
      ref: `ref-${this.seq}`,
      kind,
      debitAccountId: debitId,
      creditAccountId: creditId,
      currency: debit.currency,
      amountMinor,
      holdId: null,
      holdStatus: null,
      owner: 'test',
      expiresAtMs: null,
      batchId: `batch-${this.seq}`,
      memo: '',
      createdAtMs: this.seq,
      ...extra,
    };
    const [d, c] = postingOf(kind, amountMinor, heldMinor);
    this.accounts.set(debitId, { ...debit, ...addBalances(debit, d) });
    const credit = this.accounts.get(creditId)!;
    this.accounts.set(creditId, { ...credit, ...addBalances(credit, c) });
    this.transfers.push(t);
    return t;
  }

  post(debitId: string, creditId: string, amountMinor: bigint): Transfer {
    return this.write('posted', debitId, creditId, amountMinor);
  }

  hold(walletId: string, escrowId: string, amountMinor: bigint): Transfer {
    return this.write('hold', walletId, escrowId, amountMinor, { holdStatus: 'pending' });
  }

  capture(hold: Transfer, toId: string, amountMinor: bigint): void {
    this.write('capture', hold.debitAccountId, hold.creditAccountId, amountMinor, { holdId: hold.id }, hold.amountMinor);
    hold.holdStatus = 'captured';
    this.post(hold.creditAccountId, toId, amountMinor);
  }

  release(hold: Transfer, kind: 'release' | 'expire' = 'release'): void {
    this.write(kind, hold.debitAccountId, hold.creditAccountId, hold.amountMinor, { holdId: hold.id }, hold.amountMinor);
    hold.holdStatus = kind === 'release' ? 'released' : 'expired';
  }

  list(): Account[] {
    return [...this.accounts.values()];
  }
}

/** Wallets a and b, escrow and issuance in USD; one JPY wallet; holds in every state. */
function cleanHistory(): { h: History; pending: Transfer } {
  const h = new History([
    account('a', 'wallet'),
    account('b', 'wallet'),
    account('escrow', 'escrow'),
    account('issuance', 'issuance'),
    account('jpy-wallet', 'wallet', { currency: 'JPY' }),
    account('jpy-issuance', 'issuance', { currency: 'JPY' }),
  ]);
  h.post('issuance', 'a', 10_000n);
  h.post('jpy-issuance', 'jpy-wallet', 500n);
  h.post('a', 'b', 1_000n);
  const captured = h.hold('a', 'escrow', 3_000n);
  h.capture(captured, 'b', 2_000n);
  const released = h.hold('a', 'escrow', 1_000n);
  h.release(released);
  const expired = h.hold('b', 'escrow', 500n);
  h.release(expired, 'expire');
  const pending = h.hold('a', 'escrow', 2_500n);
  h.post('b', 'issuance', 100n);
  return { h, pending };
}

const rules = (accounts: Account[], transfers: Transfer[]) => checkInvariants(accounts, transfers).map((v) => v.rule);

describe('checkInvariants', () => {
  it('finds nothing wrong with a clean history of transfers and holds in every state', () => {
    const { h } = cleanHistory();
    expect(checkInvariants(h.list(), h.transfers)).toEqual([]);
    expect(() => assertBalanced([])).not.toThrow();
    // The fold agrees with what a holder would expect to see.
    expect(walletBalances(h.accounts.get('a')!)).toEqual({ posted: 7_000n, held: 2_500n, available: 4_500n });
    expect(walletBalances(h.accounts.get('b')!)).toEqual({ posted: 2_900n, held: 0n, available: 2_900n });
  });

  it('finds nothing wrong with no accounts and no transfers', () => {
    expect(checkInvariants([], [])).toEqual([]);
  });

  it('detects an account counter that does not equal the sum of its transfers', () => {
    const { h } = cleanHistory();
    for (const field of ['debitsPending', 'debitsPosted', 'creditsPending', 'creditsPosted'] as const) {
      const accounts = h.list().map((a) => (a.id === 'b' ? { ...a, [field]: a[field] + 1n } : a));
      const violations = checkInvariants(accounts, h.transfers);
      expect(violations.find((v) => v.rule === 'balances-equal-transfers')?.detail, field).toContain('account b');
    }
  });

  it('detects a currency whose posted debits do not equal its posted credits', () => {
    const { h } = cleanHistory();
    // A transfer that credited one side only: both the fold and the totals disagree.
    const accounts = h.list().map((a) => (a.id === 'jpy-wallet' ? { ...a, creditsPosted: a.creditsPosted + 7n } : a));
    const violations = checkInvariants(accounts, h.transfers);
    expect(violations.map((v) => v.rule)).toContain('posted-debits-equal-credits');
    expect(violations.find((v) => v.rule === 'posted-debits-equal-credits')!.detail).toMatch(/^JPY:/);
    expect(violations.some((v) => v.rule === 'posted-debits-equal-credits' && v.detail.startsWith('USD'))).toBe(false);
  });

  it('detects a currency whose pending debits do not equal its pending credits', () => {
    const { h } = cleanHistory();
    const accounts = h.list().map((a) => (a.id === 'escrow' ? { ...a, creditsPending: a.creditsPending - 1n } : a));
    expect(rules(accounts, h.transfers)).toContain('pending-debits-equal-credits');
  });

  it('detects an overdrawn wallet even when its counters match its transfers', () => {
    const h = new History([account('a', 'wallet'), account('b', 'wallet'), account('issuance', 'issuance')]);
    h.post('issuance', 'a', 100n);
    h.post('a', 'b', 150n); // what checkMovement would have refused
    const violations = checkInvariants(h.list(), h.transfers);
    expect(violations).toEqual([{ rule: 'no-overdraft', detail: expect.stringContaining('wallet a is overdrawn: available -50') }]);
  });

  it('does not call a negative system account overdrawn', () => {
    const h = new History([account('a', 'wallet'), account('issuance', 'issuance')]);
    h.post('issuance', 'a', 100n);
    expect(h.accounts.get('issuance')!.debitsPosted).toBe(100n);
    expect(checkInvariants(h.list(), h.transfers)).toEqual([]);
  });

  it('detects a pending hold that is not counted in its account pending debits', () => {
    const { h, pending } = cleanHistory();
    // The hold says pending but was settled without a settling transfer (its status lies).
    const orphan = { ...pending, holdStatus: 'released' as const };
    const transfers = h.transfers.map((t) => (t.id === pending.id ? orphan : t));
    const violations = checkInvariants(h.list(), transfers);
    expect(violations).toEqual([{ rule: 'holds-match-pending', detail: expect.stringContaining('account a: pending holds 0 ≠ pending debits 2500') }]);
  });

  it('detects a hold counted in pending debits but marked as settled, and one still pending after settlement', () => {
    const { h } = cleanHistory();
    const captured = h.transfers.find((t) => t.kind === 'hold' && t.holdStatus === 'captured')!;
    const transfers = h.transfers.map((t) => (t.id === captured.id ? { ...t, holdStatus: 'pending' as const } : t));
    expect(rules(h.list(), transfers)).toEqual(['holds-match-pending']);
  });

  it('detects a settling transfer that refers to a hold that does not exist', () => {
    const { h } = cleanHistory();
    const capture = h.transfers.find((t) => t.kind === 'capture')!;
    const transfers = h.transfers.map((t) => (t.id === capture.id ? { ...t, holdId: 'nope' } : t));
    expect(rules(h.list(), transfers)).toContain('settles-a-hold');
  });

  it('detects a transfer deleted from the history', () => {
    const { h } = cleanHistory();
    const transfers = h.transfers.filter((t) => !(t.kind === 'posted' && t.debitAccountId === 'a' && t.creditAccountId === 'b'));
    const found = checkInvariants(h.list(), transfers).filter((v) => v.rule === 'balances-equal-transfers');
    expect(found.map((v) => v.detail.split(' ')[1]).sort()).toEqual(['a', 'b']);
  });

  it('assertBalanced stops on any violation', () => {
    expect(() => assertBalanced([{ rule: 'no-overdraft', detail: 'x' }])).toThrow(/ledger invariants/);
  });
});
