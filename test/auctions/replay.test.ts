// The replay of an auction and the proof that its bid history was not altered (seed 002: the
// fraud settlement). After the end, insiders — the seller, participants, admins — get the
// journal itself, hash-chained; everyone else, and everyone while it runs, gets what the room
// saw. verifyReplay (and `gavel verify-auction`, run here as a real child process) accepts
// the journal as served and refuses it at the right seq once anything in it is changed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { entryHash, GENESIS_HASH } from '../../src/platform/journal/hash-chain.js';
import { verifyReplay } from '../../src/auctions/service.js';
import { DIALECTS } from '../support/databases.js';
import { startTestNode, type Answer, type TestNode } from '../support/gavel.js';
import { openMarket, type Market, type Person } from '../support/auctions.js';
import { expectProblem } from '../support/problems.js';
import { runCli, type CliRun, type Env } from '../support/process.js';

const MINUTE = 60_000;
const START = Date.UTC(2031, 1, 3, 12);
// Each CLI run starts node and compiles through tsx; several run at once on a busy machine.
const CLI = { timeout: 120_000 };
const CLI_RUN = { timeoutMs: 90_000 };

interface Entry {
  seq: number;
  atMs: number;
  type: string;
  event: any;
  payload: string;
  prevHash: string;
  hash: string;
}
interface Replay {
  auctionId: string;
  view: 'full' | 'room';
  recordingUrl: string | null;
  entries: Entry[];
  lastHash: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();
const copy = (r: Replay): Replay => structuredClone(r);
const seqOf = (r: Replay, match: (e: Entry) => boolean) => r.entries.find(match)!.seq;

/** Changes the payload of the entry at `seq` (as a forger would: same JSON shape). */
function editPayload(r: Replay, seq: number, edit: (event: any) => void): Entry {
  const entry = r.entries.find((e) => e.seq === seq)!;
  const event = JSON.parse(entry.payload);
  edit(event);
  entry.payload = JSON.stringify(event);
  entry.event = event;
  return entry;
}

/** Recomputes every hash from index `from` on, as a forger rewriting the tail would. */
function rechain(r: Replay, from: number): void {
  let prevHash = from === 0 ? GENESIS_HASH : r.entries[from - 1]!.hash;
  for (const entry of r.entries.slice(from)) {
    entry.prevHash = prevHash;
    entry.hash = entryHash(prevHash, entry);
    prevHash = entry.hash;
  }
  r.lastHash = prevHash;
}

for (const dialect of DIALECTS) {
  describe(`auction replay and proof on ${dialect}`, () => {
    let t: TestNode;
    let clock: ManualClock;
    let m: Market;
    let auctionId: string;
    let ann: Person, ben: Person, cat: Person, lurker: Person, stranger: Person;
    let adminToken: string;
    /** Answers while the sale ran, and after it ended, by who asked. */
    const during = new Map<string, Answer>();
    const after = new Map<string, Answer>();
    let full: Replay;
    let dir: string;

    const bid = async (who: Person, amount: string, max?: string) => {
      const res = await t.call('POST', `/api/auctions/${auctionId}/bids`, { token: who.token, json: { amount, currency: 'USD', ...(max && { max }) } });
      expect(res.status, res.text).toBe(201);
      return res.body;
    };
    const replayAs = (token: string | undefined, id = auctionId) => t.call('GET', `/api/auctions/${id}/replay`, { ...(token && { token }) });
    const askEveryone = async (into: Map<string, Answer>) => {
      const askers: Record<string, string | undefined> = { seller: m.seller.token, ben: ben.token, lurker: lurker.token, admin: adminToken, stranger: stranger.token, anonymous: undefined };
      for (const [who, token] of Object.entries(askers)) into.set(who, await replayAs(token));
    };

    beforeAll(async () => {
      clock = new ManualClock(START);
      t = await startTestNode(dialect, { auctionCommissionBps: 1_000 }, { clock });
      m = await openMarket(t);
      adminToken = await t.adminToken();
      dir = mkdtempSync(join(tmpdir(), 'gavel-replay-'));
      [ann, ben, cat, lurker, stranger] = await Promise.all([m.bidder(), m.bidder(), m.bidder(), m.bidder(), m.bidder()]);
      const created = await m.auction({ startsAt: iso(clock.nowMs()), endsAt: iso(clock.nowMs() + 30 * MINUTE), reserve: '30.00' });
      auctionId = created.auction.id;
      await t.node.auctions.engine.fireDueTimers();
      for (const who of [ann, ben, cat, lurker]) expect((await t.call('POST', `/api/auctions/${auctionId}/join`, { token: who.token })).status).toBe(200);

      await bid(ann, '10.00', '25.00'); // ann leads at 10.00
      await bid(ben, '20.00'); // ann's proxy answers: 20.50
      await bid(cat, '26.00', '45.00'); // cat leads; her maximum reaches the reserve: 30.00
      await askEveryone(during);

      clock.advance(29 * MINUTE);
      expect((await bid(ben, '50.00', '70.00')).result).toBe('leads'); // ben leads at 50.00; the end moves
      expect((await bid(ann, '55.00')).result).toBe('outbid'); // ben's proxy answers: 56.00
      clock.advance(2 * MINUTE);
      await t.node.auctions.engine.fireDueTimers();
      await askEveryone(after);
      full = after.get('admin')!.body as Replay;
    });
    afterAll(async () => {
      await t?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    function expectRoomView(res: Answer, publishedHash: string | null = null): void {
      expect(res.status, res.text).toBe(200);
      const r = res.body as Replay;
      // The journal's final hash is public once the sale is over (the anchor for later proofs).
      expect(r).toMatchObject({ auctionId, view: 'room', lastHash: publishedHash });
      expect(r.entries.length).toBeGreaterThan(0);
      for (const e of r.entries) expect(e).toMatchObject({ hash: '', prevHash: '', payload: '' });
      // Nothing the room must not see: maxima, the reserve, holds, or who anyone is.
      const text = res.text;
      for (const secret of ['maxMinor', 'reserveMinor', 'bidderId', 'HoldRequired', 'HoldReleased', 'AuctionCreated', '"ref"']) expect(text).not.toContain(secret);
      for (const person of [m.seller, ann, ben, cat, lurker]) expect(text).not.toContain(person.id);
      for (const maxima of ['"2500"', '"4500"', '"7000"']) expect(text).not.toContain(maxima);
      const prices = r.entries.filter((e) => e.type === 'PriceChanged').map((e) => [e.event.priceMinor, e.event.leader]);
      expect(prices.slice(0, 3)).toEqual([
        ['1000', 'bidder 1'],
        ['2050', 'bidder 1'],
        ['3000', 'bidder 3'],
      ]);
    }

    it('while it runs, everyone — seller, participants and admins included — gets the room view: no hashes, maxima, reserve or user ids', () => {
      for (const [who, res] of during) {
        expectRoomView(res);
        expect((res.body as Replay).entries.map((e) => e.type), who).not.toContain('AuctionClosed');
      }
    });

    it('after the end, the seller, a participant and an admin get the full journal with hashes, and verifyReplay accepts it', () => {
      for (const who of ['seller', 'ben', 'lurker', 'admin']) {
        const res = after.get(who)!;
        expect(res.status, res.text).toBe(200);
        // Every insider gets the same journal.
        expect(res.body, who).toEqual(full);
      }
      expect(full.view).toBe('full');
      expect(full.entries.map((e) => e.seq)).toEqual(full.entries.map((_, i) => i + 1));
      for (const e of full.entries) expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(full.lastHash).toBe(full.entries.at(-1)!.hash);
      // Insiders see what the room did not: maxima and the reserve.
      expect(full.entries[0]!.event).toMatchObject({ type: 'AuctionCreated', config: { reserveMinor: '3000', sellerId: m.seller.id } });
      expect(full.entries.find((e) => e.type === 'BidAccepted' && e.event.bidder.bidderId === cat.id)!.event.maxMinor).toBe('4500');

      const verified = verifyReplay(full);
      expect(verified.ok).toBe(true);
      if (!verified.ok) return;
      expect(verified.entries).toBe(full.entries.length);
      expect(verified.lastHash).toBe(full.lastHash);
      expect(verified.state).toMatchObject({ status: 'closed', outcome: 'sold', closedVia: 'timer', priceMinor: 5_600n, bidCount: 5 });
      expect(verified.state.leader!.bidder).toEqual({ source: 'online', bidderId: ben.id });
    });

    it('after the end, a stranger and an anonymous caller still get only the room view', () => {
      for (const who of ['stranger', 'anonymous']) {
        const res = after.get(who)!;
        expectRoomView(res, (full as Replay).lastHash);
        expect((res.body as Replay).entries.at(-1)!.event).toMatchObject({ type: 'AuctionClosed', outcome: 'sold', winner: 'bidder 2', priceMinor: '5600' });
      }
    });

    describe('a tampered journal is refused at the entry that was changed', () => {
      const bensBid = () => seqOf(full, (e) => e.type === 'BidAccepted' && e.event.bidder.bidderId === ben.id && e.event.result === 'leads');

      it('a bid amount changed in one payload: its hash no longer matches', () => {
        const r = copy(full);
        const seq = bensBid();
        editPayload(r, seq, (event) => (event.amountMinor = '4000'));
        expect(verifyReplay(r)).toEqual({ ok: false, seq, reason: expect.stringMatching(/hash does not match the entry/) });
      });

      it('an entry dropped: the seq after it is out of place', () => {
        const r = copy(full);
        const seq = bensBid();
        r.entries.splice(seq - 1, 1);
        expect(verifyReplay(r)).toEqual({ ok: false, seq: seq + 1, reason: `expected seq ${seq}, found ${seq + 1}` });
      });

      it('two entries swapped: the later one comes first and is out of place', () => {
        const r = copy(full);
        const seq = bensBid();
        [r.entries[seq - 1], r.entries[seq]] = [r.entries[seq]!, r.entries[seq - 1]!];
        expect(verifyReplay(r)).toEqual({ ok: false, seq: seq + 1, reason: `expected seq ${seq}, found ${seq + 1}` });
      });

      it('one entry changed and re-hashed: the entry after it no longer links to it', () => {
        const r = copy(full);
        const seq = bensBid();
        const entry = editPayload(r, seq, (event) => (event.amountMinor = '4000'));
        entry.hash = entryHash(entry.prevHash, entry);
        expect(verifyReplay(r)).toEqual({ ok: false, seq: seq + 1, reason: expect.stringMatching(/prevHash does not match/) });
      });

      it('the whole tail rewritten and re-hashed: an event that breaks the rules is refused at its seq by the fold', () => {
        const r = copy(full);
        const seq = seqOf(r, (e) => e.type === 'BidAccepted' && e.event.bidder.bidderId === ann.id && e.event.result === 'outbid' && e.event.priceMinor === '5600');
        editPayload(r, seq, (event) => (event.priceMinor = '4000')); // below the price before it
        rechain(r, seq - 1);
        expect(verifyReplay(r)).toEqual({ ok: false, seq, reason: expect.stringMatching(/do not follow the auction rules: the price never falls/) });
      });

      it('an entry relabelled and re-hashed: its type must match its payload', () => {
        const r = copy(full);
        const seq = bensBid();
        r.entries[seq - 1]!.type = 'ChatPosted';
        rechain(r, seq - 1);
        expect(verifyReplay(r)).toEqual({ ok: false, seq, reason: expect.stringMatching(/says ChatPosted at seq \d+, its payload BidAccepted/) });
      });
    });

    it('the recording: the seller attaches one (https only), others may not, and the replay carries it', async () => {
      const put = (token: string | undefined, url: unknown, id = auctionId) => t.call('PUT', `/api/auctions/${id}/recording`, { ...(token && { token }), json: { url } });
      const url = 'https://video.example.com/sales/painting.mp4';
      expect((await put(m.seller.token, url)).status).toBe(204);
      expect((await replayAs(adminToken)).body).toMatchObject({ view: 'full', recordingUrl: url });
      expect((await replayAs(undefined)).body).toMatchObject({ view: 'room', recordingUrl: url });
      // The recording sits beside the journal, not in it: the proof is unchanged.
      expect((await replayAs(adminToken)).body.lastHash).toBe(full.lastHash);

      expectProblem(await put(stranger.token, 'https://evil.example.com/x.mp4'), 403, 'FORBIDDEN');
      expectProblem(await put(ben.token, 'https://evil.example.com/x.mp4'), 403, 'FORBIDDEN');
      expectProblem(await put(undefined, 'https://evil.example.com/x.mp4'), 401, 'UNAUTHENTICATED');
      for (const bad of ['ftp://video.example.com/x.mp4', 'javascript:alert(1)', 'not a url', '', 42]) expectProblem(await put(m.seller.token, bad), 400, 'VALIDATION');
      expectProblem(await put(m.seller.token, url, '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f'), 404, 'NOT_FOUND');
      expect((await replayAs(adminToken)).body.recordingUrl).toBe(url);

      expect((await put(adminToken, null)).status).toBe(204);
      expect((await replayAs(adminToken)).body.recordingUrl).toBeNull();
    });

    it('gavel verify-auction <id> checks the journal in the database and prints the verdict', CLI, async () => {
      const env: Env = t.storage.databaseUrl ? { DATABASE_URL: t.storage.databaseUrl } : {};
      const storage = ['--data-dir', t.storage.dataDir];
      const [byId, unknown] = await Promise.all([
        runCli(['verify-auction', auctionId, ...storage], { env, ...CLI_RUN }),
        runCli(['verify-auction', '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f', ...storage], { env, ...CLI_RUN }),
      ]);
      expect(byId.code, byId.stdout + byId.stderr).toBe(0);
      expect(byId.stdout).toContain(`auction ${auctionId}: verified`);
      expect(byId.stdout).toContain(`entries    ${full.entries.length} `);
      expect(byId.stdout).toContain(`last hash  ${full.lastHash}`);
      expect(byId.stdout).toMatch(/outcome +sold \(closed by timer\)/);
      expect(byId.stdout).toContain(`winner     bidder 2 (user ${ben.id}) at 56.00 USD`);
      expect(unknown.code, unknown.stdout + unknown.stderr).toBe(2);
      expect(unknown.stderr).toMatch(/no auction 01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f/);
    });

    if (dialect !== 'sqlite') return; // the file cases do not depend on the database: once is enough

    it('gavel verify-auction <file> exits 0 on the replay as served, 1 naming the seq when tampered, 2 on usage errors', CLI, async () => {
      const write = (name: string, content: unknown) => {
        const path = join(dir, name);
        writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
        return path;
      };
      const bensBid = seqOf(full, (e) => e.type === 'BidAccepted' && e.event.bidder.bidderId === ben.id && e.event.result === 'leads');
      const amountChanged = copy(full);
      editPayload(amountChanged, bensBid, (event) => (event.amountMinor = '4000'));
      // A rewrite that follows the rules (the close one millisecond later) passes the chain and
      // the fold; only the last hash published beside it gives it away.
      const rewritten = copy(full);
      const last = rewritten.entries.at(-1)!;
      editPayload(rewritten, last.seq, (event) => (event.atMs += 1));
      last.atMs += 1;
      rechain(rewritten, rewritten.entries.length - 1);
      rewritten.lastHash = full.lastHash;
      const eventShownWrong = copy(full);
      eventShownWrong.entries[bensBid - 1]!.event.amountMinor = '4000';

      const cases = {
        asServed: write('full.json', full),
        amountChanged: write('amount.json', amountChanged),
        rewritten: write('rewritten.json', rewritten),
        eventShownWrong: write('shown.json', eventShownWrong),
        room: write('room.json', after.get('stranger')!.body),
        notJson: write('not.json', '{"entries": ['),
        notReplay: write('other.json', { hello: 'world' }),
        missing: join(dir, 'no-such-file.json'),
      };
      const runs = await Promise.all([...Object.values(cases).map((path) => runCli(['verify-auction', path], CLI_RUN)), runCli(['verify-auction'], CLI_RUN)]);
      const [asServed, amount, rewrite, shown, room, notJson, notReplay, missing, noArgument] = runs;
      const out = (r: CliRun | undefined) => `${r!.stdout}${r!.stderr}`;

      expect(asServed!.code, out(asServed)).toBe(0);
      expect(asServed!.stdout).toContain(`auction ${auctionId}: verified`);
      expect(asServed!.stdout).toContain(`last hash  ${full.lastHash}`);
      expect(asServed!.stdout).toContain(`winner     bidder 2 (user ${ben.id}) at 56.00 USD`);

      expect(amount!.code, out(amount)).toBe(1);
      expect(amount!.stdout).toMatch(new RegExp(`NOT VERIFIED at seq ${bensBid}: hash does not match the entry`));
      expect(rewrite!.code, out(rewrite)).toBe(1);
      expect(rewrite!.stdout).toMatch(new RegExp(`NOT VERIFIED at seq ${last.seq}: the journal ends at hash [0-9a-f]{64}, but the replay's "lastHash" is ${full.lastHash}`));
      expect(shown!.code, out(shown)).toBe(1);
      expect(shown!.stdout).toContain(`NOT VERIFIED at seq ${bensBid}: the event shown differs from its hashed payload`);

      expect(room!.code, out(room)).toBe(2);
      expect(room!.stderr).toMatch(/room's view .*only the full journal can be verified/);
      expect(notJson!.code, out(notJson)).toBe(2);
      expect(notJson!.stderr).toMatch(/is not JSON/);
      expect(notReplay!.code, out(notReplay)).toBe(2);
      expect(notReplay!.stderr).toMatch(/is not an auction replay/);
      expect(missing!.code, out(missing)).toBe(2);
      expect(missing!.stderr).toMatch(/cannot read .*no-such-file\.json/);
      expect(noArgument!.code, out(noArgument)).toBe(2);
      expect(noArgument!.stderr).toMatch(/Usage: gavel verify-auction/);
      for (const r of runs) expect(r!.stderr, out(r)).not.toMatch(/\n\s+at /); // messages, not stack traces
    });
  });
}
