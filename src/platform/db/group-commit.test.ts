import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { scratchStorage, type ScratchStorage } from '../../../test/support/databases.js';
import { openDatabase, type Database } from './database.js';
import { GroupCommitter } from './group-commit.js';
import { SQLITE_FILE_NAME } from './sqlite-adapter.js';

describe('group commit on SQLite', () => {
  let storage: ScratchStorage;
  let database: Database;
  let reader: BetterSqlite3.Database;

  beforeAll(async () => {
    storage = await scratchStorage('sqlite');
    database = await openDatabase(storage);
    await sql`create table items (id integer primary key, label text not null unique)`.execute(database.kysely);
    // A second connection sees only what was committed.
    reader = new BetterSqlite3(join(storage.dataDir, SQLITE_FILE_NAME), { readonly: true });
  });
  afterAll(async () => {
    reader?.close();
    await database?.close();
    await storage?.drop();
  });

  const committed = (label: string) => reader.prepare('select count(*) as n from items where label = ?').get(label) as { n: number };

  it('a unit resolves only once its transaction committed, and a failing unit writes nothing while its neighbours commit', async () => {
    const committer = new GroupCommitter(database.kysely as any, 64);
    const units = Array.from({ length: 200 }, (_, i) =>
      committer
        .run(async (tx) => {
          await sql`insert into items (label) values (${`item-${i}`})`.execute(tx);
          if (i % 7 === 0) {
            // writes, then fails: its savepoint must take the write back
            await sql`insert into items (label) values (${`item-${i}`})`.execute(tx);
          }
          return i;
        })
        .then(
          (value) => {
            expect(committed(`item-${i}`).n).toBe(1);
            return { ok: true, value };
          },
          () => ({ ok: false, value: i }),
        ),
    );
    const outcomes = await Promise.all(units);
    for (const outcome of outcomes) {
      expect(outcome.ok).toBe(outcome.value % 7 !== 0);
      expect(committed(`item-${outcome.value}`).n).toBe(outcome.ok ? 1 : 0);
    }
  });

  it('units queued from many callers share transactions: fewer commits than units', async () => {
    const committer = new GroupCommitter(database.kysely as any, 256);
    const transactions = vi.spyOn(database.kysely, 'startTransaction');
    await Promise.all(Array.from({ length: 300 }, (_, i) => committer.run((tx) => sql`insert into items (label) values (${`shared-${i}`})`.execute(tx))));
    expect(committed('shared-299').n).toBe(1);
    expect(transactions.mock.calls.length).toBeGreaterThan(0);
    expect(transactions.mock.calls.length).toBeLessThanOrEqual(3);
    transactions.mockRestore();
  });
});
