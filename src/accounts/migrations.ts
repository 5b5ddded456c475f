import { sql, type Kysely } from 'kysely';
import type { ModuleMigrations } from '../platform/db/migrations.js';

export const accountsMigrations: ModuleMigrations = {
  module: 'accounts',
  migrations: {
    '0001_users_and_sessions': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('accounts_users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('email', 'text', (c) => c.notNull())
          // Lower-cased email: uniqueness is case-insensitive, the address is shown as typed.
          .addColumn('email_key', 'text', (c) => c.notNull())
          .addColumn('user_group', 'integer', (c) => c.notNull())
          .addColumn('roles', 'text', (c) => c.notNull())
          .addColumn('reputation', 'integer', (c) => c.notNull())
          .addColumn('password_hash', 'text')
          .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('deleted_at_ms', 'bigint')
          .execute();
        // Deleted accounts keep their row (other modules refer to them) but free their email.
        await sql`create unique index accounts_users_email_key on accounts_users (email_key) where deleted_at_ms is null`.execute(db);

        await db.schema
          .createTable('accounts_sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('revoked_at_ms', 'bigint')
          .addColumn('created_from', 'text')
          .execute();
        await db.schema.createIndex('accounts_sessions_user').on('accounts_sessions').column('user_id').execute();

        await db.schema
          .createTable('accounts_reputation_changes')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('delta', 'integer', (c) => c.notNull())
          .addColumn('reputation_after', 'integer', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('accounts_reputation_changes_user').on('accounts_reputation_changes').column('user_id').execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.dropTable('accounts_reputation_changes').execute();
        await db.schema.dropTable('accounts_sessions').execute();
        await db.schema.dropTable('accounts_users').execute();
      },
    },
  },
};
