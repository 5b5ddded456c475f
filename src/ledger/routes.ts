// HTTP for wallets and the ledger. Amounts travel as decimal strings in major units with
// their currency beside them; inside, they are bigint minor units.
import { Type, type Static } from '@sinclair/typebox';
import { requireAdmin, requirePrincipal } from '../platform/auth/principal.js';
import { AppError, fieldError } from '../platform/errors.js';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import { uuidv7 } from '../platform/ids.js';
import { formatAmount, parseAmount } from '../platform/money.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../platform/pagination.js';
import type { Clock } from '../platform/clock.js';
import { ASSET_CODE_PATTERN, ASSET_SCALE_MAX, walletBalances, type Account, type Currency, type Transfer } from './model.js';
import type { LedgerService } from './service.js';

export const CurrencyCode = Type.String({ pattern: '^[A-Z][A-Z0-9]{1,11}$', description: 'ISO 4217 code (USD) or asset code', examples: ['USD'] });
export const AmountText = Type.String({ pattern: '^(0|[1-9][0-9]*)(\\.[0-9]+)?$', maxLength: 60, description: 'decimal string in major units, e.g. "12.50"', examples: ['12.50'] });

const CurrencyView = Type.Object({ code: Type.String(), scale: Type.Integer(), name: Type.String(), kind: Type.String() });
const WalletView = Type.Object({
  id: Uuid,
  currency: Type.String(),
  kind: Type.String({ description: 'wallet, or the system account name' }),
  posted: Type.String({ description: 'posted credits − posted debits' }),
  held: Type.String({ description: 'pending debits (holds)' }),
  available: Type.String({ description: 'posted − held' }),
  closed: Type.Boolean(),
});
const TransferView = Type.Object({
  id: Uuid,
  kind: Type.String({ description: 'posted, hold, capture, release or expire' }),
  direction: Type.Union([Type.Literal('in'), Type.Literal('out')]),
  amount: Type.String(),
  currency: Type.String(),
  owner: Type.String({ description: 'what the money is for: topup:…, auction:…, order:…' }),
  holdStatus: Type.Union([Type.String(), Type.Null()]),
  memo: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
});
const PageQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
  { additionalProperties: false },
);
const CurrencyParams = Type.Object({ currency: CurrencyCode });

/** Parses an amount for `currency`, or a 400 naming `field`. */
export function amountMinorOf(text: string, currency: Currency, field = 'amount'): bigint {
  const parsed = parseAmount(text, currency.scale);
  if (!parsed.ok) throw fieldError('VALIDATION', 'body', field, parsed.reason);
  return parsed.minor;
}

export function accountView(account: Account, scale: number): Static<typeof WalletView> {
  const b = walletBalances(account);
  // A system account is debit-normal in effect; show its raw net so sign tells direction.
  return {
    id: account.id,
    currency: account.currency,
    kind: account.kind,
    posted: formatAmount(b.posted, scale),
    held: formatAmount(b.held, scale),
    available: formatAmount(b.available, scale),
    closed: account.closed,
  };
}

function transferView(t: Transfer, accountId: string, scale: number): Static<typeof TransferView> {
  return {
    id: t.id,
    kind: t.kind,
    direction: t.creditAccountId === accountId ? 'in' : 'out',
    amount: formatAmount(t.amountMinor, scale),
    currency: t.currency,
    owner: t.owner,
    holdStatus: t.holdStatus,
    memo: t.memo,
    createdAt: new Date(t.createdAtMs).toISOString(),
  };
}

const bearer = [{ bearerAuth: [] }];

