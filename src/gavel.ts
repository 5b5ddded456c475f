// One Gavel node: storage, the modules for its roles, and the HTTP edge. `gavel start`
// runs one; tests start as many as they like in a process.
import { readFileSync } from 'node:fs';
import { createAccountsModule, type AccountsModule } from './accounts/module.js';
import { accountsMigrations } from './accounts/migrations.js';
import { ledgerMigrations } from './ledger/migrations.js';
import { createLedgerModule, type LedgerModule } from './ledger/module.js';
import { Idempotency, platformMigrations } from './platform/idempotency/idempotency.js';
import type { LoginLimits } from './accounts/service.js';
import { systemClock, type Clock } from './platform/clock.js';
import type { Config } from './platform/config.js';
import { openDatabase, type Database } from './platform/db/database.js';
import { migrateAll } from './platform/db/migrations.js';
import { createHttpServer, type HttpServer } from './platform/http/server.js';
import { createLogger, type Logger } from './platform/logging.js';
import { createMetrics } from './platform/metrics.js';
import type { GavelModule, ModuleContext } from './platform/module.js';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Every module's migrations, in the order `gavel migrate` applies them. */
export const MODULE_MIGRATIONS = [platformMigrations, accountsMigrations, ledgerMigrations];

export interface GavelNode {
  /** The base URL, e.g. http://127.0.0.1:8080; empty when started with listen: false. */
  url: string;
  http: HttpServer;
  database: Database;
  accounts: AccountsModule;
  ledger: LedgerModule;
  logger: Logger;
  /** Drains HTTP, stops modules (journals flush), closes storage. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  clock?: Clock;
  /** false: build everything but do not open a port (tests use http.inject). */
  listen?: boolean;
  loginLimits?: LoginLimits;
}

export async function startGavel(config: Config, options: StartOptions = {}): Promise<GavelNode> {
  const startedMs = performance.now();
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const database = await openDatabase(config);
  const ctx: ModuleContext = { config, database, logger, clock };

  const accounts = createAccountsModule(ctx, options.loginLimits ? { loginLimits: options.loginLimits } : {});
  const idempotency = new Idempotency(database, clock);
  const ledger = createLedgerModule(ctx, { idempotency, userExists: (id) => accounts.service.exists(id) });
  const modules: GavelModule[] = [accounts, ledger];

  let http: HttpServer | undefined;
  try {
    await migrateAll(database, MODULE_MIGRATIONS);
    await idempotency.prune();
    for (const m of modules) await m.start?.();
    http = await createHttpServer({
      logger,
      clock,
      metrics: createMetrics({ collectProcessMetrics: options.listen !== false }),
      bodyLimitBytes: config.bodyLimitBytes,
      authenticator: accounts.service,
      readiness: () => database.ping(),
      version: VERSION,
    });
    // Every role answers /up, /ready and /metrics; the api role adds the public API.
    if (config.roles.has('api')) for (const m of modules) m.routes?.(http);
    await http.ready();
    if (options.listen !== false) {
      // fastify's own "listening" line becomes the one line a person reads at start.
      const listenText = (address: string) =>
        `Gavel ${VERSION} listening on ${displayUrl(address)} (${database.describe}; roles ${[...config.roles].join(',')}; ready in ${Math.round(performance.now() - startedMs)} ms)`;
      await http.listen({ port: config.port, host: config.host, listenTextResolver: listenText });
    }
  } catch (error) {
    await http?.close().catch(() => {});
    await database.close().catch(() => {});
    throw error;
  }

  if (config.natsUrl) logger.warn({ natsUrl: config.natsUrl }, 'NATS_URL is set, but no module uses the bus yet: running in-process');
  const address = http.server.address();
  const url = options.listen === false || address === null || typeof address === 'string' ? '' : displayUrl(`http://${address.address}:${address.port}`);

  let stopping: Promise<void> | undefined;
  const server = http;
  return {
    url,
    http: server,
    database,
    accounts,
    ledger,
    logger,
    stop: () =>
      (stopping ??= (async () => {
        await server.close();
        for (const m of [...modules].reverse()) await m.stop?.();
        await database.close();
      })()),
  };
}

/** Loopback and wildcard addresses read better as localhost. */
function displayUrl(address: string): string {
  return address.replace(/^http:\/\/(127\.0\.0\.1|0\.0\.0\.0|\[::1?\]|::1?)(?=:)/, 'http://localhost');
}
