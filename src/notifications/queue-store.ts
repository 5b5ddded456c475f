// The delivery queue's tables: jobs (one per notification, channel and destination) and the log
// of every attempt. Claiming is one statement that takes the due heads of lanes and leases them;
// on PostgreSQL with FOR UPDATE SKIP LOCKED, so nodes sharing the database never take the same
// job, and on SQLite under its one writer.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { toNumber, type Database, type Dialect } from '../platform/db/database.js';
import { PreparedBySize, PreparedQuery, rowSlots, rowValues } from '../platform/db/prepared-query.js';
import type { NotificationKind, QueuedChannel } from './model.js';

type Int = bigint | number;

export type JobState = 'pending' | 'delivered' | 'dead' | 'cancelled';

interface JobsTable {
  id: string;
  seq: Int;
  lane: string;
  event_id: string;
  recipient_user_id: string;
  kind: string;
  channel: string;
  target: string;
  notification_id: string;
  payload: string;
  state: string;
  attempts: Int;
  due_at_ms: Int;
  lease_token: string | null;
  last_error: string | null;
  last_attempt_at_ms: Int | null;
  created_at_ms: Int;
  finished_at_ms: Int | null;
}

interface AttemptsTable {
  id: string;
  job_id: string;
  notification_id: string;
  kind: string;
  webhook_id: string | null;
  channel: string;
  attempt: Int;
  outcome: string;
  status_code: Int | null;
  error: string | null;
  duration_ms: Int;
  at_ms: Int;
}

export interface QueueTables {
  notifications_jobs: JobsTable;
  notifications_attempts: AttemptsTable;
}
type Executor = Kysely<QueueTables>;

/** What a job carries to its destination: the notification as a client sees it. */
export interface DeliveryPayload {
  id: string;
  kind: NotificationKind;
  title: string;
  body: string;
  data: Record<string, string | number | boolean | null>;
  createdAt: string;
}

export interface NewJob {
  id: string;
  lane: string;
  eventId: string;
  recipientUserId: string;
  kind: NotificationKind;
  channel: QueuedChannel;
  /** The webhook's id; '' for e-mail (the person's address, looked up when sending). */
  target: string;
  payload: DeliveryPayload;
  createdAtMs: number;
}

export interface Job extends NewJob {
  seq: number;
  state: JobState;
  attempts: number;
  dueAtMs: number;
  leaseToken: string | null;
  lastError: string | null;
  lastAttemptAtMs: number | null;
  finishedAtMs: number | null;
}

export interface Attempt {
  id: string;
  jobId: string;
  notificationId: string;
  kind: NotificationKind;
  webhookId: string | null;
  channel: QueuedChannel;
  attempt: number;
  outcome: 'delivered' | 'failed';
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  atMs: number;
}

/** How an attempt ended, to be written with the lease it was made under. */
export interface Finished {
  jobId: string;
  leaseToken: string;
  state: Exclude<JobState, 'pending'> | 'pending';
  /** When a job going back to pending may be tried again. */
  dueAtMs: number;
  error: string | null;
  nowMs: number;
  attempt: Attempt | undefined;
}

const nullableNumber = (v: Int | null) => (v === null ? null : toNumber(v));

function toJob(r: JobsTable): Job {
  return {
    id: r.id,
    seq: toNumber(r.seq),
    lane: r.lane,
    eventId: r.event_id,
    recipientUserId: r.recipient_user_id,
    kind: r.kind as NotificationKind,
    channel: r.channel as QueuedChannel,
    target: r.target,
    payload: JSON.parse(r.payload) as DeliveryPayload,
    createdAtMs: toNumber(r.created_at_ms),
    state: r.state as JobState,
    attempts: toNumber(r.attempts),
    dueAtMs: toNumber(r.due_at_ms),
    leaseToken: r.lease_token,
    lastError: r.last_error,
    lastAttemptAtMs: nullableNumber(r.last_attempt_at_ms),
    finishedAtMs: nullableNumber(r.finished_at_ms),
  };
}

function toAttempt(r: AttemptsTable): Attempt {
  return {
    id: r.id,
    jobId: r.job_id,
    notificationId: r.notification_id,
    kind: r.kind as NotificationKind,
    webhookId: r.webhook_id,
    channel: r.channel as QueuedChannel,
    attempt: toNumber(r.attempt),
    outcome: r.outcome as Attempt['outcome'],
    statusCode: nullableNumber(r.status_code),
    error: r.error,
    durationMs: toNumber(r.duration_ms),
    atMs: toNumber(r.at_ms),
  };
}

