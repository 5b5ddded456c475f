// Real `gavel` processes for tests: the CLI run from source (node --import tsx src/cli.ts)
// as a child, on a port the OS picks. Every wait is bounded, and every child started here is
// remembered so an afterEach can kill whatever a failed test left running (killChildren).
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli.ts'];

/** Starting from source compiles with tsx first; on a busy machine that takes a while. */
export const READY_TIMEOUT_MS = 30_000;
export const EXIT_TIMEOUT_MS = 15_000;

export type Env = Record<string, string | undefined>;

/**
 * The environment for a child: this process's, without anything that configures Gavel
 * (GAVEL_*, DATABASE_URL, NATS_URL) or node itself, plus `extra` (undefined removes a key).
 * GAVEL_DEMO=0 unless `extra` says otherwise: a child starts on an empty database, as tests
 * expect, instead of the demo data a person's first `gavel start` gets.
 */
export function childEnv(extra: Env = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('GAVEL_') || key === 'DATABASE_URL' || key === 'NATS_URL' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  env.GAVEL_DEMO = '0';
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const children = new Set<ChildProcess>();

function spawnCli(args: readonly string[], env: Env): ChildProcess {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Rejects with `what` when `promise` has not settled within `ms`. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Kills (SIGKILL) every child still running and waits for them to be gone. */
export async function killChildren(): Promise<void> {
  const running = [...children];
  for (const child of running) child.kill('SIGKILL');
  await within(EXIT_TIMEOUT_MS, 'killed children to exit', Promise.all(running.map(exitOf)));
}

export interface CliRun extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs a command that ends by itself (help, migrate, admin, bad input) and collects its output. */
export async function runCli(args: readonly string[], options: { env?: Env; timeoutMs?: number } = {}): Promise<CliRun> {
  const child = spawnCli(args, options.env ?? {});
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = await within(options.timeoutMs ?? READY_TIMEOUT_MS, `gavel ${args.join(' ')} to exit`, exitOf(child)).catch((error: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${error.message}\nstdout: ${stdout}\nstderr: ${stderr}`);
  });
  await streamsEnded(child);
  return { ...exit, stdout, stderr };
}

function streamsEnded(child: ChildProcess): Promise<unknown> {
  const ended = (stream: NodeJS.ReadableStream | null) => (stream === null || (stream as { readableEnded?: boolean }).readableEnded ? Promise.resolve() : new Promise((r) => stream.once('close', r)));
  return within(5_000, 'child output to end', Promise.all([ended(child.stdout), ended(child.stderr)]));
}

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A running `gavel start`: its port, its output so far, and ways to signal it. */
export class GavelProcess {
  stdout = '';
  stderr = '';
  port = 0;
  readonly exited: Promise<Exit>;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    this.exited = exitOf(child);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      for (const wake of this.waiters) wake();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    void this.exited.then(() => {
      for (const wake of this.waiters) wake();
    });
  }

  /** Spawns `gavel start ...args` and resolves once it logs that it is listening. */
  static async start(args: readonly string[], options: { env?: Env; readyTimeoutMs?: number } = {}): Promise<GavelProcess> {
    const gavel = new GavelProcess(spawnCli(['start', ...args], options.env ?? {}));
    const line = await gavel.waitForLog((l) => l.msg.includes('listening on'), options.readyTimeoutMs ?? READY_TIMEOUT_MS);
    const match = /listening on http:\/\/[^:\s]+:(\d+)/.exec(line.msg);
    if (!match) throw new Error(`no port in "${line.msg}"`);
    gavel.port = Number(match[1]);
    return gavel;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The complete JSON lines on stdout so far (pino writes one object per line). */
  logs(): LogLine[] {
    return this.stdout
      .split('\n')
      .filter((line) => line.trim().startsWith('{') && line.trim().endsWith('}'))
      .map((line) => JSON.parse(line) as LogLine);
  }

  /** Resolves with the first log line matching; rejects on timeout or when the process exits first. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (error: Error | undefined, line?: LogLine) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error) reject(error);
        else resolve(line!);
      };
      const check = () => {
        const line = this.logs().find(match);
        if (line) return finish(undefined, line);
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          finish(new Error(`gavel exited (code ${this.child.exitCode}, signal ${this.child.signalCode}) before the expected log line\n${this.describeOutput()}`));
        }
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for a log line\n${this.describeOutput()}`)), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.child.kill(signal)) throw new Error(`could not send ${signal} to ${this.pid}`);
  }

  /** Waits (bounded) for the process to end; output streams are drained too. */
  async waitForExit(timeoutMs = EXIT_TIMEOUT_MS): Promise<Exit> {
    const exit = await within(timeoutMs, `gavel (pid ${this.pid}) to exit\n${this.describeOutput()}`, this.exited);
    await streamsEnded(this.child);
    return exit;
  }

  /** Sends `signal` and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = EXIT_TIMEOUT_MS): Promise<Exit> {
    this.signal(signal);
    return this.waitForExit(timeoutMs);
  }

  describeOutput(): string {
    return `--- stdout\n${this.stdout}--- stderr\n${this.stderr}---`;
  }
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
  text: string;
}

export interface RequestOptions {
  json?: unknown;
  token?: string;
  headers?: Record<string, string>;
  /** Defaults to a fresh connection per request (no keep-alive pool left behind). */
  agent?: http.Agent | false;
  timeoutMs?: number;
}

/** One HTTP request to a child; rejects on a connection error or after `timeoutMs`. */
export function request(base: string, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const headers: Record<string, string | number> = { ...options.headers };
  const payload = options.json === undefined ? undefined : JSON.stringify(options.json);
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, headers, agent: options.agent ?? false, timeout: options.timeoutMs ?? 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, body, text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${options.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
