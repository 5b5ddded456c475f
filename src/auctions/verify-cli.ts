// `gavel verify-auction <id|file>`: anyone holding an auction's full journal can check that
// its bid history was not altered afterwards. The journal is a hash chain (an entry changed,
// dropped or moved breaks it) and a fold through the auction's rules (events that could not
// have happened are refused). Offline from a replay file — the body of
// `GET /api/auctions/{id}/replay` as an insider receives it after the end — or straight from
// the database a `gavel start` uses. Exit 0: verified; 1: not verified (the seq and why);
// 2: a usage error (no argument, unreadable file, not a replay, unknown auction).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { flagOptions, flagsToKeys, loadConfig } from '../platform/config.js';
import { openDatabase, type Database } from '../platform/db/database.js';
import { SQLITE_FILE_NAME } from '../platform/db/sqlite-adapter.js';
import { isUuid } from '../platform/ids.js';
import type { ChainEntry } from '../platform/journal/hash-chain.js';
import { formatAmount } from '../platform/money.js';
import { labelOf, type AuctionState } from './model.js';
import { verifyReplay } from './service.js';
import { AuctionsStore } from './store.js';

type Env = Readonly<Record<string, string | undefined>>;

export const VERIFY_USAGE = `Usage: gavel verify-auction <auction id | replay file | -> [storage options]

Checks that an auction's bid history was not altered: the hash chain of its journal, then
every event against the auction's rules.
  replay file   the body of GET /api/auctions/{id}/replay as the seller, a participant or an
                admin receives it after the end ("view": "full"); - reads it from stdin
  auction id    reads the journal from the database, with the storage options of gavel start
                (--data-dir / GAVEL_DATA_DIR, --database-url / DATABASE_URL)
Exit status: 0 verified, 1 not verified (says at which seq and why), 2 usage error.`;

/** What was read: the entries to check, and what they must agree with. */
interface Journal {
  /** How the verdict names the auction. */
  auctionId: string | null;
  entries: ChainEntry[];
  /** Decoded events shown beside the payloads (a replay file's `event`), by index. */
  shown: unknown[];
  /** A last hash recorded apart from the entries: the file's `lastHash`, or the auction's row. */
  lastHash: { value: string; where: string } | null;
}

class UsageError extends Error {}

export async function verifyAuction(args: readonly string[], env: Env): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: { ...flagOptions(), help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  if (values.help) {
    console.log(VERIFY_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`gavel verify-auction needs exactly one auction id or replay file\n\n${VERIFY_USAGE}`);
    return 2;
  }
  const target = positionals[0]!;
  let journal: Journal;
  try {
    // A file that exists wins over an id of the same name.
    journal = target !== '-' && !existsSync(target) && isUuid(target) ? await fromDatabase(target.toLowerCase(), values, env) : fromFile(target);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`gavel verify-auction: ${error.message}`);
    return 2;
  }
  return verdict(journal);
}

// --- reading ----------------------------------------------------------------------------------

function fromFile(path: string): Journal {
  const name = path === '-' ? 'stdin' : path;
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${name}: ${(error as Error).message}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${name} is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(body) || !Array.isArray(body.entries)) throw new UsageError(`${name} is not an auction replay: it has no "entries" array`);
  // The room's view has no hashes and leaves events out: there is nothing to check it against.
  const room = body.view === 'room' || body.entries.some((e) => isObject(e) && e.hash === '' && e.payload === '');
  if (room) {
    throw new UsageError(
      `${name} is the room's view of the auction (no hashes, events left out): only the full journal can be verified. ` +
        'Fetch GET /api/auctions/{id}/replay after the end as the seller, a participant or an admin, or give the auction id with the database options.',
    );
  }
  const entries = body.entries.map((e, i) => entryOf(e, `${name}: entries[${i}]`));
  const auctionId = typeof body.auctionId === 'string' ? body.auctionId : null;
  const lastHash = typeof body.lastHash === 'string' ? { value: body.lastHash, where: `the replay's "lastHash"` } : null;
  return { auctionId, entries, shown: body.entries.map((e) => (e as Record<string, unknown>).event), lastHash };
}

function entryOf(value: unknown, where: string): ChainEntry {
  if (!isObject(value)) throw new UsageError(`${where} is not an object`);
  for (const field of ['seq', 'atMs'] as const) {
    if (!Number.isSafeInteger(value[field])) throw new UsageError(`${where}.${field} must be an integer`);
  }
  for (const field of ['type', 'payload', 'prevHash', 'hash'] as const) {
    if (typeof value[field] !== 'string') throw new UsageError(`${where}.${field} must be a string`);
  }
  const { seq, atMs, type, payload, prevHash, hash } = value as unknown as ChainEntry;
  return { seq, atMs, type, payload, prevHash, hash };
}

