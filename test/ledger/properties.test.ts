// Property test: random sequences of ledger operations, driven by a seeded PRNG, applied both
// to LedgerService and to a small reference model written here from the rules in
// docs/ledger.md. After the run (and every CHECK_EVERY operations) the ledger's own check
// finds no violation, every account's four counters equal the model's, and every hold's
// status is the model's. Every refusal must be the one the model predicts, down to the
// index of the failing operation in a linked batch.
//
// Reproduce a failure with the seed it prints: GAVEL_PROPERTY_SEED=<seed> npx vitest run test/ledger/properties.test.ts
import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import type { Principal } from '../../src/platform/auth/principal.js';
import { MAX_AMOUNT_MINOR } from '../../src/platform/money.js';
import { ZERO_BALANCES, type Account, type Balances, type HoldStatus, type LedgerFailure, type SystemAccount, type Transfer, type TransferKind } from '../../src/ledger/model.js';
import { LedgerError, type LedgerOp } from '../../src/ledger/service.js';
import { LedgerStore } from '../../src/ledger/store.js';
import type { Dialect } from '../../src/platform/db/database.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { mulberry32 } from '../support/random.js';

class Random {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[this.int(items.length)]!;
  }
  /** 1..max inclusive. */
  amount(max: bigint): bigint {
    if (max < 1n) return 1n;
    const n = max > 1_000_000_000n ? 1_000_000_000n : max;
    return 1n + BigInt(this.int(Number(n)));
  }
}

// --- the reference model -----------------------------------------------------------------

interface AccountInfo {
  id: string;
  currency: string;
  kind: 'wallet' | SystemAccount;
  noOverdraft: boolean;
}

interface ModelHold {
  id: string;
  accountId: string;
  escrowId: string;
  currency: string;
  amountMinor: bigint;
  expiresAtMs: number | null;
  status: HoldStatus;
}

/** What a successful ref wrote first, to tell an idempotent repeat from a conflicting one. */
interface RefRecord {
  kind: TransferKind;
  debitAccountId: string;
  creditAccountId: string;
  currency: string;
  amountMinor: bigint;
  holdId: string | null;
  transferId: string;
}

type Outcome = { ok: true; model: Model; repeats: (string | null)[] } | { ok: false; index: number; failure: LedgerFailure };

class Model {
  constructor(
    readonly info: ReadonlyMap<string, AccountInfo>,
    readonly escrowOf: ReadonlyMap<string, string>,
    readonly balances = new Map<string, Balances>(),
    readonly holds = new Map<string, ModelHold>(),
    readonly refs = new Map<string, RefRecord>(),
  ) {}

  clone(): Model {
    return new Model(this.info, this.escrowOf, new Map(this.balances), new Map([...this.holds].map(([k, h]) => [k, { ...h }])), new Map(this.refs));
  }

  balance(id: string): Balances {
    return this.balances.get(id) ?? ZERO_BALANCES;
  }

  available(id: string): bigint {
    const b = this.balance(id);
    return b.creditsPosted - b.debitsPosted - b.debitsPending;
  }

  private add(id: string, d: Partial<Balances>): void {
    const b = this.balance(id);
    this.balances.set(id, {
      debitsPending: b.debitsPending + (d.debitsPending ?? 0n),
      debitsPosted: b.debitsPosted + (d.debitsPosted ?? 0n),
      creditsPending: b.creditsPending + (d.creditsPending ?? 0n),
      creditsPosted: b.creditsPosted + (d.creditsPosted ?? 0n),
    });
  }

  private movementFailure(debitId: string, creditId: string, amountMinor: bigint, currency: string): LedgerFailure | undefined {
    const debit = this.info.get(debitId);
    const credit = this.info.get(creditId);
    if (!debit || !credit) return 'ACCOUNT_NOT_FOUND';
    if (debitId === creditId) return 'SAME_ACCOUNT';
    if (debit.currency !== currency || credit.currency !== currency) return 'CURRENCY_MISMATCH';
    if (amountMinor <= 0n || amountMinor > MAX_AMOUNT_MINOR) return 'AMOUNT_INVALID';
    if (debit.noOverdraft && this.available(debitId) < amountMinor) return 'INSUFFICIENT_FUNDS';
    const [d, c] = [this.balance(debitId), this.balance(creditId)];
    for (const counter of [d.debitsPosted, d.debitsPending, c.creditsPosted, c.creditsPending]) if (counter + amountMinor > MAX_AMOUNT_MINOR) return 'AMOUNT_INVALID';
    return undefined;
  }

