// Browser tests of the web app: a Gavel node listening on 127.0.0.1 (in this process, on a
// temp data dir), the app built into dist/web when it is missing or older than web/, headless
// Chromium driven by playwright-core, and seed data made through the public API.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { startGavel, type GavelNode } from '../../src/gavel.js';

export const CHROMIUM_PATH = process.env.GAVEL_CHROMIUM ?? '/usr/bin/chromium';
const SERVICES_REQUIRED = process.env.GAVEL_REQUIRE_SERVICES === '1';
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ADMIN = { email: 'admin@gavel.test', password: 'admin-password-1' } as const;

/** Whether browser tests run here: Chromium present, or required (then missing is a failure). */
export const HAVE_CHROMIUM = existsSync(CHROMIUM_PATH);
if (!HAVE_CHROMIUM) {
  if (SERVICES_REQUIRED) throw new Error(`GAVEL_REQUIRE_SERVICES=1 but there is no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set GAVEL_CHROMIUM)`);
  console.warn(`[skip] web app browser tests skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set GAVEL_CHROMIUM; GAVEL_REQUIRE_SERVICES=1 fails instead)`);
}

// --- the build ----------------------------------------------------------------------------------

const WEB_SOURCES = ['web/src', 'web/index.html', 'web/vite.config.ts', 'web/public'];

function newestMs(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((name) => newestMs(join(path, name))));
}

/**
 * Builds the app (vite build web) when dist/web is missing or older than its sources. Test
 * files run in parallel: a lock directory makes one of them build while the others wait.
 */
export async function ensureWebBuild(): Promise<void> {
  const index = join(REPO_ROOT, 'dist/web/index.html');
  const fresh = () => existsSync(index) && statSync(index).mtimeMs >= Math.max(...WEB_SOURCES.map((p) => newestMs(join(REPO_ROOT, p))));
  if (fresh()) return;
  const lock = join(tmpdir(), 'gavel-web-build.lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another test file is building; a lock older than 3 minutes is left from a killed run.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('waited 3 minutes for another web build');
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (fresh()) return;
    }
  }
  try {
    if (!fresh()) execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'web', '--logLevel', 'warn'], { cwd: REPO_ROOT, stdio: 'inherit', timeout: 170_000 });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

// --- a node -------------------------------------------------------------------------------------

export interface WebNode {
  url: string;
  node: GavelNode;
  stop(): Promise<void>;
}

export async function startWebNode(overrides: Partial<Config> = {}): Promise<WebNode> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gavel-web-'));
  const config: Config = {
    ...loadConfig({}, {}),
    port: 0,
    host: '127.0.0.1',
    dataDir,
    databaseUrl: undefined,
    logLevel: 'silent',
    adminEmail: ADMIN.email,
    adminPassword: ADMIN.password,
    ...overrides,
  };
  const node = await startGavel(config);
  const address = node.http.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    node,
    stop: async () => {
      await node.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// --- the browser --------------------------------------------------------------------------------

export async function launchBrowser(): Promise<Browser> {
  // playwright gives every launch a fresh, temporary profile (user data dir) of its own.
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 60_000,
  });
}

/** A browser context signed in as someone (the token goes where the app keeps it). */
export async function signedInContext(browser: Browser, baseUrl: string, token: string | null, viewport = { width: 1280, height: 860 }): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport, locale: 'en-US', timezoneId: 'UTC' });
  context.setDefaultTimeout(15_000);
  if (token) await context.addInitScript({ content: `localStorage.setItem('gavel.token', ${JSON.stringify(token)});` });
  return context;
}

/** Collects errors the page logs, to fail a test on a broken page rather than a timeout. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

// --- a test file's app ----------------------------------------------------------------------------

/** How long a browser test waits for the page to show what it expects. */
export const POLL = { timeout: 15_000 };

/** A node serving the built app, Chromium to drive it, and the API signed in as the admin. */
export interface WebApp extends WebNode {
  readonly browser: Browser;
  readonly admin: Api;
}

