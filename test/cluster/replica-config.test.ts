import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/platform/config.js';

const PRIMARY = { DATABASE_URL: 'postgres://gavel@db1:5432,db2:5432/gavel' };

describe('DATABASE_REPLICA_URLS', () => {
  it('is empty unless set: every read goes to the primary', () => {
    expect(loadConfig({}, PRIMARY).databaseReplicaUrls).toEqual([]);
  });

  it('takes comma-separated URLs, a multi-host URL among them staying whole; the flag wins', () => {
    const env = { ...PRIMARY, DATABASE_REPLICA_URLS: 'postgres://gavel@r1:5432,r2:5432/gavel?sslmode=require, postgresql://gavel@r3/gavel' };
    expect(loadConfig({}, env).databaseReplicaUrls).toEqual(['postgres://gavel@r1:5432,r2:5432/gavel?sslmode=require', 'postgresql://gavel@r3/gavel']);
    expect(loadConfig({ databaseReplicaUrls: 'postgres://r9/gavel' }, env).databaseReplicaUrls).toEqual(['postgres://r9/gavel']);
  });

  it.each(['r1:5432', 'mysql://r1/gavel', 'postgres://r1/gavel,r2', 'postgres:///gavel'])('refuses %j, naming the option', (value) => {
    expect(() => loadConfig({}, { ...PRIMARY, DATABASE_REPLICA_URLS: value })).toThrow(ConfigError);
    expect(() => loadConfig({}, { ...PRIMARY, DATABASE_REPLICA_URLS: value })).toThrow(/--database-replica-urls \/ DATABASE_REPLICA_URLS/);
  });

  it('needs DATABASE_URL: replicas are of a PostgreSQL primary, never of the embedded SQLite', () => {
    expect(() => loadConfig({}, { DATABASE_REPLICA_URLS: 'postgres://r1/gavel' })).toThrow(/needs DATABASE_URL/);
  });
});
