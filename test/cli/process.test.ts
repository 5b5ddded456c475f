// The command line as a person or an orchestrator meets it: real child processes of
// `gavel` (from source through tsx), listening on a port the OS picks, on scratch storage.
// No assertion here is about speed; every wait is bounded (test/support/process.ts).
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OPTIONS } from '../../src/platform/config.js';
import { PASSWORD_MIN_LENGTH } from '../../src/platform/auth/passwords.js';
import { SQLITE_FILE_NAME } from '../../src/platform/db/sqlite-adapter.js';
import type { Dialect } from '../../src/platform/db/database.js';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../support/databases.js';
import { GavelProcess, killChildren, request, runCli, within, type Answer, type Env, type LogLine } from '../support/process.js';

// Each test starts one to four children from source (tsx compiles first): on a busy 2-core
// machine a single start can take several seconds. Generous, but every wait inside is bounded.
const SLOW = { timeout: 120_000 };

const ADMIN = { email: 'root@gavel.test', password: 'root-password-1' } as const;
const ADMIN_ENV = { GAVEL_ADMIN_EMAIL: ADMIN.email, GAVEL_ADMIN_PASSWORD: ADMIN.password } as const;

const storages: ScratchStorage[] = [];
async function scratch(dialect: Dialect = 'sqlite'): Promise<ScratchStorage> {
  const storage = await scratchStorage(dialect);
  storages.push(storage);
  return storage;
}

afterEach(async () => {
  await killChildren();
  await Promise.all(storages.splice(0).map((s) => s.drop()));
});

