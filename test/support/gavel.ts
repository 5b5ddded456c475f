// A Gavel node for tests: in-process, no port (requests go through fastify's inject), on a
// fresh store of the chosen dialect, with an admin account ready.
import type { Dialect } from '../../src/platform/db/database.js';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { startGavel, type GavelNode, type StartOptions } from '../../src/gavel.js';
import { scratchStorage, type ScratchStorage } from './databases.js';

export const ADMIN = { email: 'admin@gavel.test', password: 'admin-password-1' } as const;

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

export interface CallOptions {
  token?: string;
  /** A value sent as JSON. */
  json?: unknown;
  /** Raw bytes or text, sent as is with `contentType`. */
  payload?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  remoteAddress?: string;
}

export interface TestNode {
  node: GavelNode;
  storage: ScratchStorage;
  call(method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH', url: string, options?: CallOptions): Promise<Answer>;
  login(email: string, password: string): Promise<string>;
  adminToken(): Promise<string>;
  /** Registers a person and signs them in. */
  newUser(name?: string, roles?: string[]): Promise<{ id: string; email: string; password: string; token: string }>;
  close(): Promise<void>;
}

let counter = 0;

export async function startTestNode(dialect: Dialect, overrides: Partial<Config> = {}, options: StartOptions = {}): Promise<TestNode> {
  const storage = await scratchStorage(dialect);
  try {
    return await attachTestNode(storage, overrides, options, { dropStorage: true });
  } catch (error) {
    await storage.drop();
    throw error;
  }
}

/**
 * A node on storage that exists already (another node's: a cluster of nodes sharing one
 * PostgreSQL database). `close` drops the storage only when `dropStorage` says so.
 */
export async function attachTestNode(storage: ScratchStorage, overrides: Partial<Config> = {}, options: StartOptions = {}, { dropStorage = false } = {}): Promise<TestNode> {
  const config: Config = {
    ...loadConfig({}, {}),
    dataDir: storage.dataDir,
    databaseUrl: storage.databaseUrl,
    logLevel: 'silent',
    adminEmail: ADMIN.email,
    adminPassword: ADMIN.password,
    ...overrides,
  };
  const node = await startGavel(config, { listen: false, ...options });

  const call: TestNode['call'] = async (method, url, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let payload: string | Buffer | undefined = o.payload;
    if (o.json !== undefined) {
      payload = JSON.stringify(o.json);
      headers['content-type'] = 'application/json';
    }
    if (o.contentType) headers['content-type'] = o.contentType;
    const res = await node.http.inject({ method, url, headers, ...(payload !== undefined && { payload }), ...(o.remoteAddress && { remoteAddress: o.remoteAddress }) });
    let body: unknown = undefined;
    try {
      body = res.body.length ? JSON.parse(res.body) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, headers: res.headers as Answer['headers'], body, text: res.body };
  };

  const login = async (email: string, password: string) => {
    const res = await call('POST', '/api/auth/login', { json: { email, password } });
    if (res.status !== 200) throw new Error(`login failed for ${email}: ${res.status} ${res.text}`);
    return res.body.token as string;
  };

  let adminTokenCache: string | undefined;
  return {
    node,
    storage,
    call,
    login,
    adminToken: async () => (adminTokenCache ??= await login(ADMIN.email, ADMIN.password)),
    newUser: async (name = 'Test Person', roles?: string[]) => {
      counter += 1;
      const email = `person${counter}.${process.pid}@gavel.test`;
      const password = `password-${counter}-long`;
      const res = await call('POST', '/api/auth/register', { json: { name, email, password, ...(roles && { roles }) } });
      if (res.status !== 201) throw new Error(`register failed: ${res.status} ${res.text}`);
      return { id: res.body.id as string, email, password, token: await login(email, password) };
    },
    close: async () => {
      await node.stop();
      if (dropStorage) await storage.drop();
    },
  };
}
