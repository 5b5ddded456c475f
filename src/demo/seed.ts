// Demo data for a fresh node: the accounts, categories, lots, auctions, funded wallets and an
// exchange book of data.ts, created through the modules' services — the same use cases the
// API runs, with the same checks — never by writing their tables. Runs only on a database
// without users (the bootstrap admin of GAVEL_ADMIN_EMAIL aside), so a second start, or a
// real deployment, is never touched. See docs/demo.md.
import type { GavelNode } from '../gavel.js';
import type { Principal } from '../platform/auth/principal.js';
import { systemClock, type Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logging.js';
import { formatAmount } from '../platform/money.js';
import { SandboxProvider } from '../ledger/payments/sandbox-provider.js';
import {
  DEMO_ACCOUNTS,
  DEMO_ASSET,
  DEMO_ASSET_ISSUE,
  DEMO_CATEGORIES,
  DEMO_FUNDING,
  DEMO_INSTRUMENT,
  DEMO_LOTS,
  DEMO_ORDERS,
  DEMO_SYMBOL,
  demoAccount,
  type DemoAccount,
  type DemoLot,
} from './data.js';
import { demoPicture } from './png.js';

/** The address sign-ins made by the seed are recorded from (and rate-limited by). */
export const SEED_ADDRESS = 'demo-seed';
/** How long the seed waits for the engine to open an auction that starts now. */
const OPEN_WAIT_MS = 10_000;

export interface SeedOptions {
  /** GAVEL_ADMIN_EMAIL: that account alone does not make the database "used". */
  bootstrapAdminEmail?: string | undefined;
  clock?: Clock;
  /** Aborted on shutdown: the seed stops between steps. */
  signal?: AbortSignal;
  logger?: Logger;
}

export interface SeededAuction {
  id: string;
  title: string;
  kind: 'timed' | 'live';
  status: 'scheduled' | 'open';
  currency: string;
  bidCount: number;
}

export type SeedResult =
  | { seeded: false; reason: string }
  | { seeded: true; accounts: readonly DemoAccount[]; categories: number; auctions: SeededAuction[]; topups: number; orders: number; ledgerViolations: number };

/**
 * A principal for the one question asked before any account exists — "are there users?" —
 * which the accounts service answers to admins only. Used for nothing else.
 */
const SEED_SYSTEM: Principal = { userId: 'demo-seed', roles: ['admin'], sessionId: 'demo-seed' };

/** Why the node must not be seeded, or undefined when it may be. */
export async function reasonNotToSeed(node: GavelNode, bootstrapAdminEmail?: string): Promise<string | undefined> {
  const bootstrap = bootstrapAdminEmail?.trim().toLowerCase();
  const { items } = await node.accounts.service.listUsers(SEED_SYSTEM, { limit: 2 });
  const others = items.filter((u) => u.email.trim().toLowerCase() !== bootstrap);
  return others.length > 0 ? 'the database has users already' : undefined;
}

export async function seedDemo(node: GavelNode, options: SeedOptions = {}): Promise<SeedResult> {
  const reason = await reasonNotToSeed(node, options.bootstrapAdminEmail);
  if (reason) return { seeded: false, reason };
  return new Seeder(node, options).run();
}

class Seeder {
  private readonly clock: Clock;
  private readonly principals = new Map<string, Principal>();
  private readonly categoryIds = new Map<string, string>();
  private topups = 0;
  private orders = 0;

  constructor(
    private readonly node: GavelNode,
    private readonly options: SeedOptions,
  ) {
    this.clock = options.clock ?? systemClock;
  }

  private step(what: string): void {
    this.options.signal?.throwIfAborted();
    this.options.logger?.debug({ step: what }, 'demo seed');
  }

  async run(): Promise<SeedResult> {
    this.step('accounts');
    await this.createAccounts();
    this.step('categories');
    await this.createCategories();
    this.step('wallets');
    await this.fundWallets();
    this.step('exchange');
    await this.listInstrument();
    const auctions: SeededAuction[] = [];
    for (const lot of DEMO_LOTS) {
      this.step(`lot ${lot.title}`);
      auctions.push(await this.sell(lot));
    }
    this.step('order book');
    await this.buildBook();
    this.step('ledger check');
    const check = await this.node.ledger.service.check(this.as('admin'));
    if (check.violations.length > 0) this.options.logger?.error({ violations: check.violations }, 'demo seed: the ledger check found violations');
    return { seeded: true, accounts: DEMO_ACCOUNTS, categories: this.categoryIds.size, auctions, topups: this.topups, orders: this.orders, ledgerViolations: check.violations.length };
  }

  private as(handle: string): Principal {
    const principal = this.principals.get(handle);
    if (!principal) throw new Error(`demo seed: ${handle} has not signed in`);
    return principal;
  }

  // --- accounts: the bootstrap-admin path for the admin, then the admin creates the rest ----

  private async createAccounts(): Promise<void> {
    const accounts = this.node.accounts.service;
    const admin = demoAccount('admin');
    await accounts.ensureAdmin({ name: admin.name, email: admin.email, password: admin.password });
    this.principals.set('admin', await signIn(this.node, admin, this.clock, SEED_ADDRESS));
    for (const a of DEMO_ACCOUNTS) {
      if (a.handle === 'admin') continue;
      await accounts.createUser(this.as('admin'), { name: a.name, email: a.email, password: a.password, roles: a.roles });
      this.principals.set(a.handle, await signIn(this.node, a, this.clock, SEED_ADDRESS));
    }
  }

  private async createCategories(): Promise<void> {
    const catalog = this.node.catalog.service;
    for (const top of DEMO_CATEGORIES) {
      const parent = await catalog.createCategory(this.as('admin'), { name: top.name });
      this.categoryIds.set(top.name, parent.id);
      for (const child of top.children) {
        const placed = await catalog.createCategory(this.as('admin'), { name: child, parentId: parent.id });
        this.categoryIds.set(`${top.name} › ${child}`, placed.id);
      }
    }
  }

  // --- money: top-ups confirmed at the sandbox provider, ACME issued by the admin ----------

  /**
   * Each top-up runs as a person's would: Gavel starts it, the payer approves it on the
   * sandbox provider's page (here: the provider's own decide, what that page's button calls),
   * and the provider's signed webhook credits the wallet from the provider clearing account.
   */
  private async fundWallets(): Promise<void> {
    const payments = this.node.ledger.payments;
    const provider = payments.provider;
    if (!(provider instanceof SandboxProvider)) throw new Error('demo funding confirms top-ups at the built-in sandbox payment provider, and this node uses another');
    for (const a of DEMO_ACCOUNTS) {
      for (const { currency, amount } of DEMO_FUNDING[a.part] ?? []) {
        this.options.signal?.throwIfAborted();
        const me = this.as(a.handle);
        const topup = await payments.service.createTopup(me, currency, amount, `demo-seed:${a.handle}:${currency}`);
        if (topup.providerPaymentId === null) throw new Error(`demo seed: the top-up of ${a.handle} in ${currency} has no provider payment`);
        await provider.decide('payment', topup.providerPaymentId, 'approve');
        const after = await payments.service.topupFor(me, currency, topup.id);
        if (after.status !== 'succeeded') throw new Error(`demo seed: the ${currency} top-up of ${a.handle} is ${after.status}, not succeeded (was the webhook delivered?)`);
        this.topups += 1;
      }
    }
  }

  /**
   * ACME is listed as an asset and issued to the traders the way an admin's
   * `POST /api/ledger/adjustments` credit does it: a ledger transfer from the asset's issuance
   * account into the person's wallet, owned by the admin's adjustment.
   */
  private async listInstrument(): Promise<void> {
    const ledger = this.node.ledger.service;
    const admin = this.as('admin');
    await ledger.createAsset(admin, { ...DEMO_ASSET });
    const issuance = await ledger.systemAccount('issuance', DEMO_ASSET.code);
    for (const a of DEMO_ACCOUNTS.filter((x) => x.part === 'trader' || x.part === 'bot-trader')) {
      const user = this.as(a.handle);
      const { account } = await ledger.openWallet(user.userId, DEMO_ASSET.code);
      await ledger.transfer({
        ref: `adjustment:${admin.userId}:demo-issue:${user.userId}`,
        debitAccountId: issuance.id,
        creditAccountId: account.id,
        currency: DEMO_ASSET.code,
        amountMinor: DEMO_ASSET_ISSUE,
        owner: `adjustment:${admin.userId}`,
        memo: `demo: ${DEMO_ASSET_ISSUE} ${DEMO_ASSET.code} issued to ${a.name}`,
      });
    }
    await this.node.exchange.service.list(admin, { ...DEMO_INSTRUMENT });
  }

  private async buildBook(): Promise<void> {
    for (const [i, o] of DEMO_ORDERS.entries()) {
      await this.node.exchange.service.place(this.as(o.by), { symbol: DEMO_SYMBOL, side: o.side, type: 'limit', price: o.price, quantity: o.quantity, clientOrderId: `demo-seed-${i + 1}` });
      this.orders += 1;
    }
  }

  // --- lots and their sales -----------------------------------------------------------------

  private async sell(demo: DemoLot): Promise<SeededAuction> {
    const seller = this.as('seller');
    const categoryId = this.categoryIds.get(demo.category);
    if (!categoryId) throw new Error(`demo seed: no category ${demo.category}`);
    const catalog = this.node.catalog.service;
    const { lot } = await catalog.createLot(seller, { title: demo.title, description: demo.description, categoryId, condition: demo.condition });
    await catalog.addImages(seller, lot.id, oneUpload(demoPicture(demo.colours[0], demo.colours[1])));

    const auctions = this.node.auctions.service;
    const nowMs = this.clock.nowMs();
    const iso = (offsetMs: number) => new Date(nowMs + offsetMs).toISOString();
    const sale = demo.sale;
    const common = { lotId: lot.id, currency: sale.currency, startingPrice: sale.startingPrice };
    let auctionId: string;
    if (sale.kind === 'live') {
      const page = await auctions.create(seller, { ...common, kind: 'live', startsAt: iso(sale.startsInMs), auctioneerId: this.as('auctioneer').userId });
      auctionId = page.auction.id;
      if (sale.open) {
        await auctions.console(this.as('auctioneer'), auctionId, { type: 'open' });
        for (const by of sale.onlineBids) await this.bid(auctionId, by);
        for (const paddle of sale.floorBids) await this.floorBid(auctionId, paddle);
      }
    } else if (sale.kind === 'scheduled') {
      const page = await auctions.create(seller, { ...common, kind: 'timed', startsAt: iso(sale.startsInMs), endsAt: iso(sale.endsInMs) });
      auctionId = page.auction.id;
    } else {
      const page = await auctions.create(seller, {
        ...common,
        kind: 'timed',
        ...(sale.reserve !== undefined && { reserve: sale.reserve }),
        ...(sale.buyNow !== undefined && { buyNow: sale.buyNow }),
        startsAt: iso(0),
        endsAt: iso(sale.endsInMs),
      });
      auctionId = page.auction.id;
      await this.untilOpen(auctionId);
      for (const b of sale.bids) await this.bid(auctionId, b.by, b.max);
    }
    const { auction } = await auctions.page(null, auctionId);
    return { id: auction.id, title: auction.title, kind: auction.kind, status: auction.status === 'open' ? 'open' : 'scheduled', currency: auction.currency, bidCount: auction.bidCount };
  }

  /** The engine opens a timed auction at its start on its own timer; this waits for that. */
  private async untilOpen(auctionId: string): Promise<void> {
    const deadline = this.clock.nowMs() + OPEN_WAIT_MS;
    for (;;) {
      const { view } = await this.node.auctions.service.page(null, auctionId);
      if (view.status === 'open') return;
      if (this.clock.nowMs() > deadline) throw new Error(`demo seed: auction ${auctionId} did not open within ${OPEN_WAIT_MS} ms (is this node running the engine role?)`);
      this.options.signal?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** A bid at the lowest amount the auction takes now, with an optional proxy maximum. */
  private async bid(auctionId: string, handle: string, max?: string): Promise<void> {
    const auctions = this.node.auctions.service;
    const me = this.as(handle);
    await auctions.join(me, auctionId);
    const page = await auctions.page(me, auctionId);
    const amount = formatAmount(page.nextBidsMinor[0]!, page.view.currencyScale);
    await auctions.bid(me, auctionId, { amount, currency: page.auction.currency, ...(max !== undefined && { max }) });
  }

  private async floorBid(auctionId: string, paddle: string): Promise<void> {
    const auctions = this.node.auctions.service;
    const page = await auctions.page(null, auctionId);
    const amount = formatAmount(page.nextBidsMinor[0]!, page.view.currencyScale);
    await auctions.console(this.as('auctioneer'), auctionId, { type: 'floorBid', paddle, amount });
  }
}

/** Signs a demo account in through the accounts service and returns who it is, as the API edge would. */
export async function signIn(node: GavelNode, account: Pick<DemoAccount, 'email' | 'password'>, clock: Clock, address: string): Promise<Principal> {
  const { token } = await node.accounts.service.login({ email: account.email, password: account.password }, address);
  const principal = await node.accounts.service.authenticate(token, clock.nowMs());
  if (!principal) throw new Error(`demo: the session of ${account.email} did not authenticate`);
  return principal;
}

/** One file, in the shape the catalog reads uploads in (a stream of files, each a stream of chunks). */
async function* oneUpload(bytes: Buffer): AsyncIterable<AsyncIterable<Buffer>> {
  yield (async function* () {
    yield bytes;
  })();
}

/** The one line a person reads at start: where to sign in, and as whom. */
export function credentialsText(url: string): string {
  const people = DEMO_ACCOUNTS.filter((a) => !a.part.startsWith('bot-'))
    .map((a) => `${a.email} / ${a.password} (${a.part})`)
    .join(', ');
  return `demo data ready${url ? ` at ${url}` : ''}: sign in as ${people}; docs/demo.md describes it all`;
}