/** How the two databases take jobs; the only place they differ. */
const LOCK_CANDIDATES: Record<Dialect, RawBuilder<unknown>> = {
  // One writer: the statement runs whole before any other.
  sqlite: sql``,
  // A job another node is taking right now is skipped, never waited for or taken twice.
  postgres: sql`for update of j skip locked`,
};

export interface ClaimOptions {
  nowMs: number;
  leaseMs: number;
  limit: number;
  /** Marks the leases of this claim: only its holder can write the outcome. */
  leaseToken: string;
}

/** Rows deleted per statement when pruning, so a prune never holds the writer for long. */
const PRUNE_BATCH = 1_000;
/** Jobs one event makes (e-mail and a few webhooks) and attempts one turn writes: prepared queries kept up to these. */
const PREPARED_JOBS_MAX = 8;
const PREPARED_ATTEMPTS_MAX = 64;

const JOB_COLUMNS = ['id', 'seq', 'lane', 'event_id', 'recipient_user_id', 'kind', 'channel', 'target', 'notification_id', 'payload', 'state', 'attempts', 'due_at_ms', 'lease_token', 'last_error', 'last_attempt_at_ms', 'created_at_ms', 'finished_at_ms'] as const;
const ATTEMPT_COLUMNS = ['id', 'job_id', 'notification_id', 'kind', 'webhook_id', 'channel', 'attempt', 'outcome', 'status_code', 'error', 'duration_ms', 'at_ms'] as const;

export class QueueStore {
  readonly db: Executor;
  private readonly dbAsyncCommit: Executor;
  private readonly lockCandidates: RawBuilder<unknown>;

  // The statements each event and each delivery runs, built and compiled once.
  private readonly lastSeq: PreparedQuery<never, { seq: Int | null }>;
  private readonly insertJobs: PreparedBySize<string, unknown>;
  private readonly claimDue: PreparedQuery<'leaseToken' | 'leaseUntilMs' | 'nowMs' | 'limit', JobsTable>;
  private readonly insertAttempts: PreparedBySize<string, unknown>;
  private readonly finishJob: PreparedQuery<'state' | 'dueAtMs' | 'error' | 'finishedAtMs' | 'jobId' | 'leaseToken', unknown>;

  constructor(private readonly database: Database) {
    this.db = database.kysely as unknown as Executor;
    this.dbAsyncCommit = database.asyncCommit as unknown as Executor;
    this.lockCandidates = LOCK_CANDIDATES[database.dialect];
    const db = this.db as Kysely<any>;
    this.lastSeq = new PreparedQuery(db, (q: Executor) => q.selectFrom('notifications_jobs').select((eb) => eb.fn.max('seq').as('seq')));
    this.insertJobs = new PreparedBySize(db, PREPARED_JOBS_MAX, (q: Executor, slot, size) =>
      q
        .insertInto('notifications_jobs')
        .values(Array.from({ length: size }, (_, i) => rowSlots(JOB_COLUMNS, slot, i)))
        .onConflict((oc) => oc.columns(['event_id', 'recipient_user_id', 'kind', 'channel', 'target']).doNothing()),
    );
    this.claimDue = new PreparedQuery(
      db,
      (_q, slot) => sql<JobsTable>`
      update notifications_jobs
         set lease_token = ${slot('leaseToken')}, due_at_ms = ${slot('leaseUntilMs')}, attempts = attempts + 1, last_attempt_at_ms = ${slot('nowMs')}
       where id in (
         select j.id from notifications_jobs j
          where j.state = 'pending' and j.due_at_ms <= ${slot('nowMs')}
            and not exists (select 1 from notifications_jobs e where e.lane = j.lane and e.state = 'pending' and e.seq < j.seq)
          order by j.due_at_ms, j.seq
          limit ${slot('limit')}
          ${this.lockCandidates})
      returning *`,
    );
    this.insertAttempts = new PreparedBySize(db, PREPARED_ATTEMPTS_MAX, (q: Executor, slot, size) =>
      q.insertInto('notifications_attempts').values(Array.from({ length: size }, (_, i) => rowSlots(ATTEMPT_COLUMNS, slot, i))),
    );
    this.finishJob = new PreparedQuery(db, (q: Executor, slot) =>
      q
        .updateTable('notifications_jobs')
        .set({ state: slot('state'), due_at_ms: slot('dueAtMs'), lease_token: null, last_error: slot('error'), finished_at_ms: slot('finishedAtMs') })
        .where('id', '=', slot('jobId'))
        .where('lease_token', '=', slot('leaseToken')),
    );
  }