  private static same(r: RefRecord, op: LedgerOp): boolean {
    switch (op.type) {
      case 'transfer':
        return r.kind === 'posted' && r.debitAccountId === op.debitAccountId && r.creditAccountId === op.creditAccountId && r.amountMinor === op.amountMinor && r.currency === op.currency;
      case 'hold':
        return r.kind === 'hold' && r.debitAccountId === op.accountId && r.amountMinor === op.amountMinor && r.currency === op.currency;
      case 'capture':
        return r.kind === 'capture' && r.holdId === op.holdId && (op.amountMinor === undefined || r.amountMinor === op.amountMinor);
      case 'release':
        return (r.kind === 'release' || r.kind === 'expire') && r.holdId === op.holdId;
    }
  }

  /** Applies one op to this model; returns a failure, or the id of the repeated transfer, or null for a new one. */
  private apply(op: LedgerOp, nowMs: number, transferId: string): LedgerFailure | { repeat: string | null } {
    const seen = this.refs.get(op.ref);
    if (seen) return Model.same(seen, op) ? { repeat: seen.transferId } : 'REF_EXISTS_WITH_DIFFERENT_DATA';

    if (op.type === 'transfer' || op.type === 'hold') {
      const debitId = op.type === 'transfer' ? op.debitAccountId : op.accountId;
      const creditId = op.type === 'transfer' ? op.creditAccountId : this.escrowOf.get(op.currency)!;
      const failure = this.movementFailure(debitId, creditId, op.amountMinor, op.currency);
      if (failure) return failure;
      if (op.type === 'transfer') {
        this.add(debitId, { debitsPosted: op.amountMinor });
        this.add(creditId, { creditsPosted: op.amountMinor });
      } else {
        this.add(debitId, { debitsPending: op.amountMinor });
        this.add(creditId, { creditsPending: op.amountMinor });
        this.holds.set(transferId, { id: transferId, accountId: debitId, escrowId: creditId, currency: op.currency, amountMinor: op.amountMinor, expiresAtMs: op.expiresAtMs ?? null, status: 'pending' });
      }
      this.refs.set(op.ref, { kind: op.type === 'transfer' ? 'posted' : 'hold', debitAccountId: debitId, creditAccountId: creditId, currency: op.currency, amountMinor: op.amountMinor, holdId: null, transferId });
      return { repeat: null };
    }

    const hold = this.holds.get(op.holdId ?? "");
    if (!hold) return 'HOLD_NOT_FOUND';
    if (hold.status !== 'pending') return 'HOLD_NOT_PENDING';
    const record = { debitAccountId: hold.accountId, creditAccountId: hold.escrowId, currency: hold.currency, holdId: hold.id, transferId };
    if (op.type === 'release') {
      this.unhold(hold);
      hold.status = 'released';
      this.refs.set(op.ref, { ...record, kind: 'release', amountMinor: hold.amountMinor });
      return { repeat: null };
    }
    if (hold.expiresAtMs !== null && hold.expiresAtMs <= nowMs) return 'HOLD_EXPIRED';
    const amountMinor = op.amountMinor ?? hold.amountMinor;
    if (amountMinor <= 0n) return 'AMOUNT_INVALID';
    if (amountMinor > hold.amountMinor) return 'CAPTURE_EXCEEDS_HOLD';
    const failure = this.movementFailure(hold.escrowId, op.toAccountId, amountMinor, hold.currency);
    if (failure) return failure;
    this.unhold(hold);
    this.add(hold.accountId, { debitsPosted: amountMinor });
    this.add(hold.escrowId, { creditsPosted: amountMinor });
    // ...and escrow passes it on.
    this.add(hold.escrowId, { debitsPosted: amountMinor });
    this.add(op.toAccountId, { creditsPosted: amountMinor });
    hold.status = 'captured';
    this.refs.set(op.ref, { ...record, kind: 'capture', amountMinor });
    return { repeat: null };
  }

  private unhold(hold: ModelHold): void {
    this.add(hold.accountId, { debitsPending: -hold.amountMinor });
    this.add(hold.escrowId, { creditsPending: -hold.amountMinor });
  }

