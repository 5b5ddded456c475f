// The command line: gavel start | migrate | admin create | verify-auction. Returns the exit code.
import { parseArgs } from 'node:util';
import { AccountsService } from './accounts/service.js';
import { AccountsStore } from './accounts/store.js';
import { ConfigError, flagOptions, flagsToKeys, loadConfig, startHelp, type Config } from './platform/config.js';
import { systemClock } from './platform/clock.js';
import { openDatabase } from './platform/db/database.js';
import { migrateAll } from './platform/db/migrations.js';
import { PASSWORD_MIN_LENGTH } from './platform/auth/passwords.js';
import { createLogger } from './platform/logging.js';
import { MODULE_MIGRATIONS, startGavel, VERSION } from './gavel.js';
import { verifyAuction } from './auctions/verify-cli.js';
import { startDemo } from './demo/start.js';

type Env = Readonly<Record<string, string | undefined>>;

const USAGE = `Gavel ${VERSION}: auctions, wallets, purchases and an exchange.

Usage:
  gavel start [options]        run Gavel (see gavel start --help)
  gavel migrate [options]      create or update the database schema, then exit
  gavel admin create --email <e> --password <p> [--name <n>]
                               create an admin account (or report that it exists)
  gavel verify-auction <id|file> [options]
                               check that an auction's bid history was not altered
                               (see gavel verify-auction --help)
  gavel --version | --help`;

export async function main(argv: readonly string[], env: Env): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start':
        return await start(rest, env);
      case 'migrate':
        return await migrate(rest, env);
      case 'admin':
        return await admin(rest, env);
      case 'verify-auction':
        return await verifyAuction(rest, env);
      case '--version':
        console.log(VERSION);
        return 0;
      case undefined:
      case '--help':
      case 'help':
        console.log(USAGE);
        return 0;
      default:
        console.error(`unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError || isParseArgsError(error)) {
      console.error(`gavel: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
}

function parseConfig(args: readonly string[], env: Env, extra: Record<string, { type: 'string' | 'boolean' }> = {}) {
  const { values } = parseArgs({ args: [...args], options: { ...flagOptions(), ...extra, help: { type: 'boolean' } }, strict: true, allowPositionals: false });
  return { values: values as Record<string, string | boolean | undefined>, config: loadConfig(flagsToKeys(values), env) };
}

async function start(args: readonly string[], env: Env): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(startHelp());
    return 0;
  }
  const { config } = parseConfig(args, env);
  const node = await startGavel(config);
  // Demo data on a fresh database, and --demo-bots (src/demo): in the background, stopped first on shutdown.
  const demo = startDemo(node, config);
  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      node.logger.info({ signal }, 'shutting down: draining requests');
      const timer = setTimeout(() => {
        node.logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out');
        resolve(1);
      }, config.shutdownTimeoutMs);
      timer.unref();
      demo
        .stop()
        .then(() => node.stop())
        .then(
          () => {
            clearTimeout(timer);
            node.logger.info('stopped');
            resolve(0);
          },
          (error: unknown) => {
            clearTimeout(timer);
            node.logger.error({ err: error }, 'shutdown failed');
            resolve(1);
          },
        );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

async function withStorage<T>(config: Config, work: (db: Awaited<ReturnType<typeof openDatabase>>, applied: string[]) => Promise<T>): Promise<T> {
  const database = await openDatabase(config);
  try {
    const applied = await migrateAll(database, MODULE_MIGRATIONS);
    return await work(database, applied);
  } finally {
    await database.close();
  }
}

async function migrate(args: readonly string[], env: Env): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`Usage: gavel migrate [options]: takes the storage options of gavel start (see gavel start --help)`);
    return 0;
  }
  const { config } = parseConfig(args, env);
  await withStorage(config, async (database, applied) =>
    console.log(applied.length ? `migrated ${database.describe}: applied ${applied.join(', ')}` : `${database.describe} is already up to date; nothing to migrate`),
  );
  return 0;
}

async function admin(args: readonly string[], env: Env): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'create') {
    console.error(`usage: gavel admin create --email <e> --password <p> [--name <n>]`);
    return 2;
  }
  const extra = { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' } } as const;
  const { values, config } = parseConfig(rest, env, extra);
  const email = values.email as string | undefined;
  const password = (values.password as string | undefined) ?? env.GAVEL_ADMIN_PASSWORD;
  if (!email || !email.includes('@') || !password || password.length < PASSWORD_MIN_LENGTH) {
    console.error(`gavel admin create needs --email and --password (at least ${PASSWORD_MIN_LENGTH} characters)`);
    return 2;
  }
  return withStorage(config, async (database) => {
    const service = new AccountsService(new AccountsStore(database), systemClock, createLogger('warn'), config.tokenTtlSeconds);
    const { user, created, isAdmin } = await service.ensureAdmin({ name: (values.name as string | undefined) ?? 'Administrator', email, password });
    if (created) console.log(`created admin ${user.email} (${user.id})`);
    else if (isAdmin) console.log(`${user.email} is already an admin (${user.id}); nothing changed`);
    else {
      console.error(`${user.email} belongs to an account without the admin role; an admin can grant it with PUT /api/user`);
      return 1;
    }
    return 0;
  });
}

function isParseArgsError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && String((error as { code: unknown }).code).startsWith('ERR_PARSE_ARGS');
}
