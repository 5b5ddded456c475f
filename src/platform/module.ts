// What a module hands the node that runs it: its migrations, its routes, and optional
// start/stop hooks (engines, workers). The gateway composes these; nothing else does.
import type { Config } from './config.js';
import type { Clock } from './clock.js';
import type { Database } from './db/database.js';
import type { ModuleMigrations } from './db/migrations.js';
import type { HttpServer } from './http/server.js';
import type { Logger } from './logging.js';

export interface ModuleContext {
  config: Config;
  database: Database;
  logger: Logger;
  clock: Clock;
}

export interface GavelModule {
  name: string;
  migrations: ModuleMigrations;
  /** Registers HTTP routes; called on nodes with the api role. */
  routes?(app: HttpServer): void;
  /** Runs once storage is migrated, before the node reports ready. */
  start?(): Promise<void>;
  /** Called on shutdown after HTTP has drained: flush journals, finish in-flight work. */
  stop?(): Promise<void>;
}