  /**
   * Adds jobs inside the caller's transaction (the outbox delivery's), after every job there.
   * One job per (event, recipient, kind, channel, target): a job there already is left alone.
   * Only the inbox consumer adds jobs, one delivery at a time, so max(seq) + 1 keeps their order.
   */
  async enqueue(tx: Kysely<any>, jobs: readonly NewJob[]): Promise<number> {
    if (jobs.length === 0) return 0;
    const last = (await this.lastSeq.execute(tx, {})).rows[0];
    const from = last?.seq === null || last?.seq === undefined ? 0 : toNumber(last.seq);
    const rows: JobsTable[] = jobs.map((j, i) => ({
      id: j.id,
      seq: from + i + 1,
      lane: j.lane,
      event_id: j.eventId,
      recipient_user_id: j.recipientUserId,
      kind: j.kind,
      channel: j.channel,
      target: j.target,
      notification_id: j.payload.id,
      payload: JSON.stringify(j.payload),
      state: 'pending',
      attempts: 0,
      due_at_ms: j.createdAtMs,
      lease_token: null,
      last_error: null,
      last_attempt_at_ms: null,
      created_at_ms: j.createdAtMs,
      finished_at_ms: null,
    }));
    const inserted = (await this.insertJobs.forSize(rows.length).execute(tx, rowValues(rows, JOB_COLUMNS))).numAffectedRows;
    return Number(inserted ?? 0n);
  }

  /**
   * Leases up to `limit` jobs that are due and first in their lane (nothing older there is
   * still pending, whether waiting or held by a worker), counting the attempt. A worker that
   * dies with a lease leaves the job due again when the lease ends.
   */
  async claim(options: ClaimOptions, tx: Kysely<any> = this.db): Promise<Job[]> {
    const { nowMs, leaseMs, limit, leaseToken } = options;
    if (limit <= 0) return [];
    const result = await this.claimDue.execute(tx, { leaseToken, leaseUntilMs: nowMs + leaseMs, nowMs, limit });
    return result.rows.map(toJob).sort((a, b) => a.seq - b.seq);
  }

  /**
   * One commit for a worker pool's turn: writes how the attempts that ended went, then leases
   * the next jobs — a lane's next job is taken only once its predecessor's outcome is in.
   * An attempt whose lease is gone (it ran past it and another worker took the job) changes
   * nothing but its log line. Returns the ids whose outcome was written and the jobs taken.
   * The commit is asynchronous (Database.asyncCommit): the workers do not wait for it to reach
   * the disk, since a lease or an outcome lost with the machine is a delivery made again, which
   * at-least-once delivery allows.
   */
  async finishAndClaim(results: readonly Finished[], claim: ClaimOptions): Promise<{ applied: Set<string>; claimed: Job[] }> {
    if (results.length === 0) return { applied: new Set(), claimed: await this.claim(claim, this.dbAsyncCommit) };
    return this.dbAsyncCommit.transaction().execute(async (tx) => {
      const applied = await this.finish(tx, results);
      return { applied, claimed: await this.claim(claim, tx) };
    });
  }

  private async finish(tx: Kysely<any>, results: readonly Finished[]): Promise<Set<string>> {
    const applied = new Set<string>();
    const attempts: AttemptsTable[] = results.flatMap((r) => {
      const a = r.attempt;
      if (!a) return [];
      return [{ id: a.id, job_id: a.jobId, notification_id: a.notificationId, kind: a.kind, webhook_id: a.webhookId, channel: a.channel, attempt: a.attempt, outcome: a.outcome, status_code: a.statusCode, error: a.error, duration_ms: a.durationMs, at_ms: a.atMs }];
    });
    if (attempts.length > 0) {
      await this.insertAttempts.forSize(attempts.length).execute(tx, rowValues(attempts, ATTEMPT_COLUMNS));
    }
    for (const r of results) {
      const done = r.state !== 'pending';
      const updated = await this.finishJob.execute(tx, { state: r.state, dueAtMs: r.dueAtMs, error: r.error, finishedAtMs: done ? r.nowMs : null, jobId: r.jobId, leaseToken: r.leaseToken });
      if (Number(updated.numAffectedRows ?? 0n) === 1) applied.add(r.jobId);
    }
    return applied;
  }

