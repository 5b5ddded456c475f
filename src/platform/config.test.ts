import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PASSWORD_MIN_LENGTH } from './auth/passwords.js';
import { ConfigError, ROLES, flagOptions, flagsToKeys, loadConfig, parseRoles } from './config.js';

function configError(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  const config = loadConfig({}, {});

  it('listens on 127.0.0.1:8080', () => {
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
  });

  it('runs every role and logs at info', () => {
    expect([...config.roles].sort()).toEqual([...ROLES].sort());
    expect(config.logLevel).toBe('info');
  });

  it('uses embedded SQLite under ./data with no bus and no admin', () => {
    expect(config.databaseUrl).toBeUndefined();
    expect(config.natsUrl).toBeUndefined();
    expect(config.dataDir).toBe(resolve('./data'));
    expect(config.adminEmail).toBeUndefined();
    expect(config.adminPassword).toBeUndefined();
  });

  it('has bounded token lifetime, body limit and shutdown timeout', () => {
    expect(config.tokenTtlSeconds).toBe(86_400);
    expect(config.bodyLimitBytes).toBe(1_048_576);
    expect(config.shutdownTimeoutMs).toBe(10_000);
  });

  it('treats an empty environment variable as unset', () => {
    expect(loadConfig({}, { GAVEL_PORT: '', GAVEL_HOST: '', GAVEL_ROLE: '' })).toMatchObject({ port: 8080, host: '127.0.0.1' });
  });
});

describe('loadConfig sources', () => {
  it('takes a flag over the environment variable', () => {
    const config = loadConfig({ port: '9000', host: '0.0.0.0', logLevel: 'debug' }, { GAVEL_PORT: '7000', GAVEL_HOST: '10.0.0.1', GAVEL_LOG_LEVEL: 'warn' });
    expect(config).toMatchObject({ port: 9000, host: '0.0.0.0', logLevel: 'debug' });
  });

  it('uses the environment variable when no flag is given', () => {
    const config = loadConfig(
      {},
      {
        GAVEL_PORT: '7000',
        GAVEL_HOST: '0.0.0.0',
        GAVEL_ROLE: 'api',
        GAVEL_LOG_LEVEL: 'warn',
        GAVEL_DATA_DIR: '/tmp/gavel-data',
        DATABASE_URL: 'postgres://u:p@db:5432/gavel',
        NATS_URL: 'nats://bus:4222',
      },
    );
    expect(config).toMatchObject({
      port: 7000,
      host: '0.0.0.0',
      logLevel: 'warn',
      dataDir: '/tmp/gavel-data',
      databaseUrl: 'postgres://u:p@db:5432/gavel',
      natsUrl: 'nats://bus:4222',
    });
    expect([...config.roles]).toEqual(['api']);
  });

  it('accepts port 0 to pick a free port', () => {
    expect(loadConfig({ port: '0' }, {}).port).toBe(0);
  });

  it('accepts postgresql:// as well as postgres://, and tls:// for NATS', () => {
    expect(loadConfig({ databaseUrl: 'postgresql://db/gavel' }, {}).databaseUrl).toBe('postgresql://db/gavel');
    expect(loadConfig({}, { NATS_URL: 'tls://bus:4222' }).natsUrl).toBe('tls://bus:4222');
  });
});

describe('loadConfig rejects bad values with a message naming the option', () => {
  it.each(['abc', '-1', '65536', '80.5', '8080 ', '1e3'])('port %j', (port) => {
    expect(configError(() => loadConfig({ port }, {})).message).toContain('--port');
    expect(configError(() => loadConfig({}, { GAVEL_PORT: port })).message).toContain('GAVEL_PORT');
  });

  it('an unknown role', () => {
    expect(configError(() => loadConfig({ roles: 'api,bidder' }, {})).message).toContain('bidder');
  });

  it('an unknown log level', () => {
    expect(configError(() => loadConfig({}, { GAVEL_LOG_LEVEL: 'verbose' })).message).toContain('GAVEL_LOG_LEVEL');
  });

  it.each(['mysql://db/gavel', 'sqlite:///tmp/x', 'db.example.org:5432', 'postgres', 'postgres:db'])('DATABASE_URL %j', (url) => {
    expect(configError(() => loadConfig({}, { DATABASE_URL: url })).message).toContain('DATABASE_URL');
  });

  it.each(['http://bus:4222', 'bus:4222', 'nats'])('NATS_URL %j', (url) => {
    expect(configError(() => loadConfig({}, { NATS_URL: url })).message).toContain('NATS_URL');
  });

  it('a token lifetime below a minute', () => {
    expect(configError(() => loadConfig({ tokenTtlSeconds: '59' }, {})).message).toContain('--token-ttl-seconds');
  });
});

describe('loadConfig admin bootstrap', () => {
  const password = 'x'.repeat(PASSWORD_MIN_LENGTH);

  it('takes an email and a password together', () => {
    expect(loadConfig({}, { GAVEL_ADMIN_EMAIL: 'root@gavel.test', GAVEL_ADMIN_PASSWORD: password })).toMatchObject({
      adminEmail: 'root@gavel.test',
      adminPassword: password,
    });
  });

  it('refuses an email without a password, and a password without an email', () => {
    expect(configError(() => loadConfig({}, { GAVEL_ADMIN_EMAIL: 'root@gavel.test' })).message).toContain('GAVEL_ADMIN_PASSWORD');
    expect(configError(() => loadConfig({}, { GAVEL_ADMIN_PASSWORD: password })).message).toContain('GAVEL_ADMIN_EMAIL');
  });

  it('refuses a password shorter than 10 characters', () => {
    expect(PASSWORD_MIN_LENGTH).toBe(10);
    const error = configError(() => loadConfig({}, { GAVEL_ADMIN_EMAIL: 'root@gavel.test', GAVEL_ADMIN_PASSWORD: 'x'.repeat(9) }));
    expect(error.message).toContain('GAVEL_ADMIN_PASSWORD');
  });

  it('refuses an admin email that is not an address', () => {
    expect(configError(() => loadConfig({}, { GAVEL_ADMIN_EMAIL: 'root', GAVEL_ADMIN_PASSWORD: password })).message).toContain('GAVEL_ADMIN_EMAIL');
  });
});

describe('parseRoles', () => {
  it('reads a comma-separated list', () => {
    expect([...parseRoles('api,worker')].sort()).toEqual(['api', 'worker']);
  });

  it('expands all to every role', () => {
    expect([...parseRoles('all')].sort()).toEqual(['api', 'engine', 'worker']);
    expect([...parseRoles('api,all')].sort()).toEqual(['api', 'engine', 'worker']);
  });

  it('ignores case, surrounding space and empty items', () => {
    expect([...parseRoles(' API ')]).toEqual(['api']);
    expect([...parseRoles('engine, ,Worker,')].sort()).toEqual(['engine', 'worker']);
  });

  it('refuses an empty list', () => {
    expect(configError(() => parseRoles(' , ')).message).toContain('--role');
  });
});

describe('flags', () => {
  it('map parsed flag names back to config keys and ignore unknown ones', () => {
    expect(flagsToKeys({ 'data-dir': '/d', port: '1', 'log-level': 'warn', other: 'x' })).toEqual({ dataDir: '/d', port: '1', logLevel: 'warn' });
  });

  it('exist for every option that has one, and none for env-only options', () => {
    const names = Object.keys(flagOptions());
    expect(names).toContain('database-url');
    expect(names).not.toContain('admin-password');
  });
});
