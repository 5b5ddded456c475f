// Auctions survive kill -9 (DESIGN rule 3, journal before acknowledge). A real `gavel start`
// takes a stream of bids from eight bidders at once and is killed mid-stream; restarted on the
// same storage, every bid it acknowledged is in the journal, the room's leader and price are
// the fold of that journal, exactly one hold (the leader's, for their maximum) is pending,
// and bidding goes on with the seq continuing without a gap. An auction whose end passes
// while the process is down is closed at the next start and settled exactly once.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { verifyReplay } from '../../src/auctions/service.js';
import type { Dialect } from '../../src/platform/db/database.js';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../support/databases.js';
import { GavelProcess, killChildren, request, runCli, within, type Answer, type Env } from '../support/process.js';

const SLOW = { timeout: 120_000 };
const ADMIN = { email: 'auction-root@gavel.test', password: 'auction-root-password-1' } as const;
const ADMIN_ENV = { GAVEL_ADMIN_EMAIL: ADMIN.email, GAVEL_ADMIN_PASSWORD: ADMIN.password, GAVEL_AUCTION_COMMISSION_BPS: '1000' } as const;
const FUNDS = '100000.00';

const storages: ScratchStorage[] = [];
afterEach(async () => {
  await killChildren();
});
afterAll(async () => {
  await Promise.all(storages.splice(0).map((s) => s.drop()));
});

