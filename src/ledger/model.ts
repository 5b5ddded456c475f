// The rules of the ledger, after TigerBeetle: accounts never change shape, transfers never
// change. Every movement is a transfer between two accounts of one currency; a hold is a
// pending transfer, and capturing or releasing it is a new transfer that refers to it.
// Pure: no storage, no clock.
import assert from 'node:assert/strict';
import { MAX_AMOUNT_MINOR } from '../platform/money.js';

// --- currencies -------------------------------------------------------------------------

export interface Currency {
  code: string;
  /** Digits after the decimal point: 2 for USD, 0 for JPY, 8 for an asset like BTC. */
  scale: number;
  name: string;
  kind: 'fiat' | 'asset';
}

/** ISO 4217 currencies with their minor-unit exponents. Assets are added by admins. */
export const ISO_CURRENCIES: readonly Currency[] = [
  { code: 'USD', scale: 2, name: 'US dollar', kind: 'fiat' },
  { code: 'EUR', scale: 2, name: 'Euro', kind: 'fiat' },
  { code: 'GBP', scale: 2, name: 'Pound sterling', kind: 'fiat' },
  { code: 'JPY', scale: 0, name: 'Japanese yen', kind: 'fiat' },
  { code: 'RUB', scale: 2, name: 'Russian ruble', kind: 'fiat' },
  { code: 'COP', scale: 2, name: 'Colombian peso', kind: 'fiat' },
  { code: 'MXN', scale: 2, name: 'Mexican peso', kind: 'fiat' },
  { code: 'CHF', scale: 2, name: 'Swiss franc', kind: 'fiat' },
  { code: 'CAD', scale: 2, name: 'Canadian dollar', kind: 'fiat' },
];

/** Asset codes: 2–12 upper-case letters and digits, starting with a letter, not an ISO code. */
export const ASSET_CODE_PATTERN = '^[A-Z][A-Z0-9]{1,11}$';
export const ASSET_SCALE_MAX = 18;

// --- accounts ---------------------------------------------------------------------------

/** System accounts, one per currency each. */
export const SYSTEM_ACCOUNTS = [
  'provider_clearing', // money held at the payment provider: top-ups come from here, payouts go here
  'house_revenue', // fees, commissions, exchange spreads
  'exchange_liquidity', // the house's side of currency exchange
  'escrow', // held funds between a hold and its capture
  'issuance', // asset issuance and admin adjustments
] as const;
export type SystemAccount = (typeof SYSTEM_ACCOUNTS)[number];

export interface Balances {
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
}

export interface Account extends Balances {
  id: string;
  currency: string;
  /** `wallet` for a user's wallet; otherwise the system account's name. */
  kind: 'wallet' | SystemAccount;
  ownerUserId: string | null;
  /** Wallets may never spend more than they hold; system accounts may go negative. */
  noOverdraft: boolean;
  closed: boolean;
}

export const ZERO_BALANCES: Balances = { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 0n };

/** What a wallet holder sees. */
export function walletBalances(b: Balances): { posted: bigint; held: bigint; available: bigint } {
  const posted = b.creditsPosted - b.debitsPosted;
  return { posted, held: b.debitsPending, available: posted - b.debitsPending };
}

/** available = posted credits − posted debits − pending debits. */
export function available(b: Balances): bigint {
  return b.creditsPosted - b.debitsPosted - b.debitsPending;
}

// --- transfers --------------------------------------------------------------------------

/**
 * posted: moves money now. hold: a pending transfer that reserves it. capture: posts all or
 * part of a hold (the rest is released with it). release: voids a hold. expire: a release
 * because the hold's time ran out.
 */
export type TransferKind = 'posted' | 'hold' | 'capture' | 'release' | 'expire';
export type HoldStatus = 'pending' | 'captured' | 'released' | 'expired';

export interface Transfer {
  id: string;
  /** The caller's reference: unique, it makes every operation idempotent. */
  ref: string;
  kind: TransferKind;
  debitAccountId: string;
  creditAccountId: string;
  currency: string;
  amountMinor: bigint;
  /** For capture, release, expire: the hold they settle. */
  holdId: string | null;
  /** For holds: pending until captured, released or expired. */
  holdStatus: HoldStatus | null;
  /** Who the money is for: `auction:…:bid:…`, `order:…`, `purchase:…`, `topup:…`. */
  owner: string;
  expiresAtMs: number | null;
  /** Transfers written together share a batch id. */
  batchId: string;
  memo: string;
  createdAtMs: number;
}

export type LedgerFailure =
  | 'INSUFFICIENT_FUNDS'
  | 'ACCOUNT_NOT_FOUND'
  | 'ACCOUNT_CLOSED'
  | 'CURRENCY_MISMATCH'
  | 'SAME_ACCOUNT'
  | 'AMOUNT_INVALID'
  | 'HOLD_NOT_FOUND'
  | 'HOLD_NOT_PENDING'
  | 'HOLD_EXPIRED'
  | 'CAPTURE_EXCEEDS_HOLD'
  | 'REF_EXISTS_WITH_DIFFERENT_DATA';

/** The balance changes a transfer makes: [debit account delta, credit account delta]. */
export function postingOf(kind: TransferKind, amountMinor: bigint, heldMinor: bigint): [Balances, Balances] {
  switch (kind) {
    case 'posted':
      return [{ ...ZERO_BALANCES, debitsPosted: amountMinor }, { ...ZERO_BALANCES, creditsPosted: amountMinor }];
    case 'hold':
      return [{ ...ZERO_BALANCES, debitsPending: amountMinor }, { ...ZERO_BALANCES, creditsPending: amountMinor }];
    case 'capture':
      // Posts `amountMinor` and releases the whole hold's pending amount at once.
      return [
        { ...ZERO_BALANCES, debitsPending: -heldMinor, debitsPosted: amountMinor },
        { ...ZERO_BALANCES, creditsPending: -heldMinor, creditsPosted: amountMinor },
      ];
    case 'release':
    case 'expire':
      return [{ ...ZERO_BALANCES, debitsPending: -heldMinor }, { ...ZERO_BALANCES, creditsPending: -heldMinor }];
  }
}

