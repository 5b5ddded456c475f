// The auctions module's tables: the auction rows (configuration + a projection of the state
// for discovery) and the journal. Every function takes the executor it runs on, so the engine
// writes journal entries, projections and ledger movements in one transaction.
import type { Kysely } from 'kysely';
import { toNumber, type Database } from '../platform/db/database.js';
import { PreparedBySize, PreparedQuery, rowSlots, rowValues } from '../platform/db/prepared-query.js';
import type { ChainEntry } from '../platform/journal/hash-chain.js';

type Int = bigint | number;

export interface AuctionsTable {
  id: string;
  lot_id: string;
  seller_id: string;
  kind: string;
  currency: string;
  category_id: string | null;
  title: string;
  description: string;
  status: string;
  outcome: string | null;
  starting_price_minor: Int;
  current_price_minor: Int;
  bid_count: Int;
  participant_count: Int;
  reserve_met: Int;
  starts_at_ms: Int;
  ends_at_ms: Int | null;
  closed_at_ms: Int | null;
  settled_at_ms: Int | null;
  seq: Int;
  last_hash: string;
  winner_id: string | null;
  recording_url: string | null;
  created_at_ms: Int;
}

interface JournalTable {
  auction_id: string;
  seq: Int;
  type: string;
  at_ms: Int;
  payload: string;
  prev_hash: string;
  hash: string;
}

interface SearchTable {
  auction_id: string;
  title: string;
  description: string;
}

export interface AuctionsTables {
  auctions_auctions: AuctionsTable;
  auctions_journal: JournalTable;
  auctions_search: SearchTable;
}

export type AuctionsExecutor = Kysely<AuctionsTables>;

/** The discovery projection of one auction. */
export interface AuctionRow {
  id: string;
  lotId: string;
  sellerId: string;
  kind: 'timed' | 'live';
  currency: string;
  categoryId: string | null;
  title: string;
  description: string;
  status: 'scheduled' | 'open' | 'closed' | 'cancelled';
  outcome: 'sold' | 'unsold' | null;
  startingPriceMinor: bigint;
  currentPriceMinor: bigint;
  bidCount: number;
  participantCount: number;
  reserveMet: boolean;
  startsAtMs: number;
  endsAtMs: number | null;
  closedAtMs: number | null;
  settledAtMs: number | null;
  seq: number;
  lastHash: string;
  winnerId: string | null;
  recordingUrl: string | null;
  createdAtMs: number;
}

/** What changes in the projection after each accepted command. */
export type AuctionProjection = Pick<
  AuctionRow,
  'status' | 'outcome' | 'currentPriceMinor' | 'bidCount' | 'participantCount' | 'reserveMet' | 'endsAtMs' | 'closedAtMs' | 'seq' | 'lastHash' | 'winnerId'
>;

export function toAuctionRow(r: AuctionsTable): AuctionRow {
  const opt = (v: Int | null) => (v === null ? null : toNumber(v));
  return {
    id: r.id,
    lotId: r.lot_id,
    sellerId: r.seller_id,
    kind: r.kind as AuctionRow['kind'],
    currency: r.currency,
    categoryId: r.category_id,
    title: r.title,
    description: r.description,
    status: r.status as AuctionRow['status'],
    outcome: r.outcome as AuctionRow['outcome'],
    startingPriceMinor: BigInt(r.starting_price_minor),
    currentPriceMinor: BigInt(r.current_price_minor),
    bidCount: toNumber(r.bid_count),
    participantCount: toNumber(r.participant_count),
    reserveMet: Number(r.reserve_met) === 1,
    startsAtMs: toNumber(r.starts_at_ms),
    endsAtMs: opt(r.ends_at_ms),
    closedAtMs: opt(r.closed_at_ms),
    settledAtMs: opt(r.settled_at_ms),
    seq: toNumber(r.seq),
    lastHash: r.last_hash,
    winnerId: r.winner_id,
    recordingUrl: r.recording_url,
    createdAtMs: toNumber(r.created_at_ms),
  };
}

function projectionColumns(p: AuctionProjection) {
  return {
    status: p.status,
    outcome: p.outcome,
    current_price_minor: p.currentPriceMinor,
    bid_count: p.bidCount,
    participant_count: p.participantCount,
    reserve_met: p.reserveMet ? 1 : 0,
    ends_at_ms: p.endsAtMs,
    closed_at_ms: p.closedAtMs,
    seq: p.seq,
    last_hash: p.lastHash,
    winner_id: p.winnerId,
  };
}

/** The columns `project` writes: every one projectionColumns makes (checked by the type below). */
const PROJECTION_COLUMNS = ['status', 'outcome', 'current_price_minor', 'bid_count', 'participant_count', 'reserve_met', 'ends_at_ms', 'closed_at_ms', 'seq', 'last_hash', 'winner_id'] as const;
const EVERY_PROJECTION_COLUMN: Exclude<keyof ReturnType<typeof projectionColumns>, (typeof PROJECTION_COLUMNS)[number]> extends never ? true : never = true;
void EVERY_PROJECTION_COLUMN;

/** Journal entries per command for which the prepared insert is kept. */
const PREPARED_ENTRIES_MAX = 8;
const JOURNAL_COLUMNS = ['seq', 'type', 'at_ms', 'payload', 'prev_hash', 'hash'] as const;