async function fromDatabase(auctionId: string, flags: Record<string, unknown>, env: Env): Promise<Journal> {
  const config = loadConfig(flagsToKeys(flags), env);
  // Opening SQLite creates the file: a mistyped data dir must not leave an empty database behind.
  if (!config.databaseUrl && !existsSync(join(config.dataDir, SQLITE_FILE_NAME))) {
    throw new UsageError(`no Gavel database in ${config.dataDir} (give --data-dir, or --database-url / DATABASE_URL)`);
  }
  let database: Database;
  try {
    database = await openDatabase(config);
  } catch (error) {
    throw new UsageError(`cannot open the database: ${(error as Error).message}`);
  }
  try {
    const store = new AuctionsStore(database);
    const read = async () => {
      const row = await store.findAuction(store.db, auctionId);
      return row ? { row, entries: await store.readJournal(store.db, auctionId) } : undefined;
    };
    const found = await read().catch((error: unknown) => {
      throw new UsageError(`cannot read auctions from ${database.describe}: ${(error as Error).message} (is it a Gavel database? gavel migrate creates the tables)`);
    });
    if (!found) throw new UsageError(`no auction ${auctionId} in ${database.describe}`);
    return { auctionId, entries: found.entries, shown: [], lastHash: { value: found.row.lastHash, where: "the auction's record" } };
  } finally {
    await database.close();
  }
}

// --- checking ---------------------------------------------------------------------------------

function verdict(journal: Journal): number {
  const name = journal.auctionId === null ? 'the journal' : `auction ${journal.auctionId}`;
  const fail = (seq: number | null, reason: string) => {
    console.log(`${name}: NOT VERIFIED${seq === null ? '' : ` at seq ${seq}`}: ${reason}`);
    return 1;
  };
  const { entries } = journal;
  if (entries.length === 0) return fail(null, 'the journal has no entries');
  const result = verifyReplay({ entries });
  if (!result.ok) return fail(result.seq, result.reason);
  // A replay file shows each event decoded beside its payload; only the payload is hashed, so
  // what a reader sees must be exactly that.
  for (let i = 0; i < journal.shown.length; i++) {
    const shown = journal.shown[i];
    if (shown !== undefined && !isDeepStrictEqual(shown, JSON.parse(entries[i]!.payload))) return fail(entries[i]!.seq, 'the event shown differs from its hashed payload');
  }
  const config = result.state.config!;
  if (journal.auctionId !== null && config.auctionId !== journal.auctionId) return fail(1, `the journal is of auction ${config.auctionId}, not ${journal.auctionId}`);
  if (journal.lastHash && journal.lastHash.value !== result.lastHash) {
    return fail(entries.at(-1)!.seq, `the journal ends at hash ${result.lastHash}, but ${journal.lastHash.where} is ${journal.lastHash.value || '(empty)'}`);
  }
  console.log(
    [
      `auction ${config.auctionId}: verified`,
      `  entries    ${result.entries} (seq 1 to ${result.entries}): the hash chain is intact and every event follows the auction's rules`,
      `  last hash  ${result.lastHash}`,
      ...summaryOf(result.state),
    ].join('\n'),
  );
  return 0;
}

function summaryOf(state: AuctionState): string[] {
  const config = state.config!;
  const money = (minor: bigint) => `${formatAmount(minor, config.currencyScale)} ${config.currency}`;
  const leader = state.leader;
  const who = leader ? `${labelOf(state, leader.bidder)}${leader.bidder.source === 'online' ? ` (user ${leader.bidder.bidderId})` : ''}` : null;
  switch (state.status) {
    case 'closed':
      return state.outcome === 'sold'
        ? [`  outcome    sold (closed by ${state.closedVia})`, `  winner     ${who} at ${money(state.priceMinor!)}`]
        : [`  outcome    unsold (closed by ${state.closedVia}; ${leader ? 'the reserve was not met' : 'no bids'})`];
    case 'cancelled':
      return [`  outcome    cancelled by ${state.cancellation!.byAdmin ? 'an admin' : 'the seller'}: ${state.cancellation!.reason}`];
    default:
      return [`  outcome    none yet: the auction is ${state.status}`, ...(who ? [`  leading    ${who} at ${money(state.priceMinor!)}`] : [])];
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
