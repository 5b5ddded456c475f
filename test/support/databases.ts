// Storage under test. Contract tests loop over DIALECTS; each gets a fresh database:
// a temp dir for SQLite, a new PostgreSQL database (dropped afterwards) for PostgreSQL.
// PostgreSQL is skipped with a message where unreachable, unless GAVEL_REQUIRE_SERVICES=1.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { Dialect } from '../../src/platform/db/database.js';

export const POSTGRES_ADMIN_URL = process.env.GAVEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const SERVICES_REQUIRED = process.env.GAVEL_REQUIRE_SERVICES === '1';

async function postgresReachable(): Promise<boolean> {
  const sql = postgres(POSTGRES_ADMIN_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

const postgresAvailable = await postgresReachable();
if (!postgresAvailable) {
  if (SERVICES_REQUIRED) throw new Error(`GAVEL_REQUIRE_SERVICES=1 but PostgreSQL is unreachable at ${POSTGRES_ADMIN_URL}`);
  console.warn(`[skip] PostgreSQL tests skipped: nothing answers at ${POSTGRES_ADMIN_URL} (set GAVEL_TEST_POSTGRES_URL, or GAVEL_REQUIRE_SERVICES=1 to fail instead)`);
}

/** The dialects this run tests: always SQLite, PostgreSQL where reachable. */
export const DIALECTS: readonly Dialect[] = postgresAvailable ? ['sqlite', 'postgres'] : ['sqlite'];

export interface ScratchStorage {
  dataDir: string;
  databaseUrl: string | undefined;
  drop(): Promise<void>;
}

/** A fresh, empty store for one dialect. `drop` removes it. */
export async function scratchStorage(dialect: Dialect): Promise<ScratchStorage> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gavel-test-'));
  if (dialect === 'sqlite') {
    return { dataDir, databaseUrl: undefined, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `gavel_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(POSTGRES_ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    dataDir,
    databaseUrl: url.toString(),
    drop: async () => {
      const sql = postgres(POSTGRES_ADMIN_URL, { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop database if exists ${name} with (force)`);
      await sql.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