export class AuctionsStore {
  readonly db: AuctionsExecutor;
  // What every accepted bid writes (its journal entries and the auction's new state): built and
  // compiled once.
  private readonly updateProjection: PreparedQuery<string, unknown>;
  private readonly insertEntries: PreparedBySize<string, unknown>;

  constructor(readonly database: Database) {
    this.db = database.kysely as unknown as AuctionsExecutor;
    const db = this.db as Kysely<any>;
    this.updateProjection = new PreparedQuery(db, (q: AuctionsExecutor, slot) =>
      q
        .updateTable('auctions_auctions')
        .set(Object.fromEntries(PROJECTION_COLUMNS.map((c) => [c, slot(c)])))
        .where('id', '=', slot('id')),
    );
    this.insertEntries = new PreparedBySize(db, PREPARED_ENTRIES_MAX, (q: AuctionsExecutor, slot, size) =>
      q.insertInto('auctions_journal').values(
        Array.from({ length: size }, (_, i) => ({ auction_id: slot('auctionId'), ...rowSlots(JOURNAL_COLUMNS, slot, i) })),
      ),
    );
  }

  async insertAuction(ex: AuctionsExecutor, row: AuctionRow): Promise<void> {
    await ex
      .insertInto('auctions_auctions')
      .values({
        id: row.id,
        lot_id: row.lotId,
        seller_id: row.sellerId,
        kind: row.kind,
        currency: row.currency,
        category_id: row.categoryId,
        title: row.title,
        description: row.description,
        starting_price_minor: row.startingPriceMinor,
        starts_at_ms: row.startsAtMs,
        settled_at_ms: row.settledAtMs,
        recording_url: row.recordingUrl,
        created_at_ms: row.createdAtMs,
        ...projectionColumns(row),
      })
      .execute();
    if (this.database.dialect === 'sqlite') {
      await ex.insertInto('auctions_search').values({ auction_id: row.id, title: row.title, description: row.description }).execute();
    }
  }

  async project(ex: AuctionsExecutor, auctionId: string, p: AuctionProjection): Promise<void> {
    await this.updateProjection.execute(ex as Kysely<any>, { ...projectionColumns(p), id: auctionId });
  }

  async markSettled(ex: AuctionsExecutor, auctionId: string, nowMs: number): Promise<void> {
    await ex.updateTable('auctions_auctions').set({ settled_at_ms: nowMs }).where('id', '=', auctionId).execute();
  }

  async setRecordingUrl(ex: AuctionsExecutor, auctionId: string, url: string | null): Promise<void> {
    await ex.updateTable('auctions_auctions').set({ recording_url: url }).where('id', '=', auctionId).execute();
  }

  async findAuction(ex: AuctionsExecutor, id: string): Promise<AuctionRow | undefined> {
    const row = await ex.selectFrom('auctions_auctions').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toAuctionRow(row) : undefined;
  }

  /** Auctions an engine must hold in memory: running, or over but not yet settled. */
  async listUnfinished(ex: AuctionsExecutor): Promise<AuctionRow[]> {
    const rows = await ex
      .selectFrom('auctions_auctions')
      .selectAll()
      .where((eb) => eb.or([eb('status', 'in', ['scheduled', 'open']), eb('settled_at_ms', 'is', null)]))
      .orderBy('id')
      .execute();
    return rows.map(toAuctionRow);
  }

  async appendJournal(ex: AuctionsExecutor, auctionId: string, entries: readonly ChainEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const rows = entries.map((e) => ({ seq: e.seq, type: e.type, at_ms: e.atMs, payload: e.payload, prev_hash: e.prevHash, hash: e.hash }));
    await this.insertEntries.forSize(entries.length).execute(ex as Kysely<any>, { auctionId, ...rowValues(rows, JOURNAL_COLUMNS) });
  }

  /** Journal entries with seq > afterSeq, in order. */
  async readJournal(ex: AuctionsExecutor, auctionId: string, afterSeq = 0): Promise<ChainEntry[]> {
    const rows = await ex.selectFrom('auctions_journal').selectAll().where('auction_id', '=', auctionId).where('seq', '>', afterSeq).orderBy('seq').execute();
    return rows.map((r) => ({ seq: toNumber(r.seq), atMs: toNumber(r.at_ms), type: r.type, payload: r.payload, prevHash: r.prev_hash, hash: r.hash }));
  }

  /** For statistics: auctions closed within [fromMs, toMs). */
  async listClosedBetween(ex: AuctionsExecutor, fromMs: number, toMs: number, sellerId?: string): Promise<AuctionRow[]> {
    let q = ex.selectFrom('auctions_auctions').selectAll().where('status', 'in', ['closed', 'cancelled']).where('closed_at_ms', '>=', fromMs).where('closed_at_ms', '<', toMs);
    if (sellerId) q = q.where('seller_id', '=', sellerId);
    return (await q.orderBy('closed_at_ms').execute()).map(toAuctionRow);
  }

  /** True when the lot has a scheduled or open auction. */
  async lotIsRunning(ex: AuctionsExecutor, lotId: string): Promise<boolean> {
    const row = await ex.selectFrom('auctions_auctions').select('id').where('lot_id', '=', lotId).where('status', 'in', ['scheduled', 'open']).executeTakeFirst();
    return row !== undefined;
  }
}
