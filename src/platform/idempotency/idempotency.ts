// Idempotency-Key for requests that move money or create something: the same key with the
// same request returns the first answer; with a different request it is refused (422).
// Keys are scoped to the caller and kept for 24 hours.
import { createHash } from 'node:crypto';
import type { Kysely, Migration } from 'kysely';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, fieldError } from '../errors.js';
import { toNumber, type Database } from '../db/database.js';
import type { ModuleMigrations } from '../db/migrations.js';
import type { Clock } from '../clock.js';
import { outboxMigration } from '../outbox/outbox.js';
import { busInboxMigration } from '../bus/inbox-migration.js';
import { busDeadLettersMigration } from '../bus/dead-letter-migration.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000;
/**
 * A claim still in progress after this long was left by a process that died mid-request (no
 * request runs this long): the next request with the key takes it over and runs anew. What the
 * dead one wrote carries references derived from the key, so the rerun does it only once.
 */
export const IDEMPOTENCY_CLAIM_TIMEOUT_MS = 60_000;
const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

interface IdempotencyTable {
  scope: string;
  key: string;
  request_hash: string;
  state: string;
  response_status: bigint | number | null;
  response_body: string | null;
  created_at_ms: bigint | number;
}
type Tables = { platform_idempotency_keys: IdempotencyTable };

const createTable: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('platform_idempotency_keys')
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('request_hash', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('response_status', 'integer')
      .addColumn('response_body', 'text')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('platform_idempotency_keys_pk', ['scope', 'key'])
      .execute();
    await db.schema.createIndex('platform_idempotency_keys_created').on('platform_idempotency_keys').column('created_at_ms').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('platform_idempotency_keys').execute();
  },
};

/** The platform's tables, one history for all of them: idempotency keys, the outbox, the bus's inbox and dead letters. */
export const platformMigrations: ModuleMigrations = { module: 'platform', migrations: { '0001_idempotency_keys': createTable, '0002_outbox': outboxMigration, '0003_bus_inbox': busInboxMigration, '0004_bus_dead_letters': busDeadLettersMigration } };

export class Idempotency {
  private readonly db: Kysely<Tables>;

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
  ) {
    this.db = database.kysely as unknown as Kysely<Tables>;
  }

  async prune(): Promise<void> {
    await this.db.deleteFrom('platform_idempotency_keys').where('created_at_ms', '<', this.clock.nowMs() - IDEMPOTENCY_RETENTION_MS).execute();
  }

  /**
   * Runs `work` once per (scope, key). Without the header it just runs. Successful answers are
   * kept and replayed; a failed request frees its key (it wrote nothing), so it can be retried.
   * `work` receives the key so it can derive references from it.
   */
  async handle<T>(req: FastifyRequest, reply: FastifyReply, scope: string, work: (key: string | undefined) => Promise<{ status: number; body: T }>): Promise<T> {
    const header = req.headers[IDEMPOTENCY_HEADER];
    if (header === undefined) return this.send(reply, await work(undefined));
    if (typeof header !== 'string' || !KEY_PATTERN.test(header)) throw fieldError('VALIDATION', 'headers', IDEMPOTENCY_HEADER, 'must be 1–200 visible ASCII characters');
    const requestHash = createHash('sha256').update(`${req.method} ${req.url}\n${JSON.stringify(req.body ?? null)}`).digest('base64url');

    const claimed = await this.claim(scope, header, requestHash);
    if (!claimed) {
      const row = await this.db.selectFrom('platform_idempotency_keys').selectAll().where('scope', '=', scope).where('key', '=', header).executeTakeFirst();
      if (!row) return this.handle(req, reply, scope, work); // freed meanwhile: try again
      if (row.request_hash !== requestHash) throw new AppError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request');
      if (row.state !== 'done' && toNumber(row.created_at_ms) <= this.clock.nowMs() - IDEMPOTENCY_CLAIM_TIMEOUT_MS) {
        await this.db
          .deleteFrom('platform_idempotency_keys')
          .where('scope', '=', scope)
          .where('key', '=', header)
          .where('state', '=', row.state)
          .where('created_at_ms', '=', row.created_at_ms)
          .execute();
        return this.handle(req, reply, scope, work);
      }
      if (row.state !== 'done') throw new AppError('IDEMPOTENCY_IN_PROGRESS', 'the first request with this Idempotency-Key has not finished; retry shortly', { headers: { 'retry-after': '1' } });
      reply.header('idempotent-replayed', 'true');
      return this.send(reply, { status: toNumber(row.response_status!), body: JSON.parse(row.response_body!) as T });
    }
    try {
      const answer = await work(header);
      await this.db
        .updateTable('platform_idempotency_keys')
        .set({ state: 'done', response_status: answer.status, response_body: JSON.stringify(answer.body) })
        .where('scope', '=', scope)
        .where('key', '=', header)
        .execute();
      return this.send(reply, answer);
    } catch (error) {
      await this.db.deleteFrom('platform_idempotency_keys').where('scope', '=', scope).where('key', '=', header).execute();
      throw error;
    }
  }

  private async claim(scope: string, key: string, requestHash: string): Promise<boolean> {
    try {
      await this.db
        .insertInto('platform_idempotency_keys')
        .values({ scope, key, request_hash: requestHash, state: 'in_progress', response_status: null, response_body: null, created_at_ms: this.clock.nowMs() })
        .execute();
      return true;
    } catch (error) {
      if (this.database.isUniqueViolation(error)) return false;
      throw error;
    }
  }

  private send<T>(reply: FastifyReply, answer: { status: number; body: T }): T {
    reply.code(answer.status);
    return answer.body;
  }
}