  /** The outcome of a linked batch, all or nothing; `ids` are the transfers the ledger returned. */
  simulate(ops: readonly LedgerOp[], nowMs: number, ids?: readonly string[]): Outcome {
    const next = this.clone();
    const repeats: (string | null)[] = [];
    for (let i = 0; i < ops.length; i++) {
      const result = next.apply(ops[i]!, nowMs, ids?.[i] ?? `not-yet-written:${i}`);
      if (typeof result === 'string') return { ok: false, index: i, failure: result };
      repeats.push(result.repeat);
    }
    return { ok: true, model: next, repeats };
  }

  /** The expiry sweep: every pending hold whose time ran out is released. */
  expire(nowMs: number): number {
    let count = 0;
    for (const hold of this.holds.values()) {
      if (hold.status !== 'pending' || hold.expiresAtMs === null || hold.expiresAtMs > nowMs) continue;
      this.unhold(hold);
      hold.status = 'expired';
      count += 1;
    }
    return count;
  }

  replaceWith(other: Model): void {
    for (const map of ['balances', 'holds', 'refs'] as const) {
      (this[map] as Map<string, unknown>).clear();
      for (const [k, v] of other[map]) (this[map] as Map<string, unknown>).set(k, v);
    }
  }
}

// --- the run -----------------------------------------------------------------------------

const json = (value: unknown) => JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

interface World {
  t: TestNode;
  clock: ManualClock;
  admin: Principal;
  store: LedgerStore;
  wallets: AccountInfo[];
  system: AccountInfo[];
  model: Model;
}

async function buildWorld(t: TestNode, clock: ManualClock): Promise<World> {
  const ledger = t.node.ledger.service;
  const admin = (await t.node.accounts.service.authenticate(await t.adminToken(), clock.nowMs()))!;
  expect(admin.roles).toContain('admin');
  const info = new Map<string, AccountInfo>();
  const escrowOf = new Map<string, string>();
  const wallets: AccountInfo[] = [];
  const system: AccountInfo[] = [];
  for (const [currency, count] of [['USD', 4], ['JPY', 2]] as const) {
    for (let i = 0; i < count; i++) {
      const { account } = await ledger.openWallet(randomUUID(), currency);
      const a: AccountInfo = { id: account.id, currency, kind: 'wallet', noOverdraft: true };
      info.set(a.id, a);
      wallets.push(a);
    }
    for (const kind of ['issuance', 'house_revenue', 'provider_clearing', 'escrow'] as const) {
      const account = await ledger.systemAccount(kind, currency);
      const a: AccountInfo = { id: account.id, currency, kind, noOverdraft: false };
      info.set(a.id, a);
      system.push(a);
      if (kind === 'escrow') escrowOf.set(currency, a.id);
    }
  }
  const store = new LedgerStore(t.node.database);
  // A fresh node: nothing has moved yet.
  for (const a of await store.listAllAccounts(store.db)) expect(a, a.id).toMatchObject(ZERO_BALANCES);
  return { t, clock, admin, store, wallets, system, model: new Model(info, escrowOf) };
}

class Generator {
  private counter = 0;
  /** The op first written under each successful ref, for exact and altered repeats. */
  readonly written = new Map<string, LedgerOp>();
  readonly failedRefs: string[] = [];

  constructor(
    private readonly rnd: Random,
    private readonly w: World,
  ) {}

  ref(): string {
    this.counter += 1;
    return `prop:${this.rnd.seed}:${this.counter}`;
  }

  private system(kind: SystemAccount, currency: string): AccountInfo {
    return this.w.system.find((a) => a.kind === kind && a.currency === currency)!;
  }

  /** Mostly within what the wallet has; sometimes all of it, more than it, or zero. */
  private amountFor(accountId: string): bigint {
    const avail = this.w.model.available(accountId);
    const r = this.rnd.float();
    if (r < 0.12) return (avail > 0n ? avail : 0n) + this.rnd.amount(500n);
    if (r < 0.22 && avail > 0n) return avail;
    if (r < 0.25) return 0n;
    return this.rnd.amount(avail > 0n ? avail : 100n);
  }

  /** A destination in the account's currency, now and then one that must be refused. */
  private destination(currency: string, not: string): string {
    const r = this.rnd.float();
    if (r < 0.03) return not; // SAME_ACCOUNT
    if (r < 0.06) return this.rnd.pick(this.w.wallets.filter((a) => a.currency !== currency)).id; // CURRENCY_MISMATCH
    if (r < 0.08) return randomUUID(); // ACCOUNT_NOT_FOUND
    if (r < 0.3) return this.system(this.rnd.pick(['house_revenue', 'provider_clearing', 'issuance'] as const), currency).id;
    return this.rnd.pick(this.w.wallets.filter((a) => a.currency === currency && a.id !== not)).id;
  }

