// Configuration: one table of options, each settable by a command-line flag and an
// environment variable (the flag wins). `gavel start --help`, the README's table and
// loadConfig all read this table, so they cannot drift apart.
import { resolve } from 'node:path';
import { PASSWORD_MIN_LENGTH } from './auth/passwords.js';

export const ROLES = ['api', 'engine', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string | undefined;
  /** PostgreSQL read replicas for reads that tolerate lag (docs/cluster.md); empty: every read goes to the primary. */
  databaseReplicaUrls: readonly string[];
  natsUrl: string | undefined;
  roles: ReadonlySet<Role>;
  logLevel: LogLevel;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  tokenTtlSeconds: number;
  bodyLimitBytes: number;
  shutdownTimeoutMs: number;
  /** Shared with the payment provider to sign webhooks; undefined: generated once and kept in the database. */
  paymentsWebhookSecret: string | undefined;
  /** Largest accepted lot image, in bytes. */
  imageMaxBytes: number;
  /** The house's commission on an auction sale, in basis points of the hammer price. */
  auctionCommissionBps: number;
  /** How long a purchase saga step may take before the purchase gives it up and compensates. */
  purchaseStepTimeoutMs: number;
  /** Replicas of Gavel's JetStream stream (3 in a 3-node NATS cluster). */
  natsReplicas: number;
  /** With NATS_URL: how long an engine's hold on a market lasts unrenewed (the failover time). */
  marketLeaseMs: number;
  /** Failed deliveries of one event to one bus consumer before it becomes a dead letter. */
  busMaxAttempts: number;
  /** Notification deliveries (e-mail, webhooks) in flight at once on a worker node. */
  notifyWorkers: number;
  /** Attempts at one notification delivery before it becomes a dead letter. */
  notifyMaxAttempts: number;
  /** smtp(s)://… to send e-mail over SMTP; undefined: each mail is written as an .eml file into mailDir. */
  smtpUrl: string | undefined;
  /** Where e-mail is written without an SMTP URL; undefined: `<dataDir>/mail`. */
  mailDir: string | undefined;
  /** The From: of notification e-mail. */
  mailFrom: string;
  /**
   * `gavel start` seeds demo data (docs/demo.md) when the database has no users yet.
   * Undefined: the default — on for embedded SQLite, off on PostgreSQL (a deployment).
   */
  demo: boolean | undefined;
  /** `gavel start` runs simulated bidders and traders on the demo data. */
  demoBots: boolean;
  /** How many minutes before a watched auction starts its watchers are told; 0: never. */
  startingSoonMinutes: number;
  /** Webhooks may go to private, loopback and link-local addresses (development and tests only). */
  webhookAllowPrivate: boolean;
}

