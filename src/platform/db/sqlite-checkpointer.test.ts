// The checkpoint worker: it copies committed pages into the database file while the main
// connection goes on writing, and with SQLite's own checkpoint behind it the WAL stays short.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { WalCheckpointer } from './sqlite-checkpointer.js';
import { openSqlite, SQLITE_FILE_NAME } from './sqlite-adapter.js';

const scratchDirs: string[] = [];
afterAll(() => scratchDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gavel-checkpoint-'));
  scratchDirs.push(dir);
  return dir;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const PAGE = 4096;

describe('the checkpoint worker', () => {
  it('copies committed pages into the database file while the writer goes on', async () => {
    const file = join(scratchDir(), 'db.sqlite');
    const db = new BetterSqlite3(file);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0'); // only the worker copies here
    db.exec('create table t (id integer primary key, v text)');
    const insert = db.prepare('insert into t (v) values (?)');
    const checkpointer = new WalCheckpointer(file);
    try {
      const before = statSync(file).size;
      for (let i = 0; i < 40; i++) {
        db.transaction(() => {
          for (let j = 0; j < 20; j++) insert.run('x'.repeat(500));
        })();
        await pause(5); // the writer's event loop turns; the worker copies meanwhile
      }
      for (let tries = 0; tries < 200 && statSync(file).size < 40 * 20 * 500; tries++) await pause(10);
      expect(checkpointer.copies).toBeGreaterThan(0);
      // 400 KB of rows went through the WAL into the file, which the writer never checkpointed.
      expect(statSync(file).size - before).toBeGreaterThan(40 * 20 * 500);
      expect((db.prepare('select count(*) as n from t').get() as { n: number }).n).toBe(800);
    } finally {
      await checkpointer.close();
      db.close();
    }
    // Closed: nothing copies any more, and a second close is harmless.
    await checkpointer.close();
  });

  it('keeps the WAL of an embedded store about as short as SQLite alone would, under steady writes', async () => {
    const dataDir = scratchDir();
    const database = openSqlite(dataDir);
    try {
      await sql`create table t (id integer primary key, k text, v text)`.execute(database.kysely);
      await sql`create index t_k on t (k)`.execute(database.kysely);
      let longest = 0;
      for (let i = 0; i < 1_500; i++) {
        await database.kysely.transaction().execute(async (tx) => {
          for (let j = 0; j < 10; j++) await sql`insert into t (k, v) values (${String((i * 7919 + j * 104_729) % 1_000_003)}, ${'x'.repeat(300)})`.execute(tx);
        });
        if (i % 50 === 0) longest = Math.max(longest, statSync(join(dataDir, `${SQLITE_FILE_NAME}-wal`)).size);
      }
      // 15,000 rows are about 6 MB, and far more through their index pages: a WAL that never
      // started over would hold all of it. SQLite starts it over past 1,000 pages.
      expect(longest).toBeLessThan(1_600 * PAGE);
      const { rows } = await sql<{ n: number | bigint }>`select count(*) as n from t`.execute(database.kysely);
      expect(Number(rows[0]!.n)).toBe(15_000);
    } finally {
      await database.close();
    }
  });
});