/** The flags that keep a child on loopback, on a free port, on `dataDir`. */
const local = (dataDir: string, ...more: string[]) => ['--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...more];

/** Where a dialect's storage is chosen: SQLite by --data-dir, PostgreSQL by DATABASE_URL. */
const storageEnv = (storage: ScratchStorage): Env => (storage.databaseUrl ? { DATABASE_URL: storage.databaseUrl } : {});

const listeningLines = (gavel: GavelProcess) => gavel.logs().filter((l) => l.msg.includes('listening on'));

function everyStdoutLineIsJson(stdout: string): void {
  for (const line of stdout.split('\n').filter((l) => l.trim() !== '')) expect(() => JSON.parse(line), line).not.toThrow();
}

async function login(base: string, email: string, password: string): Promise<string> {
  const res = await request(base, 'POST', '/api/auth/login', { json: { email, password } });
  expect(res.status, `login ${email}: ${res.text}`).toBe(200);
  return res.body.token as string;
}

let personCounter = 0;
function person(tag: string) {
  personCounter += 1;
  return { name: `Person ${personCounter}`, email: `${tag}-${personCounter}-${process.pid}@gavel.test`, password: `password-${personCounter}-long` };
}

describe('gavel start --help and bad input', SLOW, () => {
  it('prints every option of the table with its flag and environment variable, and exits 0', async () => {
    const run = await runCli(['start', '--help']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Usage: gavel start/);
    const lines = run.stdout.split('\n');
    for (const option of OPTIONS) {
      // The flag and its variable are printed on the same line, so a reader can pair them.
      const line = lines.find((l) => l.includes(` ${option.env} `));
      expect(line, `a help line for ${option.env}`).toBeDefined();
      if (option.flag) expect(line).toContain(`${option.flag} `);
      expect(line).toContain(option.defaultText);
    }
    expect(run.stdout).toContain('--help');
    expect(run.stdout).not.toContain('listening on');
  });

  it('refuses an unknown flag or a bad value with exit 2 and one clear line on stderr', async () => {
    const storage = await scratch();
    const cases: { args: string[]; env?: Env; message: RegExp }[] = [
      { args: ['start', ...local(storage.dataDir), '--bogus'], message: /--bogus/ },
      { args: ['start', '--data-dir', storage.dataDir, '--port', 'abc'], message: /--port.*"abc"/ },
      { args: ['start', ...local(storage.dataDir), '--role', 'nonsense'], message: /role "nonsense"/ },
      { args: ['start', '--data-dir', storage.dataDir], env: { GAVEL_PORT: 'abc' }, message: /GAVEL_PORT.*"abc"/ },
    ];
    const runs = await Promise.all(cases.map((c) => runCli(c.args, { timeoutMs: 100_000, ...(c.env && { env: c.env }) })));
    runs.forEach((run, i) => {
      const what = `${cases[i]!.args.join(' ')}: ${run.stderr}`;
      expect(run.code, what).toBe(2);
      expect(run.stderr, what).toMatch(cases[i]!.message);
      expect(run.stderr, what).not.toMatch(/\n\s+at /); // a message, not a stack trace
      expect(run.stdout, what).not.toContain('listening on');
    });
    // Nothing was started, so nothing was created.
    expect(existsSync(join(storage.dataDir, SQLITE_FILE_NAME))).toBe(false);
    // Four children load the whole module graph at once: room for a busy 2-core machine.
  }, 120_000);
});

describe('gavel start', SLOW, () => {
  it('creates and migrates the database on an empty data dir, says "listening on" once, answers /up and /ready, and stops on SIGINT', async () => {
    const storage = await scratch();
    const dataDir = join(storage.dataDir, 'fresh'); // does not exist yet
    const file = join(dataDir, SQLITE_FILE_NAME);
    expect(existsSync(file)).toBe(false);

    const gavel = await GavelProcess.start(local(dataDir));
    expect(existsSync(file)).toBe(true);
    expect((await request(gavel.base, 'GET', '/up')).status).toBe(200);
    const ready = await request(gavel.base, 'GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready' });
    // The api role is on by default: the route exists (and wants a token).
    expect((await request(gavel.base, 'GET', '/api/user/count')).status).toBe(401);

    const exit = await gavel.stop('SIGINT');
    expect(exit, gavel.describeOutput()).toEqual({ code: 0, signal: null });
    expect(listeningLines(gavel)).toHaveLength(1);
    expect(listeningLines(gavel)[0]!.msg).toContain(`listening on http://localhost:${gavel.port}`);
    expect(gavel.logs().map((l) => l.msg)).toContain('stopped');
    everyStdoutLineIsJson(gavel.stdout);

    // The start migrated everything: a migrate afterwards has nothing left to do.
    const migrate = await runCli(['migrate', '--data-dir', dataDir]);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(/up to date/);
  });

  it('takes options from the environment; --role worker answers /up and /ready but serves no public API', async () => {
    const storage = await scratch();
    // Port, address and data dir from the environment alone; the role from its flag.
    const env = { GAVEL_PORT: '0', GAVEL_HOST: '127.0.0.1', GAVEL_DATA_DIR: storage.dataDir };
    const gavel = await GavelProcess.start(['--role', 'worker'], { env });
    expect(gavel.port).toBeGreaterThan(0);
    expect(existsSync(join(storage.dataDir, SQLITE_FILE_NAME))).toBe(true);
    expect(listeningLines(gavel)[0]!.msg).toContain('roles worker');
    expect((await request(gavel.base, 'GET', '/up')).status).toBe(200);
    expect((await request(gavel.base, 'GET', '/ready')).status).toBe(200);
    expect((await request(gavel.base, 'GET', '/api/user/count')).status).toBe(404);
    expect((await request(gavel.base, 'POST', '/api/auth/register', { json: person('worker') })).status).toBe(404);
    expect(await gavel.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('lets a flag win over its environment variable', async () => {
    const fromEnv = await scratch();
    const fromFlag = await scratch();
    // Were the environment to win: port 1 (refused or at least not 0), the other data dir,
    // no API (worker) and no log line to find at all (silent).
    const env = { GAVEL_PORT: '1', GAVEL_DATA_DIR: fromEnv.dataDir, GAVEL_ROLE: 'worker', GAVEL_LOG_LEVEL: 'silent' };
    const gavel = await GavelProcess.start(['--port', '0', '--host', '127.0.0.1', '--data-dir', fromFlag.dataDir, '--role', 'api', '--log-level', 'info'], { env });
    expect(gavel.port).not.toBe(1);
    expect(existsSync(join(fromFlag.dataDir, SQLITE_FILE_NAME))).toBe(true);
    expect(existsSync(join(fromEnv.dataDir, SQLITE_FILE_NAME))).toBe(false);
    expect((await request(gavel.base, 'GET', '/api/user/count')).status).toBe(401);
    expect(await gavel.stop()).toEqual({ code: 0, signal: null });
  });
});

describe('graceful shutdown', SLOW, () => {
  /**
   * Sends the headers of a registration with `Expect: 100-continue`: the server answers
   * "100 Continue" once it has parsed them and routed the request, which tells the test
   * the request is in the server's hands. `onContinue` gets a function that sends the body.
   */
  function registration(base: string, agent: http.Agent, json: unknown, onContinue: (sendBody: (then?: () => void) => void) => void): Promise<Answer> {
    const payload = JSON.stringify(json);
    return within(
      20_000,
      'the registration to be answered',
      new Promise<Answer>((resolve, reject) => {
        const req = http.request(new URL('/api/auth/register', base), {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)), expect: '100-continue' },
        });
        req.on('continue', () => onContinue((then) => req.end(payload, then)));
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined, text }));
        });
        req.on('error', reject);
        req.flushHeaders();
      }),
    );
  }

  const isRequestLog = (url: string) => (l: LogLine) => l.msg === 'request' && l.url === url;
  const requestLog = (gavel: GavelProcess, url: string) => gavel.logs().find(isRequestLog(url));

  it('SIGTERM right after a registration is sent: the request still gets 201 and the process exits 0', async () => {
    const storage = await scratch();
    const gavel = await GavelProcess.start(local(storage.dataDir));
    // A keep-alive connection, as a browser or a load balancer would hold: it must not keep
    // the process alive once its request is answered.
    const agent = new http.Agent({ keepAlive: true });
    try {
      const answer = await registration(gavel.base, agent, person('term'), (sendBody) => sendBody(() => gavel.signal('SIGTERM')));
      expect(answer.status, answer.text).toBe(201);
      const exit = await gavel.waitForExit();
      expect(exit, gavel.describeOutput()).toEqual({ code: 0, signal: null });
      expect(gavel.logs().some((l) => l.msg.startsWith('shutting down') && l.signal === 'SIGTERM')).toBe(true);
      expect(requestLog(gavel, '/api/auth/register')?.status).toBe(201);
      expect(gavel.logs().map((l) => l.msg)).toContain('stopped');
    } finally {
      agent.destroy();
    }
  });

  it('drains a request that is still arriving when shutdown begins, then exits 0', async () => {
    const storage = await scratch();
    const gavel = await GavelProcess.start(local(storage.dataDir));
    const agent = new http.Agent({ keepAlive: true });
    try {
      // Headers in, then SIGTERM, and only once the process says it is shutting down the body:
      // the request is in flight during the shutdown whatever the timing.
      const answer = await registration(gavel.base, agent, person('drain'), (sendBody) => {
        gavel.signal('SIGTERM');
        gavel.waitForLog((l) => l.msg.startsWith('shutting down'), 10_000).then(() => sendBody(), () => sendBody());
      });
      expect(answer.status, answer.text).toBe(201);
      expect(answer.headers.connection).toBe('close');
      expect(await gavel.waitForExit()).toEqual({ code: 0, signal: null });
      // The request finished after the shutdown began: it was drained, not refused.
      const logs = gavel.logs();
      const shuttingDownAt = logs.findIndex((l) => l.msg.startsWith('shutting down'));
      const answeredAt = logs.findIndex(isRequestLog('/api/auth/register'));
      expect(shuttingDownAt).toBeGreaterThanOrEqual(0);
      expect(answeredAt).toBeGreaterThan(shuttingDownAt);
      expect(logs[answeredAt]!.status).toBe(201);
    } finally {
      agent.destroy();
    }
  });

  it('exits 1 when a request cannot be drained within --shutdown-timeout-ms', async () => {
    const storage = await scratch();
    const gavel = await GavelProcess.start(local(storage.dataDir, '--shutdown-timeout-ms', '200'));
    const agent = new http.Agent({ keepAlive: true });
    try {
      // A body announced and never sent: the request cannot finish.
      const stuck = http.request(new URL('/api/auth/register', gavel.base), {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': '1000', expect: '100-continue' },
      });
      stuck.on('error', () => {});
      const routed = new Promise<void>((resolve) => stuck.once('continue', () => resolve()));
      stuck.flushHeaders();
      await within(10_000, '100 Continue', routed);
      const exit = await gavel.stop('SIGTERM');
      expect(exit, gavel.describeOutput()).toEqual({ code: 1, signal: null });
      expect(gavel.logs().map((l) => l.msg)).toContain('shutdown timed out');
      stuck.destroy();
    } finally {
      agent.destroy();
    }
  });
});