const local = (dataDir: string) => ['--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir];
const storageEnv = (storage: ScratchStorage): Env => (storage.databaseUrl ? { DATABASE_URL: storage.databaseUrl } : {});
const iso = (ms: number) => new Date(ms).toISOString();
const minorOf = (amount: string) => BigInt(amount.replace('.', ''));
const major = (minor: bigint) => `${minor / 100n}.${String(minor % 100n).padStart(2, '0')}`;

interface Person {
  id: string;
  token: string;
}

let people = 0;

/** Everything a scenario needs on a running process: an admin, a seller, a lot, bidders. */
class Sale {
  adminToken = '';
  seller!: Person;
  categoryId = '';
  constructor(public base: string) {}

  async call(method: string, path: string, token: string | undefined, json?: unknown): Promise<Answer> {
    return request(this.base, method, path, { ...(token && { token }), ...(json !== undefined && { json }) });
  }

  async ok(method: string, path: string, token: string | undefined, json: unknown, status: number): Promise<any> {
    const res = await this.call(method, path, token, json);
    expect(res.status, `${method} ${path}: ${res.text}`).toBe(status);
    return res.body;
  }

  async setUp(): Promise<void> {
    this.adminToken = (await this.ok('POST', '/api/auth/login', undefined, ADMIN, 200)).token;
    this.categoryId = (await this.ok('POST', '/api/categories', this.adminToken, { name: `Crash ${process.pid}-${++people}` }, 201)).id;
    this.seller = await this.person('seller');
  }

  async person(role: 'seller' | 'bidder'): Promise<Person> {
    const who = { name: `${role} ${++people}`, email: `${role}-${people}-${process.pid}@gavel.test`, password: `password-${people}-long` };
    const registered = await this.ok('POST', '/api/auth/register', undefined, { ...who, roles: [role] }, 201);
    const token = (await this.ok('POST', '/api/auth/login', undefined, { email: who.email, password: who.password }, 200)).token;
    const person = { id: registered.id as string, token: token as string };
    if (role === 'bidder') await this.ok('POST', '/api/ledger/adjustments', this.adminToken, { userId: person.id, currency: 'USD', amount: FUNDS, direction: 'credit', memo: 'bidding money' }, 201);
    return person;
  }

  /** A timed auction in USD that opens now. */
  async auction(endsAtMs: number, extra: Record<string, unknown> = {}): Promise<string> {
    const lot = await this.ok('POST', '/api/lots', this.seller.token, { title: 'A clock', description: 'Brass, 1890', categoryId: this.categoryId, condition: 'used_good' }, 201);
    const created = await this.ok(
      'POST',
      '/api/auctions',
      this.seller.token,
      { lotId: lot.lot?.id ?? lot.id, kind: 'timed', currency: 'USD', startingPrice: '10.00', startsAt: iso(Date.now()), endsAt: iso(endsAtMs), softCloseSeconds: 0, ...extra },
      201,
    );
    const id = created.auction.id as string;
    // The engine's timer opens it at once (its start is now).
    await this.until(`auction ${id} to open`, async () => (await this.page(id)).live.status === 'open');
    return id;
  }

  async page(id: string): Promise<any> {
    return this.ok('GET', `/api/auctions/${id}`, undefined, undefined, 200);
  }

  async wallet(person: Person): Promise<{ posted: string; held: string }> {
    return this.ok('GET', '/api/wallets/USD', person.token, undefined, 200);
  }

  /** A person's whole USD statement. */
  async statement(person: Person): Promise<any[]> {
    const items: any[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await this.ok('GET', `/api/wallets/USD/transfers?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, person.token, undefined, 200);
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return items;
  }

  async ledgerClean(): Promise<void> {
    const check = await this.ok('GET', '/api/ledger/check', this.adminToken, undefined, 200);
    expect(check).toMatchObject({ ok: true, violations: [] });
  }

  async until(what: string, done: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    await within(timeoutMs, what, (async () => {
      while (!(await done())) await new Promise((r) => setTimeout(r, 100));
    })());
  }
}

describe.each(DIALECTS)('auctions across kill -9 on %s', (dialect: Dialect) => {
  async function storageFor(): Promise<{ args: string[]; env: Env; storage: ScratchStorage }> {
    const storage = await scratchStorage(dialect);
    storages.push(storage);
    return { args: local(storage.dataDir), env: { ...ADMIN_ENV, ...storageEnv(storage) }, storage };
  }

  it('keeps every acknowledged bid, rebuilds leader, price and the one hold from the journal, and bids on without a gap in seq', SLOW, async () => {
    const { args, env, storage } = await storageFor();
    const first = await GavelProcess.start(args, { env });
    const sale = new Sale(first.base);
    await sale.setUp();
    const bidders = await Promise.all(Array.from({ length: 8 }, () => sale.person('bidder')));
    const auctionId = await sale.auction(Date.now() + 60 * 60_000);
    for (const b of bidders) await sale.ok('POST', `/api/auctions/${auctionId}/join`, b.token, undefined, 200);

    const ACK_BEFORE_KILL = 30;
    const sent = new Set<string>(); // `${bidderId} ${amountMinor} ${maxMinor}`
    const acknowledged: { bidId: string; bidderId: string; seq: number }[] = [];
    let minimumMinor = 1_000n; // the lowest bid the room last said it takes
    let killed = false;
    let inFlight = 0;
    let inFlightAtKill = 0;

    const bidLoop = async (bidder: Person, index: number) => {
      for (let round = 0; !killed && round < 500; round++) {
        // Just over the minimum, each bidder by a different margin: most bids land, some race and lose.
        const amountMinor = minimumMinor + BigInt(index) * 10n;
        const maxMinor = amountMinor + 100n * BigInt(1 + (round % 3));
        sent.add(`${bidder.id} ${amountMinor} ${maxMinor}`);
        inFlight += 1;
        try {
          const res = await request(first.base, 'POST', `/api/auctions/${auctionId}/bids`, { token: bidder.token, json: { amount: major(amountMinor), max: major(maxMinor), currency: 'USD' } });
          if (res.status === 201) {
            // A 201 is an acknowledgement whenever it arrives, even after the kill was sent.
            acknowledged.push({ bidId: res.body.bidId, bidderId: bidder.id, seq: res.body.auction.seq });
            const next = minorOf(res.body.auction.minimumNextBid);
            if (next > minimumMinor) minimumMinor = next;
            if (!killed && acknowledged.length >= ACK_BEFORE_KILL) {
              killed = true;
              inFlightAtKill = inFlight - 1;
              first.signal('SIGKILL');
            }
          } else {
            // Lost a race (someone bid first) or leads already: both are answers, not failures.
            expect(['BID_TOO_LOW', 'ALREADY_LEADING'], res.text).toContain(res.body?.code);
            const said = /minimum bid is ([\d.]+)/.exec(res.body.detail ?? '');
            if (said && minorOf(said[1]!) > minimumMinor) minimumMinor = minorOf(said[1]!);
          }
        } catch (error) {
          if (!killed) throw error; // cut off by the kill: no answer, so it may or may not have happened
        } finally {
          inFlight -= 1;
        }
      }
    };
    await within(60_000, 'the stream of bids', Promise.all(bidders.map(bidLoop)));
    expect(killed, 'the stream reached the kill').toBe(true);
    expect(inFlightAtKill, 'bids in flight when the process was killed').toBeGreaterThan(0);
    expect(await first.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });

    const second = await GavelProcess.start(args, { env });
    sale.base = second.base;
    const restarted = (await sale.page(auctionId)).live;
    expect(restarted.status).toBe('open');
    const seqAtRestart = restarted.seq as number;
    for (const ack of acknowledged) expect(ack.seq, `acknowledged bid ${ack.bidId}`).toBeLessThanOrEqual(seqAtRestart);

    // Exactly one hold is pending for this auction: the leader's.
    const pending: { bidder: Person; amount: string }[] = [];
    for (const bidder of bidders) {
      for (const item of await sale.statement(bidder)) {
        if (item.owner === `auction:${auctionId}` && item.kind === 'hold' && item.holdStatus === 'pending') pending.push({ bidder, amount: item.amount });
      }
    }
    expect(pending).toHaveLength(1);
    const leader = pending[0]!;
    expect((await sale.wallet(leader.bidder)).held).toBe(leader.amount);
    for (const b of bidders.filter((b) => b !== leader.bidder)) expect((await sale.wallet(b)).held, b.id).toBe('0.00');
    await sale.ledgerClean();

    // Bidding goes on: the next bid takes the next seq.
    const challenger = bidders.find((b) => b !== leader.bidder)!;
    const raise = minorOf(leader.amount) + 5_000n;
    const after = await sale.ok('POST', `/api/auctions/${auctionId}/bids`, challenger.token, { amount: major(raise), currency: 'USD' }, 201);
    expect(after.result).toBe('leads');
    expect((await sale.wallet(challenger)).held).toBe(major(raise));
    expect((await sale.wallet(leader.bidder)).held).toBe('0.00');

    // Over (an admin cancels), the full journal can be read and checked.
    await sale.ok('POST', `/api/auctions/${auctionId}/cancel`, sale.adminToken, { reason: 'crash test over' }, 200);
    await sale.until('the cancelled auction to settle', async () => (await sale.page(auctionId)).auction.settled === true);
    const replay = await sale.ok('GET', `/api/auctions/${auctionId}/replay`, sale.adminToken, undefined, 200);
    expect(replay.view).toBe('full');
    const verified = verifyReplay(replay);
    expect(verified.ok ? 'verified' : `seq ${verified.seq}: ${verified.reason}`).toBe('verified');

    const accepted = replay.entries.filter((e: any) => e.type === 'BidAccepted');
    const journaledBidIds = new Set(accepted.map((e: any) => e.event.bidId));
    for (const ack of acknowledged) expect(journaledBidIds.has(ack.bidId), `acknowledged bid ${ack.bidId} is journaled`).toBe(true);
    for (const e of accepted.filter((e: any) => e.seq <= seqAtRestart)) {
      expect(sent.has(`${e.event.bidder.bidderId} ${e.event.amountMinor} ${e.event.maxMinor}`), `journaled bid at seq ${e.seq} was sent`).toBe(true);
    }
    const next = accepted.find((e: any) => e.event.bidId === after.bidId);
    expect(next.seq).toBe(seqAtRestart + 1);

    // What the restarted process showed is the fold of the journal up to that point.
    const before = verifyReplay({ entries: replay.entries.filter((e: any) => e.seq <= seqAtRestart) });
    expect(before.ok).toBe(true);
    if (!before.ok) return;
    expect(before.state.leader!.bidder).toEqual({ source: 'online', bidderId: leader.bidder.id });
    expect(major(before.state.leader!.maxMinor)).toBe(leader.amount);
    expect(major(before.state.priceMinor!)).toBe(restarted.price);
    expect(`bidder ${before.state.participants[leader.bidder.id]}`).toBe(restarted.leader);
    expect(before.state.bidCount).toBe(restarted.bidCount);

    for (const b of bidders) expect((await sale.wallet(b)).held).toBe('0.00');
    await sale.ledgerClean();

    // The command line proves the same journal straight from the storage the process uses.
    const cli = await runCli(['verify-auction', auctionId, '--data-dir', storage.dataDir], { env: storageEnv(storage), timeoutMs: 60_000 });
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`last hash  ${replay.lastHash}`);
    expect(cli.stdout).toMatch(/outcome +cancelled by an admin: crash test over/);

    expect(await second.stop()).toEqual({ code: 0, signal: null });
  });

  it('closes an auction whose end passed while the process was down, at the next start, and pays the seller exactly once', SLOW, async () => {
    const { args, env } = await storageFor();
    const first = await GavelProcess.start(args, { env });
    const sale = new Sale(first.base);
    await sale.setUp();
    const [ann, ben, cat] = await Promise.all([sale.person('bidder'), sale.person('bidder'), sale.person('bidder')]);
    const endsAtMs = Date.now() + 8_000;
    // A ladder of its own: one dollar at every price.
    const auctionId = await sale.auction(endsAtMs, { increments: [{ from: '0', increment: '1.00' }] });
    for (const b of [ann, ben, cat]) await sale.ok('POST', `/api/auctions/${auctionId}/join`, b.token, undefined, 200);
    const bid = (who: Person, amount: string, max?: string) => sale.ok('POST', `/api/auctions/${auctionId}/bids`, who.token, { amount, currency: 'USD', ...(max && { max }) }, 201);
    await bid(ann, '10.00', '20.00');
    expect((await bid(ben, '15.00', '40.00')).auction).toMatchObject({ price: '21.00', leader: 'bidder 2' }); // one step over ann's maximum
    expect((await bid(cat, '30.00')).result).toBe('outbid'); // ben's proxy answers: 31.00
    const live = (await sale.page(auctionId)).live;
    expect(live).toMatchObject({ status: 'open', price: '31.00', leader: 'bidder 2' });
    expect(Date.now(), 'the bids came before the end').toBeLessThan(endsAtMs);

    first.signal('SIGKILL');
    await first.waitForExit();
    await new Promise((r) => setTimeout(r, Math.max(0, endsAtMs - Date.now() + 300)));

    const second = await GavelProcess.start(args, { env });
    sale.base = second.base;
    await sale.until('the auction to close and settle after the restart', async () => (await sale.page(auctionId)).auction.settled === true);
    const closed = await sale.page(auctionId);
    expect(closed.live).toMatchObject({ status: 'closed', outcome: 'sold', closedVia: 'timer', price: '31.00', leader: 'bidder 2' });
    const replay = await sale.ok('GET', `/api/auctions/${auctionId}/replay`, sale.seller.token, undefined, 200);
    const verified = verifyReplay(replay);
    expect(verified.ok).toBe(true);
    const closing = replay.entries.at(-1);
    expect(closing.event).toMatchObject({ type: 'AuctionClosed', outcome: 'sold', via: 'timer', winner: { source: 'online', bidderId: ben.id }, priceMinor: '3100' });
    expect(closing.atMs).toBeGreaterThanOrEqual(endsAtMs);

    const paidOnce = async () => {
      const lines = (await sale.statement(sale.seller)).filter((i) => i.owner === `auction:${auctionId}`);
      expect(lines.map((i) => [i.direction, i.amount]).sort()).toEqual([
        ['in', '31.00'], // the winner's captured hold
        ['out', '3.10'], // the house's 10 % commission
      ]);
      expect(await sale.wallet(sale.seller)).toMatchObject({ posted: '27.90', held: '0.00' });
      expect(await sale.wallet(ben)).toMatchObject({ posted: '99969.00', held: '0.00' });
      for (const loser of [ann, cat]) expect(await sale.wallet(loser)).toMatchObject({ posted: FUNDS, held: '0.00' });
      await sale.ledgerClean();
    };
    await paidOnce();

    // Killed again after the settlement and restarted: nothing is paid a second time.
    second.signal('SIGKILL');
    await second.waitForExit();
    const third = await GavelProcess.start(args, { env });
    sale.base = third.base;
    await paidOnce();
    expect(await third.stop()).toEqual({ code: 0, signal: null });
  });
});