  fund(): LedgerOp {
    const wallet = this.rnd.pick(this.w.wallets);
    const amountMinor = this.rnd.amount(wallet.currency === 'JPY' ? 50_000n : 500_000n);
    const from = this.system(this.rnd.chance(0.7) ? 'issuance' : 'provider_clearing', wallet.currency);
    return { type: 'transfer', ref: this.ref(), debitAccountId: from.id, creditAccountId: wallet.id, currency: wallet.currency, amountMinor, owner: 'prop:fund' };
  }

  pay(): LedgerOp {
    const wallet = this.rnd.pick(this.w.wallets);
    return { type: 'transfer', ref: this.ref(), debitAccountId: wallet.id, creditAccountId: this.destination(wallet.currency, wallet.id), currency: wallet.currency, amountMinor: this.amountFor(wallet.id), owner: 'prop:pay' };
  }

  hold(): LedgerOp {
    const wallet = this.rnd.pick(this.w.wallets);
    const expiresAtMs = this.rnd.chance(0.5) ? null : this.w.clock.nowMs() + 1 + this.rnd.int(5_000);
    return { type: 'hold', ref: this.ref(), accountId: wallet.id, currency: wallet.currency, amountMinor: this.amountFor(wallet.id), owner: 'prop:hold', expiresAtMs };
  }

  /** A hold to settle: mostly a pending one, sometimes a settled one, rarely none at all. */
  private holdId(): string {
    const holds = [...this.w.model.holds.values()];
    const pending = holds.filter((h) => h.status === 'pending');
    const r = this.rnd.float();
    if (r < 0.04 || holds.length === 0) return randomUUID(); // HOLD_NOT_FOUND
    if (r < 0.8 && pending.length > 0) return this.rnd.pick(pending).id;
    return this.rnd.pick(holds).id;
  }

  capture(): LedgerOp {
    const holdId = this.holdId();
    const hold = this.w.model.holds.get(holdId);
    const currency = hold?.currency ?? 'USD';
    const r = this.rnd.float();
    const amountMinor = !hold || r < 0.4 ? undefined : r < 0.85 ? this.rnd.amount(hold.amountMinor) : r < 0.95 ? hold.amountMinor + 1n : 0n;
    const toAccountId = this.rnd.chance(0.03) ? this.w.model.escrowOf.get(currency)! : this.destination(currency, hold?.accountId ?? '');
    return { type: 'capture', ref: this.ref(), holdId, toAccountId, ...(amountMinor !== undefined && { amountMinor }) };
  }

  release(): LedgerOp {
    return { type: 'release', ref: this.ref(), holdId: this.holdId() };
  }

  /** A ref used before: the same op again, or different data under it. */
  repeat(): LedgerOp | undefined {
    if (this.written.size === 0) return undefined;
    const [ref, op] = this.rnd.pick([...this.written]);
    if (this.rnd.chance(0.6)) return op;
    const other = this.single();
    return { ...other, ref };
  }

  /** A ref whose op was refused is free: a new op may take it. */
  reuseFailed(): LedgerOp | undefined {
    if (this.failedRefs.length === 0) return undefined;
    return { ...this.single(), ref: this.rnd.pick(this.failedRefs) };
  }

  single(): LedgerOp {
    const r = this.rnd.float();
    if (r < 0.22) return this.fund();
    if (r < 0.45) return this.pay();
    if (r < 0.7) return this.hold();
    if (r < 0.88) return this.capture();
    return this.release();
  }

  /** 2–4 ops written together; often the last must fail, so nothing may be written. */
  batch(): LedgerOp[] {
    const ops = Array.from({ length: 1 + this.rnd.int(3) }, () => this.single());
    if (this.rnd.chance(0.4)) ops.push(this.failing());
    else ops.push(this.single());
    return ops;
  }