describe('durability', SLOW, () => {
  it('loses no acknowledged registration when the process is killed (-9) mid-stream', async () => {
    const storage = await scratch();
    const args = local(storage.dataDir);
    const first = await GavelProcess.start(args, { env: ADMIN_ENV });

    // Registrations per address are rate limited (30 a minute), so the stream stays under that.
    const ACK_BEFORE_KILL = 10;
    const MAX_ATTEMPTS = 20;
    const WORKERS = 4;
    const attempted = new Map<string, { name: string; email: string; password: string }>();
    const acknowledged = new Map<string, { id: string; email: string; password: string }>();
    let killed = false;
    let inFlightAtKill = 0;
    let inFlight = 0;

    const worker = async () => {
      while (!killed && attempted.size < MAX_ATTEMPTS) {
        const p = person('crash');
        attempted.set(p.email, p);
        inFlight += 1;
        try {
          const res = await request(first.base, 'POST', '/api/auth/register', { json: p });
          // A 201 is an acknowledgement whenever it arrives, even after the kill was sent.
          expect(res.status, res.text).toBe(201);
          acknowledged.set(p.email, { id: res.body.id, email: p.email, password: p.password });
          if (!killed && acknowledged.size >= ACK_BEFORE_KILL) {
            killed = true;
            inFlightAtKill = inFlight - 1;
            first.signal('SIGKILL');
          }
        } catch (error) {
          // Requests cut off by the kill have no answer: they may or may not have happened.
          if (!killed) throw error;
        } finally {
          inFlight -= 1;
        }
      }
    };
    await within(60_000, 'the registration stream', Promise.all(Array.from({ length: WORKERS }, worker)));
    expect(killed, 'the stream reached the kill').toBe(true);
    expect(inFlightAtKill, 'registrations in flight when the process was killed').toBeGreaterThan(0);
    expect(await first.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });

    const second = await GavelProcess.start(args, { env: ADMIN_ENV });
    expect(listeningLines(second)).toHaveLength(1);
    const adminToken = await login(second.base, ADMIN.email, ADMIN.password);

    const listed = new Map<string, { id: string; email: string }>();
    let cursor: string | null = null;
    do {
      const page: Answer = await request(second.base, 'GET', `/api/user?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: adminToken });
      expect(page.status, page.text).toBe(200);
      for (const u of page.body.items as { id: string; email: string }[]) listed.set(u.email, u);
      cursor = page.body.nextCursor as string | null;
    } while (cursor);

    const count = await request(second.base, 'GET', '/api/user/count', { token: adminToken });
    expect(count.status).toBe(200);
    expect(count.body.count).toBe(listed.size);
    // Every acknowledged user is there; the only others are the admin and requests cut off.
    for (const user of acknowledged.values()) expect(listed.get(user.email)?.id, user.email).toBe(user.id);
    for (const email of listed.keys()) expect(email === ADMIN.email || attempted.has(email), email).toBe(true);
    expect(listed.size).toBeGreaterThanOrEqual(acknowledged.size + 1);
    // ...and each can sign in: the password was stored with the row.
    for (const user of acknowledged.values()) await login(second.base, user.email, user.password);

    expect(await second.stop()).toEqual({ code: 0, signal: null });
  });
});

describe.each(DIALECTS)('start, ready and shutdown on %s', SLOW, (dialect) => {
  it('starts, answers, keeps what it acknowledged across a graceful restart, and exits 0', async () => {
    const storage = await scratch(dialect);
    const args = local(storage.dataDir);
    const env = storageEnv(storage);

    const first = await GavelProcess.start(args, { env });
    expect(listeningLines(first)).toHaveLength(1);
    expect(listeningLines(first)[0]!.msg).toContain(dialect === 'postgres' ? '(postgres ' : '(sqlite ');
    expect((await request(first.base, 'GET', '/up')).status).toBe(200);
    expect((await request(first.base, 'GET', '/ready')).status).toBe(200);
    const p = person(dialect);
    const created = await request(first.base, 'POST', '/api/auth/register', { json: p });
    expect(created.status, created.text).toBe(201);
    expect(await first.stop('SIGTERM'), first.describeOutput()).toEqual({ code: 0, signal: null });

    const second = await GavelProcess.start(args, { env });
    expect((await request(second.base, 'GET', '/ready')).status).toBe(200);
    const token = await login(second.base, p.email, p.password);
    const me = await request(second.base, 'GET', '/api/auth/me', { token });
    expect(me.body.id).toBe(created.body.id);
    expect(await second.stop('SIGINT'), second.describeOutput()).toEqual({ code: 0, signal: null });
  });

  it('migrate exits 0 and says what it applied, then that nothing is left', async () => {
    const storage = await scratch(dialect);
    const args = ['migrate', '--data-dir', storage.dataDir];
    const env = storageEnv(storage);
    const first = await runCli(args, { env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`migrated ${dialect} .*: applied \\w+/\\S+`));
    if (dialect === 'sqlite') expect(existsSync(join(storage.dataDir, SQLITE_FILE_NAME))).toBe(true);

    const again = await runCli(args, { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already up to date/);
  });
});

describe('gavel admin create', SLOW, () => {
  it('creates an admin who can then sign in; a second run reports "already"; a short password exits 2', async () => {
    const storage = await scratch();
    const boss = { email: 'boss@gavel.test', password: 'boss-password-1' };
    const create = ['admin', 'create', '--email', boss.email, '--password', boss.password, '--data-dir', storage.dataDir];

    const tooShort = join(storage.dataDir, 'short');
    const [first, short] = await Promise.all([
      runCli(create),
      runCli(['admin', 'create', '--email', 'x@gavel.test', '--password', 'p'.repeat(PASSWORD_MIN_LENGTH - 1), '--data-dir', tooShort]),
    ]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`created admin ${boss.email}`);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain(`at least ${PASSWORD_MIN_LENGTH} characters`);
    expect(existsSync(join(tooShort, SQLITE_FILE_NAME))).toBe(false);

    const again = await runCli(create);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already/);

    const gavel = await GavelProcess.start(local(storage.dataDir));
    const token = await login(gavel.base, boss.email, boss.password);
    const me = await request(gavel.base, 'GET', '/api/auth/me', { token });
    expect(me.body.roles).toContain('admin');
    const count = await request(gavel.base, 'GET', '/api/user/count', { token });
    expect(count.status).toBe(200);
    expect(count.body).toEqual({ count: 1 });
    expect(await gavel.stop()).toEqual({ code: 0, signal: null });
  });
});
