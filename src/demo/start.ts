// The demo as `gavel start` runs it: after the node is up, seed demo data when the database
// is fresh (unless --no-demo / GAVEL_DEMO=0), then start the bots when --demo-bots asks for
// them. Both in the background, so the node serves (and answers signals) meanwhile; `stop`
// interrupts the seed between steps, stops the bots and waits for both.
import type { GavelNode } from '../gavel.js';
import type { Config } from '../platform/config.js';
import type { Clock } from '../platform/clock.js';
import { DemoBots, type BotTiming, type BotsStart } from './bots.js';
import { credentialsText, seedDemo, type SeedResult } from './seed.js';

export interface Demo {
  /** Settles once seeding is done or skipped (never rejects: failures are logged). */
  readonly seeded: Promise<SeedResult | undefined>;
  /** Settles once the bots run, or were not started. */
  readonly bots: Promise<DemoBots | undefined>;
  stop(): Promise<void>;
}

export interface DemoStartOptions {
  clock?: Clock;
  timing?: BotTiming;
}

type DemoConfig = Pick<Config, 'demo' | 'demoBots' | 'roles' | 'adminEmail' | 'databaseUrl'>;

/**
 * Demo data unless switched off — but only on embedded SQLite when nobody said: a fresh
 * PostgreSQL database is a deployment, where public demo passwords have no place.
 */
export function demoWanted(config: Pick<Config, 'demo' | 'databaseUrl'>): boolean {
  return config.demo ?? config.databaseUrl === undefined;
}

export function startDemo(node: GavelNode, config: DemoConfig, options: DemoStartOptions = {}): Demo {
  const logger = node.logger.child({ module: 'demo' });
  const abort = new AbortController();
  // Demo data and bots use the API (sign-in, discovery) and the markets: a node running both roles.
  const missing = (['api', 'engine'] as const).filter((r) => !config.roles.has(r));

  const seeded = (async (): Promise<SeedResult | undefined> => {
    if (!demoWanted(config)) {
      logger.info(config.demo === false ? 'demo data: off (--no-demo or GAVEL_DEMO=0)' : 'demo data: off on PostgreSQL unless GAVEL_DEMO=1');
      return undefined;
    }
    if (missing.length > 0) {
      logger.info({ missingRoles: missing }, 'demo data: not seeded on a node without the api and engine roles');
      return undefined;
    }
    try {
      const result = await seedDemo(node, { bootstrapAdminEmail: config.adminEmail, signal: abort.signal, logger, ...(options.clock && { clock: options.clock }) });
      if (result.seeded) {
        const open = result.auctions.filter((a) => a.status === 'open').length;
        logger.info(
          { accounts: result.accounts.length, categories: result.categories, auctions: result.auctions.length, openAuctions: open, topups: result.topups, orders: result.orders, ledgerViolations: result.ledgerViolations },
          credentialsText(node.url),
        );
      } else {
        logger.info({ reason: result.reason }, 'demo data: not seeded (the demo accounts of an earlier start are listed in docs/demo.md; --no-demo or GAVEL_DEMO=0 silences this)');
      }
      return result;
    } catch (error) {
      if (abort.signal.aborted) logger.warn('demo data: seeding was interrupted by shutdown; the data is incomplete (start on an empty data dir to seed it whole)');
      else logger.error({ err: error }, 'demo data: seeding failed; the node runs on without it');
      return undefined;
    }
  })();

  const bots = (async (): Promise<DemoBots | undefined> => {
    await seeded;
    if (!config.demoBots || abort.signal.aborted) return undefined;
    if (missing.length > 0) {
      logger.warn({ missingRoles: missing }, 'demo bots: not started on a node without the api and engine roles');
      return undefined;
    }
    let start: BotsStart;
    try {
      start = await DemoBots.start(node, { logger, ...(options.clock && { clock: options.clock }), ...(options.timing && { timing: options.timing }) });
    } catch (error) {
      logger.error({ err: error }, 'demo bots: could not start');
      return undefined;
    }
    if (!start.started) {
      logger.warn({ reason: start.reason }, 'demo bots: not started');
      return undefined;
    }
    // Stopped while signing in: stop at once.
    if (abort.signal.aborted) {
      await start.bots.stop();
      return undefined;
    }
    return start.bots;
  })();

  let stopping: Promise<void> | undefined;
  return {
    seeded,
    bots,
    stop: () =>
      (stopping ??= (async () => {
        abort.abort();
        await seeded;
        await (await bots)?.stop();
      })()),
  };
}