  /** Dead letters, newest first, strictly before `beforeId` when given. */
  async listDead(query: { beforeId: string | undefined; limit: number }): Promise<Job[]> {
    let q = this.db.selectFrom('notifications_jobs').selectAll().where('state', '=', 'dead');
    if (query.beforeId !== undefined) q = q.where('id', '<', query.beforeId);
    return (await q.orderBy('id', 'desc').limit(query.limit).execute()).map(toJob);
  }

  async find(id: string): Promise<Job | undefined> {
    const row = await this.db.selectFrom('notifications_jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toJob(row);
  }

  /** Puts dead letters back in their lanes with fresh attempts, due now; returns how many moved. */
  async redrive(options: { ids?: readonly string[]; limit: number; nowMs: number }): Promise<number> {
    return this.db.transaction().execute(async (tx) => {
      let q = tx.selectFrom('notifications_jobs').select('id').where('state', '=', 'dead');
      if (options.ids) q = q.where('id', 'in', options.ids);
      const ids = (await this.database.forUpdate(q.orderBy('id').limit(options.limit)).execute()).map((r) => r.id);
      if (ids.length === 0) return 0;
      const updated = await tx
        .updateTable('notifications_jobs')
        .set({ state: 'pending', attempts: 0, due_at_ms: options.nowMs, lease_token: null, finished_at_ms: null })
        .where('id', 'in', ids)
        .where('state', '=', 'dead')
        .executeTakeFirst();
      return Number(updated.numUpdatedRows);
    });
  }

  async countDead(): Promise<number> {
    const row = await this.db.selectFrom('notifications_jobs').select((eb) => eb.fn.countAll().as('n')).where('state', '=', 'dead').executeTakeFirstOrThrow();
    return toNumber(row.n as Int);
  }

  /** Jobs by state, for operators and benchmarks. */
  async countByState(): Promise<Record<JobState, number>> {
    const rows = await this.db.selectFrom('notifications_jobs').select(['state', (eb) => eb.fn.countAll().as('n')]).groupBy('state').execute();
    const out: Record<JobState, number> = { pending: 0, delivered: 0, dead: 0, cancelled: 0 };
    for (const r of rows) out[r.state as JobState] = toNumber(r.n as Int);
    return out;
  }

  /** A deleted webhook's waiting jobs are cancelled with it (in its transaction), freeing nothing else. */
  async cancelTarget(tx: Kysely<any>, target: string, nowMs: number): Promise<void> {
    await (tx as Executor)
      .updateTable('notifications_jobs')
      .set({ state: 'cancelled', lease_token: null, last_error: 'the webhook was deleted', finished_at_ms: nowMs })
      .where('target', '=', target)
      .where('channel', '=', 'webhook')
      .where('state', 'in', ['pending', 'dead'])
      .execute();
  }

  /** A webhook's attempts, newest first, strictly before `beforeId` when given. */
  async attemptsOf(webhookId: string, query: { beforeId: string | undefined; limit: number }): Promise<Attempt[]> {
    let q = this.db.selectFrom('notifications_attempts').selectAll().where('webhook_id', '=', webhookId);
    if (query.beforeId !== undefined) q = q.where('id', '<', query.beforeId);
    return (await q.orderBy('id', 'desc').limit(query.limit).execute()).map(toAttempt);
  }

  /** Deletes finished jobs and attempts older than `beforeMs`, a batch at a time; returns how many. */
  async prune(beforeMs: number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const jobs = await this.db
        .deleteFrom('notifications_jobs')
        .where('id', 'in', (eb) =>
          eb.selectFrom('notifications_jobs').select('id').where('state', 'in', ['delivered', 'cancelled']).where('finished_at_ms', '<', beforeMs).limit(PRUNE_BATCH),
        )
        .executeTakeFirst();
      const attempts = await this.db
        .deleteFrom('notifications_attempts')
        .where('id', 'in', (eb) => eb.selectFrom('notifications_attempts').select('id').where('at_ms', '<', beforeMs).limit(PRUNE_BATCH))
        .executeTakeFirst();
      const n = Number(jobs.numDeletedRows) + Number(attempts.numDeletedRows);
      deleted += n;
      if (n === 0) return deleted;
    }
  }
}
