import { sql, type Kysely, type Migration } from 'kysely';

// Delivery beyond the inbox: the queue of e-mail and webhook jobs (with its attempts log), the
// webhooks people register, and their per-kind channel choices. Plain user ids, no foreign keys
// across modules.
export const deliveryMigration: Migration = {
  async up(db: Kysely<any>) {
    // One job per (notification, channel, destination); an event delivered again inserts nothing.
    // `lane` groups a destination's jobs, `seq` orders them; `due_at_ms` is when the job may be
    // tried next — after a failure the backoff, while a worker holds it the end of its lease.
    await db.schema
      .createTable('notifications_jobs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('lane', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('recipient_user_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('notification_id', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('due_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('lease_token', 'text')
      .addColumn('last_error', 'text')
      .addColumn('last_attempt_at_ms', 'bigint')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('finished_at_ms', 'bigint')
      .addUniqueConstraint('notifications_jobs_once', ['event_id', 'recipient_user_id', 'kind', 'channel', 'target'])
      .execute();
    // The head of each lane, and the jobs due now; the dead letters newest first; what to prune.
    await sql`create index notifications_jobs_lane on notifications_jobs (lane, seq) where state = 'pending'`.execute(db);
    await sql`create index notifications_jobs_due on notifications_jobs (due_at_ms, seq) where state = 'pending'`.execute(db);
    await sql`create index notifications_jobs_dead on notifications_jobs (id) where state = 'dead'`.execute(db);
    await sql`create index notifications_jobs_finished on notifications_jobs (finished_at_ms) where state in ('delivered', 'cancelled')`.execute(db);
    await db.schema.createIndex('notifications_jobs_seq').on('notifications_jobs').column('seq').execute();

    // Every attempt at a delivery: the webhook delivery log people read, and what operators debug with.
    await db.schema
      .createTable('notifications_attempts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('job_id', 'text', (c) => c.notNull())
      .addColumn('notification_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('webhook_id', 'text')
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('status_code', 'integer')
      .addColumn('error', 'text')
      .addColumn('duration_ms', 'integer', (c) => c.notNull())
      .addColumn('at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await sql`create index notifications_attempts_webhook on notifications_attempts (webhook_id, id) where webhook_id is not null`.execute(db);
    await db.schema.createIndex('notifications_attempts_at').on('notifications_attempts').column('at_ms').execute();

    await db.schema
      .createTable('notifications_webhooks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('secret', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('notifications_webhooks_user').on('notifications_webhooks').columns(['user_id', 'id']).execute();

    // Only the kinds a person changed; the rest follow the defaults (model.ts), which may improve.
    await db.schema
      .createTable('notifications_preferences')
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('inbox', 'integer', (c) => c.notNull())
      .addColumn('email', 'integer', (c) => c.notNull())
      .addColumn('webhook', 'integer', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('notifications_preferences_pk', ['user_id', 'kind'])
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('notifications_preferences').execute();
    await db.schema.dropTable('notifications_webhooks').execute();
    await db.schema.dropTable('notifications_attempts').execute();
    await db.schema.dropTable('notifications_jobs').execute();
  },
};
