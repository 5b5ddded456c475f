// One Gavel node: storage, the modules for its roles, and the HTTP edge. `gavel start`
// runs one; tests start as many as they like in a process.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createAccountsModule, type AccountsModule } from './accounts/module.js';
import { accountsMigrations } from './accounts/migrations.js';
import { auctionsMigrations } from './auctions/migrations.js';
import { createAuctionsModule, type AuctionsModule } from './auctions/module.js';
import { announceAuctionRooms, attachAuctionRoom, auctionCommands } from './auctions/realtime.js';
import { createExchangeModule, type ExchangeModule } from './exchange/module.js';
import { exchangeMigrations } from './exchange/migrations.js';
import { announceExchangeFeeds, attachExchangeFeeds, exchangeCommands } from './exchange/realtime.js';
import { clusterMigrations } from './cluster/migrations.js';
import { MarketHost } from './cluster/market-host.js';
import { MarketRouter } from './cluster/market-router.js';
import { NatsRealtimeOut, relayRealtime, type RealtimeOut } from './cluster/realtime-relay.js';
import type { LeaseStore } from './cluster/leases.js';
import { fieldError } from './platform/errors.js';
import { catalogMigrations } from './catalog/migrations.js';
import { createCatalogModule, type CatalogModule } from './catalog/module.js';
import { ledgerMigrations } from './ledger/migrations.js';
import { createLedgerModule, type LedgerModule } from './ledger/module.js';
import { Idempotency, platformMigrations } from './platform/idempotency/idempotency.js';
import { notificationsMigrations } from './notifications/migrations.js';
import { createNotificationsModule, type NotificationsDeps, type NotificationsModule } from './notifications/module.js';
import { ordersMigrations } from './orders/migrations.js';
import { createOrdersModule, type OrdersModule } from './orders/module.js';
import { createOutboxBus, type Bus } from './platform/outbox/bus.js';
import type { RelayOptions } from './platform/outbox/relay.js';
import { busDeadLetterRoutes } from './platform/bus/dead-letter-routes.js';
import type { LoginLimits } from './accounts/service.js';
import { systemClock, type Clock } from './platform/clock.js';
import type { Config } from './platform/config.js';
import { openDatabase, type Database } from './platform/db/database.js';
import { migrateAll } from './platform/db/migrations.js';
import { createHttpServer, type HttpServer } from './platform/http/server.js';
import { createLogger, type Logger } from './platform/logging.js';
import { createMetrics } from './platform/metrics.js';
import { WsGateway } from './gateway/ws.js';
import { registerWebApp } from './gateway/web.js';
import { registerGraphql } from './gateway/graphql.js';
import type { GavelModule, ModuleContext } from './platform/module.js';
import type { NatsConnection } from '@nats-io/transport-node';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Every module's migrations, in the order `gavel migrate` applies them. */
export const MODULE_MIGRATIONS = [platformMigrations, clusterMigrations, accountsMigrations, ledgerMigrations, catalogMigrations, notificationsMigrations, auctionsMigrations, ordersMigrations, exchangeMigrations];

export interface GavelNode {
  /** The base URL, e.g. http://127.0.0.1:8080; empty when started with listen: false. */
  url: string;
  http: HttpServer;
  database: Database;
  accounts: AccountsModule;
  ledger: LedgerModule;
  catalog: CatalogModule;
  auctions: AuctionsModule;
  notifications: NotificationsModule;
  orders: OrdersModule;
  exchange: ExchangeModule;
  /** Events: producers append in their transactions; consumers subscribe (in-process over the outbox). */
  bus: Bus;
  logger: Logger;
  /** The WebSocket gateway at /ws (api role only): modules add topic sources to it and publish events. */
  ws: WsGateway | undefined;
  /** Which markets this node serves (all of them in one process; the leased ones with NATS). */
  markets: MarketHost;
  /** The NATS connection with NATS_URL (tests cut it to play a node that vanished). */
  nats: NatsConnection | undefined;
  /** Drains HTTP, stops modules (journals flush), closes storage. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  clock?: Clock;
  /** false: build everything but do not open a port (tests use http.inject). */
  listen?: boolean;
  loginLimits?: LoginLimits;
  /**
   * The outbox relay: `deliver: false` keeps this node from delivering events (they wait in
   * the outbox for another node or a restart); the rest tunes polling and retries.
   */
  outbox?: Partial<RelayOptions> & { deliver?: boolean };
  /**
   * The notification workers (e-mail, webhooks): `deliver` defaults to the outbox's (the
   * worker role); the rest tunes retries, leases and polling.
   */
  notifications?: NotificationsDeps['delivery'];
  /** With NATS_URL: the JetStream stream and subject prefix (tests give each node set its own). */
  jetstream?: { stream?: string; subjectPrefix?: string; replicas?: number };
  /**
   * With NATS_URL: market commands go to `<prefix>.market.<market>`, real-time messages to
   * `<prefix>.realtime.t.<topic>` and `.u.<user>`, leases live in the KV bucket `leaseBucket` (default gavel /
   * gavel_market_leases; tests give each cluster its own).
   */
  cluster?: { subjectPrefix?: string; leaseBucket?: string };
}