  /** An op that cannot succeed: an overdraft, a hold settled twice, or a hold that does not exist. */
  private failing(): LedgerOp {
    const r = this.rnd.float();
    const wallet = this.rnd.pick(this.w.wallets);
    if (r < 0.5) {
      // More than the wallet could have even after the batch's funding.
      const amountMinor = this.w.model.available(wallet.id) + 10_000_000n;
      return { type: 'transfer', ref: this.ref(), debitAccountId: wallet.id, creditAccountId: this.system('house_revenue', wallet.currency).id, currency: wallet.currency, amountMinor, owner: 'prop:doomed' };
    }
    const settled = [...this.w.model.holds.values()].filter((h) => h.status !== 'pending');
    if (r < 0.8 && settled.length > 0) return { type: 'release', ref: this.ref(), holdId: this.rnd.pick(settled).id };
    return { type: 'capture', ref: this.ref(), holdId: randomUUID(), toAccountId: wallet.id };
  }
}

async function compareWithModel(w: World, label: string): Promise<void> {
  const check = await w.t.node.ledger.service.check(w.admin);
  expect(check.violations, `${label}: ledger check`).toEqual([]);
  const stored = await w.store.listAllAccounts(w.store.db);
  for (const account of stored) {
    const expected = w.model.balance(account.id);
    const actual = { debitsPending: account.debitsPending, debitsPosted: account.debitsPosted, creditsPending: account.creditsPending, creditsPosted: account.creditsPosted };
    expect(actual, `${label}: account ${account.id} (${account.kind} ${account.currency})`).toEqual(expected);
    if (account.noOverdraft) expect(w.model.available(account.id) >= 0n, `${label}: ${account.id} overdrawn`).toBe(true);
  }
  for (const hold of w.model.holds.values()) {
    const row = await w.store.findTransfer(w.store.db, hold.id);
    expect(row?.holdStatus, `${label}: hold ${hold.id}`).toBe(hold.status);
  }
  await compareHistories(w, stored, label);
}

/**
 * Every account's statement, read page by page along its history chain, holds exactly the
 * transfers on either side of it, each once, newest first (never an older one before a newer).
 */