/** The hooks of the test file (passed in, so that the screenshot script can use this file without vitest). */
export interface FileHooks {
  beforeAll(fn: () => Promise<void>, timeoutMs?: number): void;
  afterAll(fn: () => Promise<void>): void;
}

/**
 * What each test file in test/web starts with: before its tests, the app built if stale, a node,
 * Chromium (not with `browser: false`, for a file that only speaks HTTP) and the admin's API;
 * after them, all stopped. Read the answer's fields inside hooks and tests, once started:
 * `const web = useWebApp({ beforeAll, afterAll });`
 */
export function useWebApp(hooks: FileHooks, options: { browser?: boolean } = {}): WebApp {
  let node: WebNode | undefined;
  let browser: Browser | undefined;
  let admin: Api | undefined;
  hooks.beforeAll(async () => {
    await ensureWebBuild();
    node = await startWebNode();
    if (options.browser !== false) browser = await launchBrowser();
    admin = await adminApi(node.url);
  }, 240_000);
  hooks.afterAll(async () => {
    await browser?.close();
    await node?.stop();
  });
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not there: the app starts in beforeAll${what === 'the browser' ? ' (and this file asked for none)' : ''}`);
    return value;
  };
  return {
    get url() {
      return started(node, 'the node').url;
    },
    get node() {
      return started(node, 'the node').node;
    },
    get browser() {
      return started(browser, 'the browser');
    },
    get admin() {
      return started(admin, "the admin's API");
    },
    stop: () => started(node, 'the node').stop(),
  };
}

// --- the API, for seeding -------------------------------------------------------------------------

export class Api {
  constructor(
    readonly baseUrl: string,
    readonly token: string | null = null,
  ) {}

  async call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(this.token && { authorization: `Bearer ${this.token}` }), ...headers },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async upload(path: string, files: Array<{ name: string; bytes: Buffer; type: string }>): Promise<unknown> {
    const form = new FormData();
    for (const f of files) form.append('file', new Blob([new Uint8Array(f.bytes)], { type: f.type }), f.name);
    const res = await fetch(this.baseUrl + path, { method: 'POST', headers: this.token ? { authorization: `Bearer ${this.token}` } : {}, body: form });
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  async signIn(email: string, password: string): Promise<Api> {
    const { token } = await this.call<{ token: string }>('POST', '/api/auth/login', { email, password });
    return new Api(this.baseUrl, token);
  }
}

export interface Person {
  id: string;
  name: string;
  email: string;
  password: string;
  api: Api;
}

let people = 0;
export async function newPerson(baseUrl: string, name: string, roles?: string[]): Promise<Person> {
  people += 1;
  const email = `${name.toLowerCase().replace(/[^a-z]+/g, '.')}.${people}@gavel.test`;
  const password = `password-${people}-long-enough`;
  const user = await new Api(baseUrl).call<{ id: string }>('POST', '/api/auth/register', { name, email, password, ...(roles && { roles }) });
  return { id: user.id, name, email, password, api: await new Api(baseUrl).signIn(email, password) };
}

export async function adminApi(baseUrl: string): Promise<Api> {
  return new Api(baseUrl).signIn(ADMIN.email, ADMIN.password);
}

/** Money into someone's wallet without the payment page (an admin adjustment against issuance). */
export async function credit(admin: Api, userId: string, currency: string, amount: string): Promise<void> {
  await admin.call('POST', '/api/ledger/adjustments', { userId, currency, amount, direction: 'credit', memo: 'test funds' }, { 'idempotency-key': `credit-${userId}-${currency}-${amount}-${Math.random()}` });
}

export interface SeededAuction {
  id: string;
  lotId: string;
  title: string;
}

/** A category path, a lot with images, and a timed auction that opens at once. */
export async function openAuction(
  admin: Api,
  seller: Person,
  options: { title: string; description?: string; category?: string; startingPrice?: string; reserve?: string; buyNow?: string; endsInMs?: number; startsInMs?: number; hue?: number; softCloseSeconds?: number; currency?: string },
): Promise<SeededAuction> {
  const categoryId = options.category ?? (await admin.call<{ id: string }>('POST', '/api/categories', { name: `Category ${Math.random().toString(36).slice(2, 8)}` })).id;
  const lot = await seller.api.call<{ id: string }>('POST', '/api/lots', { title: options.title, description: options.description ?? `${options.title}. In fine condition; see the photographs.`, categoryId, condition: 'used_good' });
  await seller.api.upload(`/api/lots/${lot.id}/images`, [
    { name: 'front.png', bytes: artPng(options.hue ?? 30, 0), type: 'image/png' },
    { name: 'detail.png', bytes: artPng(options.hue ?? 30, 1), type: 'image/png' },
  ]);
  const now = Date.now();
  const startsAt = new Date(now + (options.startsInMs ?? 300)).toISOString();
  const endsAt = new Date(now + (options.startsInMs ?? 300) + (options.endsInMs ?? 3_600_000)).toISOString();
  const created = await seller.api.call<{ auction: { id: string } }>('POST', '/api/auctions', {
    lotId: lot.id,
    kind: 'timed',
    currency: options.currency ?? 'USD',
    startingPrice: options.startingPrice ?? '10.00',
    ...(options.reserve && { reserve: options.reserve }),
    ...(options.buyNow && { buyNow: options.buyNow }),
    ...(options.softCloseSeconds !== undefined && { softCloseSeconds: options.softCloseSeconds }),
    startsAt,
    endsAt,
  });
  return { id: created.auction.id, lotId: lot.id, title: options.title };
}

/** Waits until the auction is open (its start time passes within the engine's timer). */
export async function waitOpen(api: Api, auctionId: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const page = await api.call<{ live: { status: string } }>('GET', `/api/auctions/${auctionId}`);
    if (page.live.status === 'open') return;
    if (Date.now() > deadline) throw new Error(`auction ${auctionId} did not open (status ${page.live.status})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An asset and an instrument trading it against USD. */
export async function listInstrument(admin: Api, code = 'ACME', name = 'Acme Corporation shares'): Promise<string> {
  await admin.call('POST', '/api/ledger/assets', { code, scale: 0, name });
  const instrument = await admin.call<{ symbol: string }>('POST', '/api/exchange/instruments', { base: code, quote: 'USD', tickSize: '0.01', lotSize: '1', minQuantity: '1', maxQuantity: '100000', makerFeeBps: 10, takerFeeBps: 20 });
  return instrument.symbol;
}

// --- images --------------------------------------------------------------------------------------

/** A 480×360 PNG landscape in `hue`: sky, a low sun, two ranges of hills, water; variant moves the sun. */
export function artPng(hue: number, variant: number): Buffer {
  const width = 480;
  const height = 360;
  const raw = Buffer.alloc((width * 3 + 1) * height);
  const sunX = width * (0.3 + 0.35 * variant);
  const sunY = height * 0.42;
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0;
    for (let x = 0; x < width; x++) {
      const far = height * 0.55 + 18 * Math.sin(x / 37 + variant) + 10 * Math.sin(x / 13);
      const near = height * 0.68 + 26 * Math.sin(x / 53 + 2 + variant) + 6 * Math.sin(x / 9);
      const water = height * 0.8;
      const sun = (x - sunX) ** 2 + (y - sunY) ** 2 < 34 ** 2;
      let color: [number, number, number];
      if (y > water) color = hsl((hue + 190) % 360, 0.35, 0.32 + 0.1 * Math.sin(y / 3 + x / 40) * ((y - water) / (height - water)));
      else if (y > near) color = hsl((hue + 100) % 360, 0.3, 0.24);
      else if (y > far) color = hsl((hue + 140) % 360, 0.25, 0.38);
      else if (sun) color = hsl((hue + 40) % 360, 0.9, 0.75);
      else color = hsl(hue, 0.55, 0.45 + 0.35 * (y / far));
      const at = row + 1 + x * 3;
      raw[at] = color[0];
      raw[at + 1] = color[1];
      raw[at + 2] = color[2];
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function hsl(h: number, s: number, l: number): [number, number, number] {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