export async function startGavel(config: Config, options: StartOptions = {}): Promise<GavelNode> {
  const startedMs = performance.now();
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const database = await openDatabase(config);
  const ctx: ModuleContext = { config, database, logger, clock };

  const accounts = createAccountsModule(ctx, options.loginLimits ? { loginLimits: options.loginLimits } : {});
  const idempotency = new Idempotency(database, clock);
  // Workers deliver events; other roles only append them.
  const { deliver = config.roles.has('worker'), ...relayOptions } = { maxAttempts: config.busMaxAttempts, ...options.outbox };
  // NATS_URL: events cross processes through JetStream (docs/cluster.md); else the in-process outbox bus.
  const nats = config.natsUrl ? await connectNats(config.natsUrl, logger).catch(async (error) => { await database.close().catch(() => {}); throw error; }) : undefined;
  const bus = nats ? (await import('./platform/bus/jetstream-bus.js')).createJetStreamBus(database, clock, logger, nats, { ...relayOptions, replicas: config.natsReplicas, ...options.jetstream, deliver }) : createOutboxBus(database, clock, logger, { ...relayOptions, deliver });
  // Markets: all this process's in one process; leased among the engines with NATS (docs/cluster.md).
  const clusterPrefix = options.cluster?.subjectPrefix ?? 'gavel';
  const router = new MarketRouter({ nats: nats ?? null, logger, subjectPrefix: `${clusterPrefix}.market` });
  const leases = nats && config.roles.has('engine') ? await openLeases(nats, options.cluster?.leaseBucket ?? 'gavel_market_leases', config).catch(async (error) => { await nats.close().catch(() => {}); await database.close().catch(() => {}); throw error; }) : null;
  const host = new MarketHost({ router, leases, holder: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`, clock, logger: logger.child({ part: 'markets' }) });
  // Where engines (and the workers' notifications) send real-time messages: the api nodes whose sockets follow them.
  const realtimeOut: RealtimeOut | undefined = nats ? new NatsRealtimeOut(nats, `${clusterPrefix}.realtime`) : undefined;
  const ledger = createLedgerModule(ctx, { idempotency, userExists: (id) => accounts.service.exists(id), events: bus });
  const catalog = createCatalogModule(ctx, { idempotency, currencies: ledger.service });
  const notifications = createNotificationsModule(ctx, {
    bus,
    idempotency,
    // E-mail goes to the account's address as it is when the mail is sent.
    contactOf: (userId) => accounts.service.contactOf(userId),
    delivery: { deliver, ...options.notifications },
  });
  const auctions = createAuctionsModule(ctx, { idempotency, bus, ledger: ledger.service, catalog: catalog.service, host, reputationOf: (id) => accounts.service.reputationOf(id), adjustReputation: (...args) => accounts.service.adjustReputation(...args) });
  // Won auctions become orders; a rating at delivery moves the seller's reputation.
  const orders = createOrdersModule(ctx, { idempotency, bus, ledger: ledger.service, catalog: catalog.service, adjustReputation: (...args) => accounts.service.adjustReputation(...args) });
  const exchange = createExchangeModule(ctx, { idempotency, bus, ledger: ledger.service, host });
  const modules: GavelModule[] = [accounts, ledger, catalog, notifications, auctions, orders, exchange];

  const metrics = createMetrics({ collectProcessMetrics: options.listen !== false });
  bus.deadLetters.registerMetrics(metrics.registry);
  let http: HttpServer | undefined;
  let ws: WsGateway | undefined;
  let relay: { unsubscribe(): void } | undefined;
  try {
    await migrateAll(database, MODULE_MIGRATIONS);
    await idempotency.prune();
    for (const m of modules) await m.start?.();
    http = await createHttpServer({
      logger,
      clock,
      metrics,
      bodyLimitBytes: config.bodyLimitBytes,
      authenticator: accounts.service,
      readiness: () => database.ping(),
      version: VERSION,
    });
    // Every role answers /up, /ready and /metrics; the api role adds the public API.
    if (config.roles.has('api')) for (const m of modules) m.routes?.(http);
    if (config.roles.has('api')) busDeadLetterRoutes(http, bus.deadLetters);
    // GraphQL at /graphql over the same services (docs/graphql.md); GraphiQL outside production.
    if (config.roles.has('api')) {
      registerGraphql(http, { database, clock, idempotency, accounts: accounts.service, catalog: catalog.service, auctions: auctions.service, ledger: ledger.service, orders: orders.service, purchases: orders.purchases.saga, graphiql: process.env.NODE_ENV !== 'production' });
    }
    if (config.roles.has('api')) {
      ws = new WsGateway({ logger, clock, authenticate: (token) => accounts.service.authenticate(token, clock.nowMs()), registry: metrics.registry });
      ws.attach(http.server);
      attachAuctionRoom(ws, auctions.engine, auctions.service);
      attachExchangeFeeds(ws, exchange.engine, exchange.service);
      // Scaled out, what engines and workers elsewhere publish reaches this node's sockets.
      if (nats) relay = relayRealtime(nats, `${clusterPrefix}.realtime`, ws, logger);
      const commands = { ...auctionCommands(auctions.service), ...exchangeCommands(exchange.service) };
      ws.setCommandHandler(async (principal, command) => {
        const handler = commands[command.name];
        if (!handler) throw fieldError('VALIDATION', 'body', 'name', `unknown command; known: ${Object.keys(commands).join(', ')}`);
        return handler(principal, command.args);
      });
    }
    // Committed market events go out to the rooms and feeds; new inbox entries to the person's
    // open sockets as they are stored — here, or over NATS to the api nodes that have them.
    const out = realtimeOut ?? ws;
    if (out && config.roles.has('engine')) {
      announceAuctionRooms(auctions.engine, out);
      announceExchangeFeeds(exchange.engine, out);
    }
    if (out && (nats ? config.roles.has('worker') : true)) notifications.service.onNotification((n) => out.sendToUser(n.recipientUserId, { type: 'notification', notification: n }));
    // The web app after every API route, so those keep their answers (src/gateway/web.ts).
    if (config.roles.has('api')) await registerWebApp(http, { logger });
    await http.ready();
    // Events flow once the node is built (building the routes keeps the CPU busy a while).
    await bus.start();
    notifications.startDelivery();
    // Scaled out, an engine takes its markets' leases now (in one process they loaded at start).
    if (config.roles.has('engine')) await host.start();
    if (options.listen !== false) {
      // fastify's own "listening" line becomes the one line a person reads at start.
      const listenText = (address: string) =>
        `Gavel ${VERSION} listening on ${displayUrl(address)} (${database.describe}; roles ${[...config.roles].join(',')}; ready in ${Math.round(performance.now() - startedMs)} ms)`;
      await http.listen({ port: config.port, host: config.host, listenTextResolver: listenText });
    }
  } catch (error) {
    await host.stop().catch(() => {});
    relay?.unsubscribe();
    await ws?.close().catch(() => {});
    await http?.close().catch(() => {});
    await bus.stop().catch(() => {});
    await nats?.close().catch(() => {});
    await database.close().catch(() => {});
    throw error;
  }

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
    catalog,
    auctions,
    notifications,
    orders,
    exchange,
    bus,
    logger,
    ws,
    markets: host,
    nats,
    stop: () =>
      (stopping ??= (async () => {
        await ws?.close(); // before HTTP, so the close frames (1001) go out
        await server.close();
        await host.stop(); // leases back: another engine takes the markets at once
        relay?.unsubscribe();
        await bus.stop();
        await nats?.close();
        for (const m of [...modules].reverse()) await m.stop?.();
        await database.close();
      })()),
  };
}

/** The market lease bucket (created by the first engine): a KV whose TTL is the lease time. */
async function openLeases(nats: NatsConnection, bucket: string, config: Config): Promise<LeaseStore> {
  const { Kvm } = await import('@nats-io/kv');
  const { JetStreamLeases } = await import('./cluster/leases.js');
  const kv = await new Kvm(nats).create(bucket, { ttl: config.marketLeaseMs, history: 1, replicas: config.natsReplicas });
  return JetStreamLeases.open(kv, config.marketLeaseMs);
}

/** Connects to NATS (the servers in a comma-separated URL list); reconnects forever once connected. */
async function connectNats(url: string, logger: Logger): Promise<NatsConnection> {
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: url.split(','), name: `gavel-${process.pid}`, maxReconnectAttempts: -1, timeout: 5_000 });
  logger.info({ server: nc.getServer() }, 'connected to NATS');
  return nc;
}

/** Loopback and wildcard addresses read better as localhost. */
function displayUrl(address: string): string {
  return address.replace(/^http:\/\/(127\.0\.0\.1|0\.0\.0\.0|\[::1?\]|::1?)(?=:)/, 'http://localhost');
}