interface OptionSpec {
  key: keyof Config;
  flag: string | undefined;
  env: string;
  value: string;
  defaultText: string;
  description: string;
  /** A switch: the flag takes no value and stands for this one (the variable still takes 1/0). */
  flagValue?: string;
}

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'port', flag: '--port', env: 'GAVEL_PORT', value: '<n>', defaultText: '8080', description: 'TCP port for HTTP and WebSocket (0 picks a free port)' },
  { key: 'host', flag: '--host', env: 'GAVEL_HOST', value: '<addr>', defaultText: '127.0.0.1', description: 'address to listen on (0.0.0.0 in a container)' },
  { key: 'dataDir', flag: '--data-dir', env: 'GAVEL_DATA_DIR', value: '<path>', defaultText: './data', description: 'where the embedded SQLite database and uploads live' },
  { key: 'databaseUrl', flag: '--database-url', env: 'DATABASE_URL', value: '<url>', defaultText: '(embedded SQLite)', description: 'postgres://… to use PostgreSQL instead of SQLite' },
  { key: 'databaseReplicaUrls', flag: '--database-replica-urls', env: 'DATABASE_REPLICA_URLS', value: '<urls>', defaultText: '(none)', description: 'comma-separated postgres://… read replicas (streaming standbys) of DATABASE_URL: auction search and product listings read there and may lag the primary by the replication delay' },
  { key: 'natsUrl', flag: '--nats-url', env: 'NATS_URL', value: '<url>', defaultText: '(in-process bus)', description: 'nats://… (comma-separated for a cluster): events and saga messages go through NATS JetStream instead of the in-process bus' },
  { key: 'natsReplicas', flag: '--nats-replicas', env: 'GAVEL_NATS_REPLICAS', value: '<n>', defaultText: '1', description: 'replicas of the JetStream event stream, 1–5 (3 in a 3-node NATS cluster: the events survive losing a node)' },
  { key: 'marketLeaseMs', flag: '--market-lease-ms', env: 'GAVEL_MARKET_LEASE_MS', value: '<n>', defaultText: '3000', description: "with NATS_URL: how long an engine's lease on a market lasts without renewal, 500–60000 ms; when an engine dies another takes its markets within about this time plus a third of it. Every node must use the same value" },
  { key: 'busMaxAttempts', flag: '--bus-max-attempts', env: 'GAVEL_BUS_MAX_ATTEMPTS', value: '<n>', defaultText: '10', description: 'failed deliveries of one event to one event consumer (backoff from 100 ms doubling to 30 s between them) before it becomes a dead letter and the consumer goes on, 1–1000' },
  { key: 'roles', flag: '--role', env: 'GAVEL_ROLE', value: '<list>', defaultText: 'all', description: 'comma-separated roles this process runs: api, engine, worker, or all' },
  { key: 'logLevel', flag: '--log-level', env: 'GAVEL_LOG_LEVEL', value: '<level>', defaultText: 'info', description: `log level: ${LOG_LEVELS.join(', ')}` },
  { key: 'adminEmail', flag: undefined, env: 'GAVEL_ADMIN_EMAIL', value: '<email>', defaultText: '(none)', description: 'with GAVEL_ADMIN_PASSWORD: an admin created at start if absent' },
  { key: 'adminPassword', flag: undefined, env: 'GAVEL_ADMIN_PASSWORD', value: '<password>', defaultText: '(none)', description: 'password of that admin (at least 10 characters)' },
  { key: 'tokenTtlSeconds', flag: '--token-ttl-seconds', env: 'GAVEL_TOKEN_TTL_SECONDS', value: '<n>', defaultText: '86400', description: 'lifetime of a sign-in token' },
  { key: 'bodyLimitBytes', flag: '--body-limit-bytes', env: 'GAVEL_BODY_LIMIT_BYTES', value: '<n>', defaultText: '1048576', description: 'largest accepted JSON request body' },
  { key: 'shutdownTimeoutMs', flag: '--shutdown-timeout-ms', env: 'GAVEL_SHUTDOWN_TIMEOUT_MS', value: '<n>', defaultText: '10000', description: 'how long a graceful shutdown may wait for in-flight work' },
  { key: 'paymentsWebhookSecret', flag: '--payments-webhook-secret', env: 'GAVEL_PAYMENTS_WEBHOOK_SECRET', value: '<secret>', defaultText: '(generated, kept in the database)', description: 'HMAC secret payment-provider webhooks are signed with, 16–256 visible characters (prefer the variable: flags show in ps)' },
  { key: 'imageMaxBytes', flag: '--image-max-bytes', env: 'GAVEL_IMAGE_MAX_BYTES', value: '<n>', defaultText: '5242880', description: 'largest accepted lot image (JPEG, PNG or WebP), 1024 to 52428800 bytes' },
  { key: 'notifyWorkers', flag: '--notify-workers', env: 'GAVEL_NOTIFY_WORKERS', value: '<n>', defaultText: '100', description: 'notification deliveries (e-mail, webhooks) in flight at once on a worker node, 1–256' },
  { key: 'notifyMaxAttempts', flag: '--notify-max-attempts', env: 'GAVEL_NOTIFY_MAX_ATTEMPTS', value: '<n>', defaultText: '8', description: 'attempts at one notification delivery before it becomes a dead letter, 1–50' },
  { key: 'smtpUrl', flag: '--smtp-url', env: 'GAVEL_SMTP_URL', value: '<url>', defaultText: '(write .eml files)', description: 'smtp://… or smtps://… to send notification e-mail over SMTP (prefer the variable: flags show in ps)' },
  { key: 'mailDir', flag: '--mail-dir', env: 'GAVEL_MAIL_DIR', value: '<path>', defaultText: '<data dir>/mail', description: 'without an SMTP URL, where each notification e-mail is written as an .eml file' },
  { key: 'mailFrom', flag: '--mail-from', env: 'GAVEL_MAIL_FROM', value: '<address>', defaultText: 'Gavel <no-reply@gavel.localhost>', description: 'the From: address of notification e-mail' },
  { key: 'auctionCommissionBps', flag: '--auction-commission-bps', env: 'GAVEL_AUCTION_COMMISSION_BPS', value: '<n>', defaultText: '500', description: "house commission on an auction sale in basis points of the price (500 = 5 %), taken from the seller's proceeds" },
  { key: 'demo', flag: '--no-demo', flagValue: '0', env: 'GAVEL_DEMO', value: '', defaultText: '1 on SQLite, 0 on PostgreSQL', description: 'seed demo data (accounts, lots, auctions, wallets, an instrument) when the database has no users yet; --no-demo or GAVEL_DEMO=0 starts empty' },
  { key: 'demoBots', flag: '--demo-bots', flagValue: '1', env: 'GAVEL_DEMO_BOTS', value: '', defaultText: '0 (off)', description: 'simulated bidders and traders bid and trade on the demo data now and then, as the demo bot accounts' },
  { key: 'purchaseStepTimeoutMs', flag: '--purchase-step-timeout-ms', env: 'GAVEL_PURCHASE_STEP_TIMEOUT_MS', value: '<n>', defaultText: '30000', description: 'how long one step of a purchase may take before the purchase is compensated, 100–3600000 ms' },
  { key: 'startingSoonMinutes', flag: '--starting-soon-minutes', env: 'GAVEL_STARTING_SOON_MINUTES', value: '<n>', defaultText: '15', description: "how many minutes before a watched auction starts each watcher is notified (once), 0–10080; 0 turns the notice off" },
  { key: 'webhookAllowPrivate', flag: '--webhook-allow-private', flagValue: '1', env: 'GAVEL_WEBHOOK_ALLOW_PRIVATE', value: '', defaultText: '0 (off)', description: 'let notification webhooks go to private, loopback and link-local addresses (development and tests only: anyone could make Gavel call inside your network)' },
];

