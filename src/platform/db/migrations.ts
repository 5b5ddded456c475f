// Each module owns its tables and migrates them with its own history table
// (`<module>_migrations`), so modules can be moved apart without untangling a shared log.
import { Migrator, type Migration } from 'kysely';
import type { Database } from './database.js';

export interface ModuleMigrations {
  module: string;
  /** Applied in name order; names never change once released. */
  migrations: Record<string, Migration>;
}

export async function migrateModule(database: Database, set: ModuleMigrations): Promise<string[]> {
  const migrator = new Migrator({
    db: database.kysely,
    provider: { getMigrations: async () => set.migrations },
    migrationTableName: `${set.module}_migrations`,
    migrationLockTableName: `${set.module}_migrations_lock`,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw new Error(`migrating ${set.module} failed: ${(error as Error).message}`, { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => `${set.module}/${r.migrationName}`);
}

export async function migrateAll(database: Database, sets: readonly ModuleMigrations[]): Promise<string[]> {
  const applied: string[] = [];
  for (const set of sets) applied.push(...(await migrateModule(database, set)));
  return applied;
}