async function compareHistories(w: World, accounts: readonly Account[], label: string): Promise<void> {
  const all = await w.store.listAllTransfers(w.store.db);
  for (const account of accounts) {
    const listed: Transfer[] = [];
    let cursor: string | undefined;
    do {
      const page = await w.t.node.ledger.service.history(account, { limit: 7, ...(cursor !== undefined && { cursor }) });
      listed.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    const ids = listed.map((t) => t.id);
    expect(new Set(ids).size, `${label}: ${account.id}'s statement lists a transfer twice`).toBe(ids.length);
    const expected = all.filter((t) => t.debitAccountId === account.id || t.creditAccountId === account.id).map((t) => t.id);
    expect([...ids].sort(), `${label}: ${account.id}'s statement`).toEqual(expected.sort());
    listed.forEach((t, i) => i > 0 && expect(t.createdAtMs, `${label}: ${account.id}'s statement order`).toBeLessThanOrEqual(listed[i - 1]!.createdAtMs));
  }
}

/** Runs one op list through the ledger and the model; asserts they agree on the outcome. */
async function step(w: World, gen: Generator, ops: LedgerOp[], log: string[]): Promise<boolean> {
  const nowMs = w.clock.nowMs();
  const expected = w.model.simulate(ops, nowMs);
  log.push(`${ops.length > 1 ? 'batch ' : ''}${json(ops)} → expect ${expected.ok ? 'ok' : `${expected.failure}@${expected.index}`}`);
  let written: Transfer[] | undefined;
  let error: unknown;
  try {
    written = await w.t.node.ledger.service.execute(ops);
  } catch (e) {
    error = e;
  }
  if (!expected.ok) {
    expect(error, `expected ${expected.failure} at op ${expected.index}`).toBeInstanceOf(LedgerError);
    expect({ failure: (error as LedgerError).failure, index: (error as LedgerError).opIndex }).toEqual({ failure: expected.failure, index: expected.index });
    for (const op of ops) if (!w.model.refs.has(op.ref)) gen.failedRefs.push(op.ref);
    return false;
  }
  if (error) throw error;
  expect(written).toHaveLength(ops.length);
  const outcome = w.model.simulate(ops, nowMs, written!.map((t) => t.id));
  if (!outcome.ok) throw new Error('the model disagrees with itself');
  outcome.repeats.forEach((repeatOf, i) => {
    // A repeat answers the transfer written the first time; a new op, a new transfer of its kind.
    if (repeatOf !== null) expect(written![i]!.id, `op ${i} repeats a ref`).toBe(repeatOf);
    else {
      const kind = { transfer: 'posted', hold: 'hold', capture: 'capture', release: 'release' }[ops[i]!.type];
      expect(written![i]!.kind, `op ${i}`).toBe(kind);
      expect(written![i]!.ref).toBe(ops[i]!.ref);
      if (!gen.written.has(ops[i]!.ref)) gen.written.set(ops[i]!.ref, ops[i]!);
    }
  });
  w.model.replaceWith(outcome.model);
  return true;
}

async function sweep(w: World, advanceMs: number, log: string[]): Promise<void> {
  w.clock.advance(advanceMs);
  const nowMs = w.clock.nowMs();
  const expected = w.model.expire(nowMs);
  log.push(`sweep at ${nowMs} → expect ${expected} expired`);
  expect(await w.t.node.ledger.service.expireHolds()).toBe(expected);
}

async function run(w: World, seed: number, operations: number, checkEvery: number): Promise<{ ok: number; refused: number }> {
  const rnd = new Random(seed);
  const gen = new Generator(rnd, w);
  const log: string[] = [];
  const counts = { ok: 0, refused: 0 };
  try {
    for (let n = 1; n <= operations; n++) {
      const r = rnd.float();
      if (r < 0.08) await sweep(w, rnd.int(3_000), log);
      else {
        if (r < 0.16) w.clock.advance(rnd.int(1_500));
        const ops = r < 0.22 ? gen.batch() : r < 0.3 ? [gen.repeat() ?? gen.single()] : r < 0.33 ? [gen.reuseFailed() ?? gen.single()] : [gen.single()];
        if (await step(w, gen, ops, log)) counts.ok += 1;
        else counts.refused += 1;
      }
      if (n % checkEvery === 0) await compareWithModel(w, `after ${n} operations`);
    }
    // Finally time runs past every expiry, and the sweep releases whatever is still pending.
    await sweep(w, 10_000, log);
    expect([...w.model.holds.values()].filter((h) => h.status === 'pending' && h.expiresAtMs !== null)).toEqual([]);
    await compareWithModel(w, `at the end (${operations} operations)`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const detail = `property run failed with seed ${seed} (GAVEL_PROPERTY_SEED=${seed} reproduces it)\nlast operations:\n  ${log.slice(-8).join('\n  ')}\n${message}`;
    throw Object.assign(error instanceof Error ? error : new Error(message), { message: detail });
  }
  return counts;
}

const FIXED_SEED = 20240611;
const chosenSeed = process.env.GAVEL_PROPERTY_SEED ? Number(process.env.GAVEL_PROPERTY_SEED) : undefined;
const freshSeed = () => chosenSeed ?? Math.floor(Math.random() * 2 ** 31);

const PLAN: Record<Dialect, { seeds: number[]; operations: number; checkEvery: number }> = {
  sqlite: { seeds: [chosenSeed ?? FIXED_SEED, freshSeed()], operations: 300, checkEvery: 50 },
  postgres: { seeds: [chosenSeed ?? FIXED_SEED, freshSeed()], operations: 120, checkEvery: 40 },
};

for (const dialect of DIALECTS) {
  describe(`ledger properties on ${dialect}`, () => {
    const plan = PLAN[dialect];
    for (const [i, seed] of plan.seeds.entries()) {
      it(`random operations (${i === 0 && seed === FIXED_SEED ? 'fixed seed' : 'fresh seed'}, ${plan.operations} ops) agree with the reference model and keep every invariant`, { timeout: 180_000 }, async () => {
        const clock = new ManualClock(Date.UTC(2030, 0, 1));
        // No worker role: the expiry sweep runs only when the test calls it.
        const t = await startTestNode(dialect, { roles: new Set(['api'] as const) }, { clock });
        onTestFinished(() => t.close());
        const w = await buildWorld(t, clock);
        const counts = await run(w, seed, plan.operations, plan.checkEvery);
        if (seed !== FIXED_SEED) return;
        // The fixed seed's run (the same every time) exercises every path: money moved, the
        // ledger refused what it must, and holds were captured and expired.
        expect(counts.ok, `seed ${seed}`).toBeGreaterThan(plan.operations / 5);
        expect(counts.refused, `seed ${seed}`).toBeGreaterThan(plan.operations / 20);
        expect([...w.model.holds.values()].some((h) => h.status === 'expired'), `seed ${seed}: some hold expired`).toBe(true);
        expect([...w.model.holds.values()].some((h) => h.status === 'captured'), `seed ${seed}: some hold captured`).toBe(true);
      });
    }
  });
}