export function ledgerRoutes(app: HttpServer, ledger: LedgerService, deps: { idempotency: Idempotency; userExists: (userId: string) => Promise<boolean> }, clock: Clock): void {
  const { idempotency } = deps;
  const wallets = { tags: ['wallets'], security: bearer };
  const admin = { tags: ['ledger (admin)'], security: bearer };
  const scaleOf = (code: string) => ledger.currency(code)?.scale ?? 0;

  app.get('/api/currencies', { schema: { tags: ['wallets'], summary: 'Currencies and assets the ledger knows', response: { 200: Type.Object({ items: Type.Array(CurrencyView) }) } } }, async () => ({
    items: ledger.currencies(),
  }));

  app.post(
    '/api/ledger/assets',
    {
      schema: {
        ...admin,
        summary: 'List a new asset code (admin)',
        body: Type.Object(
          { code: Type.String({ pattern: ASSET_CODE_PATTERN }), scale: Type.Integer({ minimum: 0, maximum: ASSET_SCALE_MAX }), name: Type.String({ minLength: 1, maxLength: 100 }) },
          { additionalProperties: false },
        ),
        response: { 201: CurrencyView, ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (req, reply) => reply.code(201).send(await ledger.createAsset(req.principal, req.body)),
  );

  app.post(
    '/api/wallets',
    {
      schema: {
        ...wallets,
        summary: 'Open your wallet in a currency (200 if it is open already)',
        body: Type.Object({ currency: CurrencyCode }, { additionalProperties: false }),
        response: { 200: WalletView, 201: WalletView, ...problemResponses(400, 401) },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      const { account, created } = await ledger.openWallet(me.userId, req.body.currency);
      return reply.code(created ? 201 : 200).send(accountView(account, scaleOf(account.currency)));
    },
  );

  app.get('/api/wallets', { schema: { ...wallets, summary: 'Your open wallets with posted, held and available balances', response: { 200: Type.Object({ items: Type.Array(WalletView) }), ...problemResponses(401) } } }, async (req) => ({
    items: (await ledger.myWallets(req.principal)).map((a) => accountView(a, scaleOf(a.currency))),
  }));

  const myWallet = async (principal: Parameters<typeof requirePrincipal>[0], currency: string) => {
    const me = requirePrincipal(principal);
    const wallet = await ledger.walletOf(me.userId, currency);
    if (!wallet || wallet.closed) throw fieldError('NOT_FOUND', 'params', 'currency', `you have no open ${currency} wallet`);
    return wallet;
  };

  app.get('/api/wallets/:currency', { schema: { ...wallets, summary: 'One of your wallets', params: CurrencyParams, response: { 200: WalletView, ...problemResponses(400, 401, 404) } } }, async (req) => {
    const wallet = await myWallet(req.principal, req.params.currency);
    return accountView(wallet, scaleOf(wallet.currency));
  });

  app.delete('/api/wallets/:currency', { schema: { ...wallets, summary: 'Close your wallet (only at zero, nothing held)', params: CurrencyParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 404, 409) } } }, async (req, reply) => {
    await ledger.closeWallet(req.principal, req.params.currency);
    return reply.code(204).send(null);
  });

  app.get(
    '/api/wallets/:currency/transfers',
    { schema: { ...wallets, summary: 'Your wallet statement, newest first', params: CurrencyParams, querystring: PageQuery, response: { 200: Type.Object({ items: Type.Array(TransferView), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problemResponses(400, 401, 404) } } },
    async (req) => {
      const wallet = await myWallet(req.principal, req.params.currency);
      const page = await ledger.history(wallet, { limit: req.query.limit, ...(req.query.cursor !== undefined && { cursor: req.query.cursor }) });
      return { items: page.items.map((t) => transferView(t, wallet.id, scaleOf(wallet.currency))), nextCursor: page.nextCursor };
    },
  );

  app.get('/api/ledger/accounts', { schema: { ...admin, summary: 'System accounts (admin)', querystring: Type.Object({ currency: Type.Optional(CurrencyCode) }, { additionalProperties: false }), response: { 200: Type.Object({ items: Type.Array(WalletView) }), ...problemResponses(400, 401, 403) } } }, async (req) => ({
    items: (await ledger.systemAccounts(req.principal, req.query.currency)).map((a) => accountView(a, scaleOf(a.currency))),
  }));

  app.get('/api/ledger/accounts/:id', { schema: { ...admin, summary: 'An account by id (its owner or an admin)', params: Type.Object({ id: Uuid }), response: { 200: WalletView, ...problemResponses(400, 401, 404) } } }, async (req) => {
    const account = await ledger.accountFor(req.principal, req.params.id.toLowerCase());
    return accountView(account, scaleOf(account.currency));
  });

  app.get(
    '/api/ledger/check',
    {
      schema: {
        ...admin,
        summary: 'Recompute every ledger invariant and report violations (admin)',
        response: { 200: Type.Object({ ok: Type.Boolean(), accounts: Type.Integer(), transfers: Type.Integer(), violations: Type.Array(Type.Object({ rule: Type.String(), detail: Type.String() })) }), ...problemResponses(401, 403) },
      },
    },
    async (req) => {
      const result = await ledger.check(req.principal);
      return { ok: result.violations.length === 0, ...result };
    },
  );

  app.post(
    '/api/ledger/adjustments',
    {
      schema: {
        ...admin,
        summary: "Credit or debit a user's wallet against the issuance account, with a memo (admin; Idempotency-Key honoured)",
        body: Type.Object(
          { userId: Uuid, currency: CurrencyCode, amount: AmountText, direction: Type.Union([Type.Literal('credit'), Type.Literal('debit')]), memo: Type.String({ minLength: 1, maxLength: 500 }) },
          { additionalProperties: false },
        ),
        response: { 201: TransferView, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const me = requireAdmin(req.principal);
      return idempotency.handle(req, reply, me.userId, async (key) => {
        const currency = await ledger.requireCurrency(req.body.currency);
        const amountMinor = amountMinorOf(req.body.amount, currency);
        const userId = req.body.userId.toLowerCase();
        if (!(await deps.userExists(userId))) throw fieldError('NOT_FOUND', 'body', 'userId', 'no such user');
        const existing = await ledger.walletOf(userId, currency.code);
        // Nothing to debit: refuse without opening a wallet (a refused request writes nothing).
        if (!existing && req.body.direction === 'debit') throw new AppError('INSUFFICIENT_FUNDS', `the person has no ${currency.code} wallet to debit`);
        const wallet = existing ?? (await ledger.openWallet(userId, currency.code)).account;
        const issuance = await ledger.systemAccount('issuance', currency.code);
        const [debit, credit] = req.body.direction === 'credit' ? [issuance.id, wallet.id] : [wallet.id, issuance.id];
        const transfer = await ledger.transfer({
          ref: `adjustment:${me.userId}:${key ?? uuidv7(clock.nowMs())}`,
          debitAccountId: debit,
          creditAccountId: credit,
          currency: currency.code,
          amountMinor,
          owner: `adjustment:${me.userId}`,
          memo: req.body.memo,
        });
        return { status: 201, body: transferView(transfer, wallet.id, currency.scale) };
      });
    },
  );
}
