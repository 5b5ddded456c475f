// Money survives kill -9: a real `gavel start` takes a stream of concurrent admin credits (each
// with an Idempotency-Key), is killed mid-stream, and restarts on the same storage. Every
// credit it acknowledged (201) is in the person's statement exactly once, nothing appears
// that was never sent, the balances are the statement's sum, the ledger check is clean, and
// retrying an acknowledged key replays the first answer instead of crediting again.
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import type { Dialect } from '../../src/platform/db/database.js';
import { IDEMPOTENCY_CLAIM_TIMEOUT_MS } from '../../src/platform/idempotency/idempotency.js';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../support/databases.js';
import { startTestNode } from '../support/gavel.js';
import { GavelProcess, killChildren, request, within, type Answer, type Env } from '../support/process.js';

const SLOW = { timeout: 180_000 };
const ADMIN = { email: 'ledger-root@gavel.test', password: 'ledger-root-password-1' } as const;
const ADMIN_ENV = { GAVEL_ADMIN_EMAIL: ADMIN.email, GAVEL_ADMIN_PASSWORD: ADMIN.password } as const;

const storages: ScratchStorage[] = [];
afterEach(async () => {
  await killChildren();
  await Promise.all(storages.splice(0).map((s) => s.drop()));
});

const local = (dataDir: string) => ['--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir];
const storageEnv = (storage: ScratchStorage): Env => (storage.databaseUrl ? { DATABASE_URL: storage.databaseUrl } : {});

async function login(base: string, email: string, password: string): Promise<string> {
  const res = await request(base, 'POST', '/api/auth/login', { json: { email, password } });
  expect(res.status, `login ${email}: ${res.text}`).toBe(200);
  return res.body.token as string;
}

interface Credit {
  key: string;
  body: { userId: string; currency: 'USD'; amount: string; direction: 'credit'; memo: string };
}

interface StatementItem {
  id: string;
  kind: string;
  direction: string;
  amount: string;
  memo: string;
}

async function statement(base: string, token: string): Promise<StatementItem[]> {
  const items: StatementItem[] = [];
  let cursor: string | null = null;
  do {
    const page: Answer = await request(base, 'GET', `/api/wallets/USD/transfers?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
    expect(page.status, page.text).toBe(200);
    items.push(...(page.body.items as StatementItem[]));
    cursor = page.body.nextCursor as string | null;
  } while (cursor);
  return items;
}

const minorOf = (amount: string) => BigInt(amount.replace('.', ''));

describe.each(DIALECTS)('ledger durability on %s', (dialect: Dialect) => {
  it('keeps every acknowledged credit exactly once across kill -9, and replays acknowledged keys after the restart', SLOW, async () => {
    const storage = await scratchStorage(dialect);
    storages.push(storage);
    const args = local(storage.dataDir);
    const env = { ...ADMIN_ENV, ...storageEnv(storage) };
    const first = await GavelProcess.start(args, { env });
    const adminToken = await login(first.base, ADMIN.email, ADMIN.password);

    const people: { id: string; token: string; email: string; password: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const person = { name: `Saver ${i}`, email: `saver-${i}-${process.pid}@gavel.test`, password: `saver-password-${i}` };
      const registered = await request(first.base, 'POST', '/api/auth/register', { json: person });
      expect(registered.status, registered.text).toBe(201);
      const token = await login(first.base, person.email, person.password);
      const opened = await request(first.base, 'POST', '/api/wallets', { token, json: { currency: 'USD' } });
      expect(opened.status, opened.text).toBe(201);
      people.push({ id: registered.body.id, token, email: person.email, password: person.password });
    }

    const ACK_BEFORE_KILL = 40;
    const MAX_CREDITS = 400;
    const WORKERS = 8;
    const sent = new Map<string, Credit>(); // by memo
    const acknowledged = new Map<string, { credit: Credit; transferId: string }>(); // by memo
    let next = 0;
    let killed = false;
    let inFlightAtKill = 0;
    let inFlight = 0;

    const worker = async () => {
      while (!killed && next < MAX_CREDITS) {
        const i = next++;
        const credit: Credit = {
          key: `crash-credit-${i}`,
          body: { userId: people[i % people.length]!.id, currency: 'USD', amount: `${1 + (i % 37)}.${String(i % 100).padStart(2, '0')}`, direction: 'credit', memo: `crash credit ${i}` },
        };
        sent.set(credit.body.memo, credit);
        inFlight += 1;
        try {
          const res = await request(first.base, 'POST', '/api/ledger/adjustments', { token: adminToken, json: credit.body, headers: { 'idempotency-key': credit.key } });
          // A 201 is an acknowledgement whenever it arrives, even after the kill was sent.
          expect(res.status, res.text).toBe(201);
          acknowledged.set(credit.body.memo, { credit, transferId: res.body.id });
          if (!killed && acknowledged.size >= ACK_BEFORE_KILL) {
            killed = true;
            inFlightAtKill = inFlight - 1;
            first.signal('SIGKILL');
          }
        } catch (error) {
          // Cut off by the kill: no answer, so it may or may not have happened.
          if (!killed) throw error;
        } finally {
          inFlight -= 1;
        }
      }
    };
    await within(90_000, 'the stream of credits', Promise.all(Array.from({ length: WORKERS }, worker)));
    expect(killed, 'the stream reached the kill').toBe(true);
    expect(inFlightAtKill, 'credits in flight when the process was killed').toBeGreaterThan(0);
    expect(await first.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });

    const second = await GavelProcess.start(args, { env });
    const admin2 = await login(second.base, ADMIN.email, ADMIN.password);

    const byMemo = new Map<string, StatementItem[]>();
    for (const person of people) {
      const token = await login(second.base, person.email, person.password);
      const items = await statement(second.base, token);
      let sumMinor = 0n;
      for (const item of items) {
        expect(item).toMatchObject({ kind: 'posted', direction: 'in' });
        // Nothing appears that was never sent, and to the person it was sent to.
        const credit = sent.get(item.memo);
        expect(credit, `unexpected statement line ${item.memo}`).toBeDefined();
        expect(credit!.body.userId).toBe(person.id);
        expect(item.amount).toBe(credit!.body.amount);
        byMemo.set(item.memo, [...(byMemo.get(item.memo) ?? []), item]);
        sumMinor += minorOf(item.amount);
      }
      const wallet = await request(second.base, 'GET', '/api/wallets/USD', { token });
      expect(wallet.status).toBe(200);
      expect(minorOf(wallet.body.posted)).toBe(sumMinor);
      expect(wallet.body.held).toBe('0.00');
    }
    // Each credit at most once; each acknowledged one exactly once, as the transfer it was told.
    for (const [memo, lines] of byMemo) expect(lines, memo).toHaveLength(1);
    for (const [memo, ack] of acknowledged) expect(byMemo.get(memo)?.[0]?.id, memo).toBe(ack.transferId);

    const check = await request(second.base, 'GET', '/api/ledger/check', { token: admin2 });
    expect(check.status).toBe(200);
    expect(check.body).toMatchObject({ ok: true, violations: [] });

    // Retrying acknowledged keys after the restart replays them; nothing moves again.
    const before = await request(second.base, 'GET', '/api/ledger/check', { token: admin2 });
    const retried = [...acknowledged.values()].slice(0, 10);
    for (const { credit, transferId } of retried) {
      const again = await request(second.base, 'POST', '/api/ledger/adjustments', { token: admin2, json: credit.body, headers: { 'idempotency-key': credit.key } });
      expect(again.status, again.text).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body.id).toBe(transferId);
    }
    const after = await request(second.base, 'GET', '/api/ledger/check', { token: admin2 });
    expect(after.body.transfers).toBe(before.body.transfers);

    // A credit cut off by the kill, retried with its key, ends up written exactly once,
    // whether or not the first attempt had reached the ledger. Its key may still be claimed by
    // the dead process (IDEMPOTENCY_IN_PROGRESS) until the claim times out; see below.
    const unanswered = [...sent.values()].filter((c) => !acknowledged.has(c.body.memo)).slice(0, 10);
    for (const credit of unanswered) {
      const retry = await request(second.base, 'POST', '/api/ledger/adjustments', { token: admin2, json: credit.body, headers: { 'idempotency-key': credit.key } });
      expect([201, 409], retry.text).toContain(retry.status);
      if (retry.status === 409) expect(retry.body.code).toBe('IDEMPOTENCY_IN_PROGRESS');
    }
    const final = new Map<string, number>();
    for (const person of people) {
      for (const item of await statement(second.base, await login(second.base, person.email, person.password))) final.set(item.memo, (final.get(item.memo) ?? 0) + 1);
    }
    for (const [memo, count] of final) expect(count, memo).toBe(1);
    expect((await request(second.base, 'GET', '/api/ledger/check', { token: admin2 })).body.ok).toBe(true);

    expect(await second.stop()).toEqual({ code: 0, signal: null });
  });
});

// What a kill leaves in the Idempotency-Key table, reproduced in-process on a clock the test
// moves: a claim whose request died, before or after its ledger commit.
describe.each(DIALECTS)('an Idempotency-Key whose request died on %s', (dialect: Dialect) => {
  it('is IDEMPOTENCY_IN_PROGRESS until the claim times out, then the retry runs anew and moves the money exactly once', async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const t = await startTestNode(dialect, { roles: new Set(['api'] as const) }, { clock });
    try {
      const adminToken = await t.adminToken();
      const adminId = (await t.node.accounts.service.authenticate(adminToken, clock.nowMs()))!.userId;
      const person = await t.newUser('Interrupted');
      const db = t.node.database.kysely as unknown as Kysely<any>;
      const adjust = (key: string, body: object) => t.call('POST', '/api/ledger/adjustments', { token: adminToken, json: body, headers: { 'idempotency-key': key } });
      const posted = async () => (await t.call('GET', '/api/wallets/USD', { token: person.token })).body.posted as string;

      // 1. The process died after the ledger commit, before storing the answer.
      const afterCommit = { userId: person.id, currency: 'USD', amount: '12.50', direction: 'credit', memo: 'died after commit' };
      const first = await adjust('died-after-commit', afterCommit);
      expect(first.status, first.text).toBe(201);
      await db.updateTable('platform_idempotency_keys').set({ state: 'in_progress', response_status: null, response_body: null }).where('key', '=', 'died-after-commit').execute();
      const early = await adjust('died-after-commit', afterCommit);
      expect(early.status).toBe(409);
      expect(early.body.code).toBe('IDEMPOTENCY_IN_PROGRESS');
      clock.advance(IDEMPOTENCY_CLAIM_TIMEOUT_MS - 1);
      expect((await adjust('died-after-commit', afterCommit)).status).toBe(409);
      clock.advance(1);
      const takenOver = await adjust('died-after-commit', afterCommit);
      expect(takenOver.status, takenOver.text).toBe(201);
      expect(takenOver.headers['idempotent-replayed']).toBeUndefined();
      // The ledger reference derived from the key found the first transfer: no second credit.
      expect(takenOver.body.id).toBe(first.body.id);
      expect(await posted()).toBe('12.50');
      const replay = await adjust('died-after-commit', afterCommit);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);

      // 2. The process died after claiming the key, before reaching the ledger.
      const beforeCommit = { userId: person.id, currency: 'USD', amount: '7.25', direction: 'credit', memo: 'died before commit' };
      const requestHash = createHash('sha256').update(`POST /api/ledger/adjustments\n${JSON.stringify(beforeCommit)}`).digest('base64url');
      await db.insertInto('platform_idempotency_keys').values({ scope: adminId, key: 'died-before-commit', request_hash: requestHash, state: 'in_progress', response_status: null, response_body: null, created_at_ms: clock.nowMs() }).execute();
      expect((await adjust('died-before-commit', beforeCommit)).body.code).toBe('IDEMPOTENCY_IN_PROGRESS');
      // A different request under the claimed key is still refused as a reuse.
      expect((await adjust('died-before-commit', { ...beforeCommit, amount: '8.00' })).body.code).toBe('IDEMPOTENCY_KEY_REUSED');
      clock.advance(IDEMPOTENCY_CLAIM_TIMEOUT_MS);
      const ran = await adjust('died-before-commit', beforeCommit);
      expect(ran.status, ran.text).toBe(201);
      expect(await posted()).toBe('19.75');
      expect((await adjust('died-before-commit', beforeCommit)).body.id).toBe(ran.body.id);
      expect(await posted()).toBe('19.75');
      expect((await t.call('GET', '/api/ledger/check', { token: adminToken })).body.ok).toBe(true);
    } finally {
      await t.close();
    }
  });
});
