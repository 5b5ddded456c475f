// A PostgreSQL primary with a synchronous streaming standby, started by a test and thrown away
// after it: initdb, pg_basebackup -R and pg_ctl from the PostgreSQL installed here, on spare
// loopback ports, in a temp dir. Tests kill the primary (SIGKILL to every one of its
// processes, as if its machine were gone) and promote the standby.
//
// initdb refuses to run as root; as root the binaries run as the `postgres` user (runuser).
// Skipped with a message where PostgreSQL's binaries are missing, unless GAVEL_REQUIRE_SERVICES=1.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, appendFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { SERVICES_REQUIRED } from './databases.js';

const run = promisify(execFile);

/** The synchronous standby's name: its cluster_name, which its WAL receiver reports as application_name. */
export const STANDBY_NAME = 'gavel_standby';
/** Every step (initdb, a start, a promotion) must finish within this. */
const STEP_TIMEOUT_MS = 60_000;

/** Where initdb and friends are: GAVEL_TEST_PG_BIN, else the newest /usr/lib/postgresql/<n>/bin. */
function findBinDir(): string | undefined {
  const fromEnv = process.env.GAVEL_TEST_PG_BIN;
  if (fromEnv) return existsSync(join(fromEnv, 'initdb')) ? fromEnv : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** uid and gid of the `postgres` user, read from /etc/passwd (root only needs them). */
function postgresUser(): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

const BIN_DIR = findBinDir();
const AS_ROOT = process.getuid?.() === 0;
const PG_USER = AS_ROOT ? postgresUser() : undefined;

function unavailableReason(): string | undefined {
  if (!BIN_DIR && process.env.GAVEL_TEST_PG_BIN) return `no initdb in GAVEL_TEST_PG_BIN=${process.env.GAVEL_TEST_PG_BIN}`;
  if (!BIN_DIR) return 'no PostgreSQL binaries (initdb) under /usr/lib/postgresql/*/bin (set GAVEL_TEST_PG_BIN)';
  if (AS_ROOT && !PG_USER) return 'running as root and there is no postgres user to run initdb as';
  if (AS_ROOT && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return 'running as root without runuser to run initdb as postgres';
  return undefined;
}

const reason = unavailableReason();
export const POSTGRES_CLUSTER_AVAILABLE = reason === undefined;
if (reason !== undefined) {
  if (SERVICES_REQUIRED) throw new Error(`GAVEL_REQUIRE_SERVICES=1 but a PostgreSQL cluster cannot be started here: ${reason}`);
  console.warn(`[skip] PostgreSQL failover tests skipped: ${reason} (GAVEL_REQUIRE_SERVICES=1 fails instead)`);
}

/** Runs a PostgreSQL program, as the postgres user when we are root. */
async function pg(program: string, args: readonly string[]): Promise<string> {
  const path = join(BIN_DIR!, program);
  const [file, argv] = AS_ROOT ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, [...args]];
  try {
    const { stdout } = await run(file, argv, { timeout: STEP_TIMEOUT_MS, env: { ...process.env, LC_ALL: 'C' } });
    return stdout;
  } catch (error) {
    const e = error as Error & { stderr?: string; stdout?: string };
    throw new Error(`${program} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** A port nothing listens on right now (the OS picks it; free again once we close). */
async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed process whose parent never reaps it is a zombie: gone for our purposes.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One PostgreSQL server of the pair. */
export class PostgresServer {
  constructor(
    readonly name: string,
    readonly port: number,
    readonly dataDir: string,
    private readonly logFile: string,
  ) {}

  /** A connection URL to this server alone. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** The postmaster's pid, from postmaster.pid, while it runs. */
  pid(): number | undefined {
    const file = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  }

  /** The postmaster and every process it started (backends, WAL sender, checkpointer…). */
  processIds(): number[] {
    const pid = this.pid();
    if (pid === undefined) return [];
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      // no /proc children list: the postmaster alone (its children exit when they notice it gone)
    }
    return [pid, ...children];
  }

  async start(): Promise<void> {
    await pg('pg_ctl', ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', String(STEP_TIMEOUT_MS / 1000), 'start']);
  }

  /** Kills every process of this server with SIGKILL at once: no shutdown, no last WAL flush. */
  async kill(): Promise<void> {
    const pids = this.processIds();
    const shmid = this.sharedMemoryId();
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    const deadline = Date.now() + 10_000;
    while (pids.some(alive)) {
      if (Date.now() > deadline) throw new Error(`${this.name}: processes ${pids.filter(alive).join(', ')} still alive 10 s after SIGKILL`);
      await sleep(20);
    }
    // The postmaster would remove its System V segment at a clean stop; after SIGKILL we do.
    if (shmid !== undefined) await run('ipcrm', ['-m', String(shmid)]).catch(() => {});
  }

  /** Ends a standby's recovery: it becomes a primary that accepts writes. */
  async promote(): Promise<void> {
    await pg('pg_ctl', ['-D', this.dataDir, '-w', '-t', String(STEP_TIMEOUT_MS / 1000), 'promote']);
  }

  /** Stops the server if it runs (immediate mode: this is a throwaway cluster). */
  async stop(): Promise<void> {
    if (this.pid() === undefined) return;
    await pg('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', '-t', '20', 'stop']).catch(() => this.kill());
  }

  /** Synchronous, for process exit: SIGKILL whatever still runs, and remove its shared memory. */
  killNow(): void {
    const pids = this.processIds();
    const shmid = this.sharedMemoryId();
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    if (pids.length > 0 && shmid !== undefined) spawnSync('ipcrm', ['-m', String(shmid)], { timeout: 5_000 });
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  private sharedMemoryId(): number | undefined {
    const file = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    const match = /^\s*\d+\s+(\d+)\s*$/.exec(readFileSync(file, 'utf8').split('\n')[6] ?? '');
    return match ? Number(match[1]) : undefined;
  }
}

const running = new Set<PostgresCluster>();
process.once('exit', () => {
  for (const cluster of running) cluster.killNow();
});

/**
 * A shell that outlives this process by design: once this process is gone (killed, even with
 * SIGKILL, when no exit handler runs), it stops both servers and removes their files.
 */
function startWatchdog(base: string): ChildProcess {
  const pgCtl = AS_ROOT ? `runuser -u postgres -- '${join(BIN_DIR!, 'pg_ctl')}'` : `'${join(BIN_DIR!, 'pg_ctl')}'`;
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
    `for d in '${base}/primary' '${base}/standby'; do [ -f "$d/postmaster.pid" ] && ${pgCtl} -D "$d" -m immediate -w -t 20 stop >/dev/null 2>&1; done`,
    `rm -rf '${base}'`,
  ].join('\n');
  const watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return watchdog;
}

export class PostgresCluster {
  private readonly watchdog: ChildProcess;

  private constructor(
    readonly base: string,
    readonly primary: PostgresServer,
    readonly standby: PostgresServer,
    readonly database: string,
  ) {
    this.watchdog = startWatchdog(base);
  }

  /** The URL Gavel gets: both hosts, the primary first. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.primary.port},127.0.0.1:${this.standby.port}/${this.database}`;
  }

  /**
   * initdb a primary configured for synchronous replication to one standby, create the
   * database, clone the standby with pg_basebackup -R, start it, and wait until the primary
   * reports it as its synchronous standby.
   */
  static async start(database = 'gavel'): Promise<PostgresCluster> {
    const base = mkdtempSync(join(tmpdir(), 'gavel-pg-'));
    if (PG_USER) chownSync(base, PG_USER.uid, PG_USER.gid);
    const [primaryPort, standbyPort] = [await sparePort(), await sparePort()];
    const primary = new PostgresServer('primary', primaryPort, join(base, 'primary'), join(base, 'primary.log'));
    const standby = new PostgresServer('standby', standbyPort, join(base, 'standby'), join(base, 'standby.log'));
    const cluster = new PostgresCluster(base, primary, standby, database);
    running.add(cluster);
    try {
      await pg('initdb', ['-D', primary.dataDir, '-U', 'postgres', '--auth=trust', '--no-instructions', '-E', 'UTF8', '--locale=C']);
      appendFileSync(
        join(primary.dataDir, 'postgresql.conf'),
        [
          '',
          '# gavel failover test',
          "listen_addresses = '127.0.0.1'",
          `port = ${primaryPort}`,
          `unix_socket_directories = '${base}'`,
          'max_connections = 60',
          'shared_buffers = 16MB',
          'wal_level = replica',
          'max_wal_senders = 4',
          'hot_standby = on',
          // A commit is acknowledged once the standby has it on disk too (docs/cluster.md).
          `synchronous_standby_names = '${STANDBY_NAME}'`,
          'synchronous_commit = on',
          '',
        ].join('\n'),
      );
      await primary.start();
      const admin = postgres(primary.url(), { max: 1, onnotice: () => {} });
      try {
        // No standby yet: a commit waiting for one would wait forever.
        await admin.unsafe('set synchronous_commit = local');
        await admin.unsafe(`create database ${database}`);
      } finally {
        await admin.end({ timeout: 1 });
      }
      await pg('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', standby.dataDir, '-R', '-X', 'stream', '-c', 'fast']);
      appendFileSync(
        join(standby.dataDir, 'postgresql.conf'),
        [
          '',
          '# the standby: its own port, its name for synchronous_standby_names, and no standby of its',
          '# own to wait for once promoted (until an operator attaches one)',
          `port = ${standbyPort}`,
          `cluster_name = '${STANDBY_NAME}'`,
          "synchronous_standby_names = ''",
          '',
        ].join('\n'),
      );
      await standby.start();
      await cluster.waitForSynchronousStandby();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Bounded wait until pg_stat_replication on the primary shows the standby as `sync`. */
  async waitForSynchronousStandby(timeoutMs = 30_000): Promise<void> {
    const sql = postgres(this.primary.url(), { max: 1, onnotice: () => {} });
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = await sql<{ sync_state: string }[]>`select sync_state from pg_stat_replication where application_name = ${STANDBY_NAME}`;
        if (rows[0]?.sync_state === 'sync') return;
        if (Date.now() > deadline) throw new Error(`the standby is not a synchronous standby after ${timeoutMs} ms (${JSON.stringify(rows)})\n${this.standby.log()}`);
        await sleep(100);
      }
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  /** Stops both servers and removes their files. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all([this.primary.stop().catch(() => this.primary.killNow()), this.standby.stop().catch(() => this.standby.killNow())]);
    rmSync(this.base, { recursive: true, force: true });
    running.delete(this);
    this.watchdog.kill('SIGKILL');
  }

  killNow(): void {
    this.primary.killNow();
    this.standby.killNow();
    rmSync(this.base, { recursive: true, force: true });
    this.watchdog.kill('SIGKILL');
  }
}