export function addBalances(a: Balances, d: Balances): Balances {
  return {
    debitsPending: a.debitsPending + d.debitsPending,
    debitsPosted: a.debitsPosted + d.debitsPosted,
    creditsPending: a.creditsPending + d.creditsPending,
    creditsPosted: a.creditsPosted + d.creditsPosted,
  };
}

/** Checks a new movement between two accounts; undefined when it may proceed. */
export function checkMovement(debit: Account | undefined, credit: Account | undefined, amountMinor: bigint, currency: string): LedgerFailure | undefined {
  if (!debit || !credit) return 'ACCOUNT_NOT_FOUND';
  if (debit.id === credit.id) return 'SAME_ACCOUNT';
  if (debit.currency !== currency || credit.currency !== currency) return 'CURRENCY_MISMATCH';
  if (debit.closed || credit.closed) return 'ACCOUNT_CLOSED';
  if (amountMinor <= 0n || amountMinor > MAX_AMOUNT_MINOR) return 'AMOUNT_INVALID';
  if (debit.noOverdraft && available(debit) < amountMinor) return 'INSUFFICIENT_FUNDS';
  // The counters only grow and storage holds 2^63 − 1 at most (PostgreSQL fails the update;
  // SQLite would silently turn the sum into a float): a movement that would pass it is refused.
  if (!counterFits(debit.debitsPosted, amountMinor) || !counterFits(debit.debitsPending, amountMinor)) return 'AMOUNT_INVALID';
  if (!counterFits(credit.creditsPosted, amountMinor) || !counterFits(credit.creditsPending, amountMinor)) return 'AMOUNT_INVALID';
  return undefined;
}

function counterFits(counterMinor: bigint, amountMinor: bigint): boolean {
  return counterMinor + amountMinor <= MAX_AMOUNT_MINOR;
}

// --- invariants -------------------------------------------------------------------------

export interface Violation {
  rule: string;
  detail: string;
}

/**
 * Recomputes what must always hold: every account's balances equal the fold of its
 * transfers; per currency, debits equal credits, posted and pending alike; no wallet is
 * overdrawn; every pending hold is counted in its account's pending debits.
 */
export function checkInvariants(accounts: readonly Account[], transfers: readonly Transfer[]): Violation[] {
  const violations: Violation[] = [];
  const folded = new Map<string, Balances>(accounts.map((a) => [a.id, ZERO_BALANCES]));
  const holds = new Map<string, Transfer>();
  for (const t of transfers) if (t.kind === 'hold') holds.set(t.id, t);
  for (const t of transfers) {
    const held = t.holdId ? holds.get(t.holdId)?.amountMinor : 0n;
    if (held === undefined) {
      violations.push({ rule: 'settles-a-hold', detail: `transfer ${t.id} refers to missing hold ${t.holdId}` });
      continue;
    }
    const [d, c] = postingOf(t.kind, t.amountMinor, held);
    folded.set(t.debitAccountId, addBalances(folded.get(t.debitAccountId) ?? ZERO_BALANCES, d));
    folded.set(t.creditAccountId, addBalances(folded.get(t.creditAccountId) ?? ZERO_BALANCES, c));
  }
  const totals = new Map<string, Balances>();
  for (const a of accounts) {
    const f = folded.get(a.id)!;
    if (f.debitsPending !== a.debitsPending || f.debitsPosted !== a.debitsPosted || f.creditsPending !== a.creditsPending || f.creditsPosted !== a.creditsPosted) {
      violations.push({ rule: 'balances-equal-transfers', detail: `account ${a.id} (${a.kind} ${a.currency}) does not equal the sum of its transfers` });
    }
    if (a.noOverdraft && available(a) < 0n) violations.push({ rule: 'no-overdraft', detail: `wallet ${a.id} is overdrawn: available ${available(a)}` });
    totals.set(a.currency, addBalances(totals.get(a.currency) ?? ZERO_BALANCES, a));
  }
  for (const [currency, t] of totals) {
    if (t.debitsPosted !== t.creditsPosted) violations.push({ rule: 'posted-debits-equal-credits', detail: `${currency}: debits ${t.debitsPosted} ≠ credits ${t.creditsPosted}` });
    if (t.debitsPending !== t.creditsPending) violations.push({ rule: 'pending-debits-equal-credits', detail: `${currency}: pending debits ${t.debitsPending} ≠ credits ${t.creditsPending}` });
  }
  const pendingByAccount = new Map<string, bigint>();
  for (const h of holds.values()) if (h.holdStatus === 'pending') pendingByAccount.set(h.debitAccountId, (pendingByAccount.get(h.debitAccountId) ?? 0n) + h.amountMinor);
  for (const a of accounts) {
    const expected = pendingByAccount.get(a.id) ?? 0n;
    if (expected !== a.debitsPending) violations.push({ rule: 'holds-match-pending', detail: `account ${a.id}: pending holds ${expected} ≠ pending debits ${a.debitsPending}` });
  }
  return violations;
}

/** For engines: a broken invariant is a bug and stops the process rather than corrupt money. */
export function assertBalanced(violations: readonly Violation[]): void {
  assert.deepEqual(violations, [], 'ledger invariants');
}
