import type { Kysely, Migration } from 'kysely';

export const fencesMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('cluster_fences')
      .addColumn('market', 'text', (c) => c.primaryKey())
      .addColumn('token', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .execute();
  },
};