/** 5 MiB: a sharp phone photo fits; anything larger is better resized before upload. */
export const IMAGE_MAX_BYTES_DEFAULT = 5_242_880;

export class ConfigError extends Error {}

/** Builds the configuration from parsed flags (by key) over the environment. Pure. */
export function loadConfig(flags: Readonly<Record<string, string | undefined>>, env: Readonly<Record<string, string | undefined>>): Config {
  const raw = (key: keyof Config): string | undefined => {
    const spec = OPTIONS.find((o) => o.key === key);
    if (!spec) throw new Error(`no option ${key}`);
    const fromFlag = flags[key];
    const fromEnv = env[spec.env];
    const value = fromFlag ?? (fromEnv === '' ? undefined : fromEnv);
    return value;
  };
  const nameOf = (key: keyof Config): string => {
    const spec = OPTIONS.find((o) => o.key === key)!;
    return spec.flag ? `${spec.flag} / ${spec.env}` : spec.env;
  };
  const integer = (key: keyof Config, fallback: number, min: number, max: number): number => {
    const text = raw(key);
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text)) throw new ConfigError(`${nameOf(key)} must be a whole number, got "${text}"`);
    const n = Number(text);
    if (n < min || n > max) throw new ConfigError(`${nameOf(key)} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
  const bool = (key: keyof Config, fallback: boolean): boolean => {
    const text = raw(key);
    if (text === undefined) return fallback;
    const word = text.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(word)) return true;
    if (['0', 'false', 'no', 'off'].includes(word)) return false;
    throw new ConfigError(`${nameOf(key)} must be 1 or 0 (true/false, yes/no, on/off), got "${text}"`);
  };
  const url = (key: keyof Config, schemes: readonly string[]): string | undefined => {
    const text = raw(key);
    if (text === undefined) return undefined;
    const scheme = /^([^:/]+):\/\//.exec(text)?.[1]?.toLowerCase();
    if (scheme === undefined || !schemes.includes(scheme)) throw new ConfigError(`${nameOf(key)} must start with ${schemes.map((s) => `${s}://`).join(' or ')}`);
    return text;
  };

  const logLevel = (raw('logLevel') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`${nameOf('logLevel')} must be one of ${LOG_LEVELS.join(', ')}`);

  const adminEmail = raw('adminEmail');
  const adminPassword = raw('adminPassword');
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    throw new ConfigError('GAVEL_ADMIN_EMAIL and GAVEL_ADMIN_PASSWORD go together: set both or neither');
  }
  if (adminEmail !== undefined && !/^[^@\s]+@[^@\s]+$/.test(adminEmail)) throw new ConfigError('GAVEL_ADMIN_EMAIL is not an email address');
  if (adminPassword !== undefined && adminPassword.length < PASSWORD_MIN_LENGTH) {
    throw new ConfigError(`GAVEL_ADMIN_PASSWORD must be at least ${PASSWORD_MIN_LENGTH} characters`);
  }

  // Never echoed in an error: it is a secret.
  const paymentsWebhookSecret = raw('paymentsWebhookSecret');
  if (paymentsWebhookSecret !== undefined && !/^[\x21-\x7e]{16,256}$/.test(paymentsWebhookSecret)) {
    throw new ConfigError(`${nameOf('paymentsWebhookSecret')} must be 16–256 visible ASCII characters`);
  }

  const mailFrom = raw('mailFrom') ?? 'Gavel <no-reply@gavel.localhost>';
  if (mailFrom.length > 300 || !/^([^<>\r\n]*<[^@\s<>]+@[^@\s<>]+>|[^@\s<>]+@[^@\s<>]+)$/.test(mailFrom)) {
    throw new ConfigError(`${nameOf('mailFrom')} must be an e-mail address, optionally as "Name <address>"`);
  }
  const mailDir = raw('mailDir');

  const databaseReplicaUrls = replicaUrls(raw('databaseReplicaUrls'), nameOf('databaseReplicaUrls'));
  if (databaseReplicaUrls.length > 0 && raw('databaseUrl') === undefined) throw new ConfigError(`${nameOf('databaseReplicaUrls')} needs DATABASE_URL: replicas are of a PostgreSQL primary`);

  return {
    host: raw('host') ?? '127.0.0.1',
    port: integer('port', 8080, 0, 65535),
    dataDir: resolve(raw('dataDir') ?? './data'),
    databaseUrl: url('databaseUrl', ['postgres', 'postgresql']),
    databaseReplicaUrls,
    natsUrl: url('natsUrl', ['nats', 'tls', 'ws', 'wss']),
    roles: parseRoles(raw('roles') ?? 'all'),
    logLevel,
    adminEmail,
    adminPassword,
    tokenTtlSeconds: integer('tokenTtlSeconds', 86_400, 60, 31_536_000),
    bodyLimitBytes: integer('bodyLimitBytes', 1_048_576, 1024, 104_857_600),
    shutdownTimeoutMs: integer('shutdownTimeoutMs', 10_000, 100, 600_000),
    paymentsWebhookSecret,
    imageMaxBytes: integer('imageMaxBytes', IMAGE_MAX_BYTES_DEFAULT, 1024, 52_428_800),
    auctionCommissionBps: integer('auctionCommissionBps', 500, 0, 5_000),
    purchaseStepTimeoutMs: integer('purchaseStepTimeoutMs', 30_000, 100, 3_600_000),
    natsReplicas: integer('natsReplicas', 1, 1, 5),
    marketLeaseMs: integer('marketLeaseMs', 3_000, 500, 60_000),
    busMaxAttempts: integer('busMaxAttempts', 10, 1, 1_000),
    notifyWorkers: integer('notifyWorkers', 100, 1, 256),
    notifyMaxAttempts: integer('notifyMaxAttempts', 8, 1, 50),
    smtpUrl: url('smtpUrl', ['smtp', 'smtps']),
    mailDir: mailDir === undefined ? undefined : resolve(mailDir),
    mailFrom,
    demo: raw('demo') === undefined ? undefined : bool('demo', true),
    demoBots: bool('demoBots', false),
    startingSoonMinutes: integer('startingSoonMinutes', 15, 0, 10_080),
    webhookAllowPrivate: bool('webhookAllowPrivate', false),
  };
}

/** `postgres://a/db,postgres://b/db`: split where a URL starts, so a multi-host URL's own commas stay inside it. */
function replicaUrls(text: string | undefined, name: string): string[] {
  if (text === undefined) return [];
  const urls = text.split(/,(?=\s*[a-z][a-z0-9+.-]*:\/\/)/i).map((u) => u.trim()).filter(Boolean);
  for (const u of urls) {
    // Hosts may be a comma-separated list; a comma after them means a URL without its scheme.
    if (!/^postgres(ql)?:\/\/[^/?,][^/?]*([/?][^,]*)?$/i.test(u)) throw new ConfigError(`${name} must be comma-separated postgres:// URLs`);
  }
  return urls;
}

export function parseRoles(text: string): ReadonlySet<Role> {
  const names = text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (names.length === 0) throw new ConfigError('--role needs at least one of api, engine, worker, all');
  const roles = new Set<Role>();
  for (const name of names) {
    if (name === 'all') ROLES.forEach((r) => roles.add(r));
    else if ((ROLES as readonly string[]).includes(name)) roles.add(name as Role);
    else throw new ConfigError(`unknown role "${name}": use api, engine, worker or all`);
  }
  return roles;
}

/** The flags `parseArgs` should accept, derived from the table (switches take no value). */
export function flagOptions(): Record<string, { type: 'string' | 'boolean' }> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const o of OPTIONS) if (o.flag) options[o.flag.slice(2)] = { type: o.flagValue === undefined ? 'string' : 'boolean' };
  return options;
}

/** Maps parsed flag names (`data-dir`) back to config keys (`dataDir`). */
export function flagsToKeys(values: Readonly<Record<string, unknown>>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const o of OPTIONS) {
    if (!o.flag) continue;
    const v = values[o.flag.slice(2)];
    if (typeof v === 'string') out[o.key] = v;
    else if (v === true && o.flagValue !== undefined) out[o.key] = o.flagValue;
  }
  return out;
}

export function startHelp(): string {
  const rows = OPTIONS.map((o) => {
    const left = o.flag ? `  ${o.flag} ${o.value}` : `  (env only)`;
    return `${left.padEnd(34)} ${o.env.padEnd(26)} ${o.description} [default: ${o.defaultText}]`;
  });
  return [
    'Usage: gavel start [options]',
    '',
    'Runs Gavel: the HTTP API, WebSocket feeds and every module, in one process by default.',
    'Every option can also be set by the environment variable beside it; a flag wins over the variable.',
    '',
    `  ${'flag'.padEnd(32)} ${'environment'.padEnd(26)} meaning`,
    ...rows,
    `  ${'--help'.padEnd(32)} print this help`,
  ].join('\n');
}
