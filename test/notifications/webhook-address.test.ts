// Webhooks go to public addresses only: a literal private, loopback or link-local address (or
// localhost) is refused at registration; a name that resolves to one is refused at delivery,
// for good, without sending anything; GAVEL_WEBHOOK_ALLOW_PRIVATE lifts both for development.
// The checks do not depend on storage, so the routes run on SQLite only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/platform/config.js';
import { uuidv7 } from '../../src/platform/ids.js';
import type { NewEvent } from '../../src/platform/outbox/outbox.js';
import { forbiddenAddressKind, systemResolver, webhookHostProblem, webhookTarget, type HostResolver } from '../../src/notifications/webhook-address.js';
import { startTestNode, type TestNode } from '../support/gavel.js';
import { expectProblem, fieldsAtFault, ROOMY_LIMITS } from '../support/problems.js';
import { webhookReceiver, type WebhookReceiver } from './receivers.js';
import { until } from './support.js';

const FORBIDDEN_V4 = [
  ['127.0.0.1', /loopback/],
  ['127.255.255.254', /loopback/],
  ['10.0.0.1', /private/],
  ['10.255.255.255', /private/],
  ['172.16.0.1', /private/],
  ['172.31.255.255', /private/],
  ['192.168.1.1', /private/],
  ['169.254.169.254', /link-local .*metadata/],
  ['0.0.0.0', /unspecified/],
  ['100.64.0.1', /carrier-grade NAT/],
  ['224.0.0.1', /multicast/],
  ['255.255.255.255', /broadcast/],
] as const;

const FORBIDDEN_V6 = [
  ['::1', /loopback/],
  ['::', /unspecified/],
  ['fc00::1', /unique local/],
  ['fd12:3456:789a::1', /unique local/],
  ['fe80::1', /link-local/],
  ['febf:ffff::1', /link-local/],
  ['ff02::1', /multicast/],
  ['::ffff:127.0.0.1', /IPv4-mapped address for 127\.0\.0\.1, a loopback address/],
  ['::ffff:a9fe:a9fe', /IPv4-mapped address for 169\.254\.169\.254, a link-local/],
  ['64:ff9b::a00:1', /NAT64 address for 10\.0\.0\.1, a private address/],
  ['2002:c0a8:101::1', /6to4 address for 192\.168\.1\.1/],
] as const;

const PUBLIC = ['8.8.8.8', '1.1.1.1', '172.15.255.255', '172.32.0.1', '192.169.0.1', '100.128.0.1', '169.255.0.1', '11.0.0.1', '2606:4700:4700::1111', '2a00:1450::1', '::ffff:8.8.8.8', '64:ff9b::808:808', 'fbff::1', '2001:db8::1'];

describe('which addresses are forbidden', () => {
  it('every loopback, private, link-local, unspecified, shared, multicast and reserved IPv4 range', () => {
    for (const [address, kind] of FORBIDDEN_V4) expect(forbiddenAddressKind(address), address).toMatch(kind);
  });

  it('IPv6 loopback, unspecified, unique local (fc00::/7), link-local (fe80::/10), multicast, and wrappers of forbidden IPv4 addresses', () => {
    for (const [address, kind] of FORBIDDEN_V6) expect(forbiddenAddressKind(address), address).toMatch(kind);
    expect(forbiddenAddressKind('fe80::1%eth0')).toMatch(/link-local/);
  });

  it('public addresses, including neighbours of the forbidden ranges and wrappers of public IPv4 addresses, are fine', () => {
    for (const address of PUBLIC) expect(forbiddenAddressKind(address), address).toBeUndefined();
  });

  it('registration judges literal hosts and localhost names, and leaves other names to delivery', () => {
    const problem = (url: string) => webhookHostProblem(new URL(url), { allowPrivate: false });
    expect(problem('http://127.0.0.1:8080/in')).toBe('points at 127.0.0.1, a loopback address: webhooks go to public addresses only');
    // Spellings the URL parser turns into 127.0.0.1, and bracketed IPv6.
    for (const url of ['http://2130706433/', 'http://0x7f.1/', 'http://127.1/', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/', 'http://[fd00::5]:9000/']) expect(problem(url), url).toBeDefined();
    for (const url of ['http://localhost/', 'http://LOCALHOST.:3000/', 'https://api.localhost/hook']) expect(problem(url), url).toMatch(/this machine/);
    for (const url of ['https://example.com/hook', 'https://hooks.example.test:8443/', 'http://8.8.8.8/', 'http://[2606:4700::1]/', 'http://localhost.example.com/']) expect(problem(url), url).toBeUndefined();
    expect(webhookHostProblem(new URL('http://127.0.0.1/'), { allowPrivate: true })).toBeUndefined();
  });
});

describe('where a delivery connects', () => {
  const resolver = (table: Record<string, string[]>): HostResolver => async (host) => (table[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('a name resolving to a forbidden address is refused for good, even beside public ones', async () => {
    const resolve = resolver({ 'mixed.example.test': ['93.184.216.34', '10.0.0.7'], 'public.example.test': ['93.184.216.34', '2606:2800::1'] });
    expect(await webhookTarget('mixed.example.test', { allowPrivate: false, resolve })).toEqual({ ok: false, forbidden: true, reason: 'mixed.example.test resolves to 10.0.0.7, a private address: webhooks go to public addresses only' });
    expect(await webhookTarget('public.example.test', { allowPrivate: false, resolve })).toEqual({ ok: true, address: '93.184.216.34', family: 4 });
    expect(await webhookTarget('[::1]', { allowPrivate: false, resolve })).toMatchObject({ ok: false, forbidden: true, reason: expect.stringMatching(/^::1 is a loopback address/) });
    expect(await webhookTarget('mixed.example.test', { allowPrivate: true, resolve })).toEqual({ ok: true, address: '93.184.216.34', family: 4 });
  });

  it('a name that does not resolve is a network error (retried), not a refusal', async () => {
    await expect(webhookTarget('nowhere.example.test', { allowPrivate: false, resolve: resolver({}) })).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('localhost through the system resolver is refused', async () => {
    const addresses = await systemResolver('localhost');
    expect(addresses.length).toBeGreaterThan(0);
    expect(await webhookTarget('localhost', { allowPrivate: false })).toMatchObject({ ok: false, forbidden: true, reason: expect.stringMatching(/^localhost resolves to (127\.0\.0\.1|::1), a loopback address/) });
  });
});

describe('the allow switch', () => {
  it('is off by default, and read from GAVEL_WEBHOOK_ALLOW_PRIVATE or --webhook-allow-private', () => {
    expect(loadConfig({}, {}).webhookAllowPrivate).toBe(false);
    expect(loadConfig({}, { GAVEL_WEBHOOK_ALLOW_PRIVATE: '1' }).webhookAllowPrivate).toBe(true);
    expect(loadConfig({}, { GAVEL_WEBHOOK_ALLOW_PRIVATE: 'off' }).webhookAllowPrivate).toBe(false);
    expect(loadConfig({ webhookAllowPrivate: '1' }, {}).webhookAllowPrivate).toBe(true);
    expect(() => loadConfig({}, { GAVEL_WEBHOOK_ALLOW_PRIVATE: 'maybe' })).toThrow(ConfigError);
  });
});

const FAST = { retry: { firstDelayMs: 20, maxDelayMs: 80 }, pollIntervalMs: 20 };
const MAX_ATTEMPTS = 3;

describe('webhook addresses through the API', () => {
  let hooks: WebhookReceiver;
  let strict: TestNode;
  let lenient: TestNode;
  let port = 0;
  /** Test names: a rebinding name that points at the receiver on 127.0.0.1. */
  const resolveWebhookHost: HostResolver = async (host) => (host.endsWith('.example.test') ? [{ address: '127.0.0.1', family: 4 }] : systemResolver(host));

  beforeAll(async () => {
    hooks = await webhookReceiver(0);
    port = Number(new URL(hooks.url('/')).port);
    strict = await startTestNode('sqlite', { notifyMaxAttempts: MAX_ATTEMPTS }, { notifications: { ...FAST, resolveWebhookHost }, loginLimits: ROOMY_LIMITS });
    lenient = await startTestNode('sqlite', { notifyMaxAttempts: MAX_ATTEMPTS, webhookAllowPrivate: true }, { notifications: { ...FAST, resolveWebhookHost }, loginLimits: ROOMY_LIMITS });
  });
  afterAll(async () => {
    await strict?.close();
    await lenient?.close();
    await hooks?.close();
  });

  const credited = (userId: string): NewEvent => ({ topic: 'ledger.topup.credited', key: userId, payload: { userId, topupId: uuidv7(Date.now()), currency: 'USD', amount: '5.00', amountMinor: '500' } });
  const publish = async (t: TestNode, event: NewEvent) => {
    await t.node.database.kysely.transaction().execute((tx) => t.node.bus.append(tx, event));
    t.node.bus.poke();
  };

  it('refuses a literal loopback, private, link-local or unspecified address, and localhost, with 422 naming url; nothing is stored', async () => {
    const me = await strict.newUser();
    const refused = [
      'http://127.0.0.1:8080/hook',
      'http://10.1.2.3/',
      'http://172.16.5.4/',
      'http://192.168.0.10:3000/in',
      'http://169.254.169.254/latest/meta-data/',
      'http://0.0.0.0/',
      'http://[::1]:8080/',
      'http://[fc00::1]/',
      'http://[fd00:ec2::254]/',
      'http://[fe80::1]/',
      'http://[::ffff:10.0.0.1]/',
      'http://2130706433/',
      'http://localhost:8080/',
      'https://LocalHost./hook',
      'http://admin.localhost/',
    ];
    for (const url of refused) {
      const res = await strict.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url } });
      expectProblem(res, 422, 'WEBHOOK_ADDRESS_FORBIDDEN');
      expect(fieldsAtFault(res), url).toEqual(['url']);
      expect(res.body.errors[0].message, url).toMatch(/public addresses only/);
    }
    expect((await strict.call('GET', '/api/notifications/webhooks', { token: me.token })).body.items).toEqual([]);
    // Malformed URLs are still the 400 they were; public ones and any port are fine.
    expectProblem(await strict.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url: 'ftp://127.0.0.1/' } }), 400, 'VALIDATION');
    expectProblem(await strict.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url: 'http://user:pw@127.0.0.1/' } }), 400, 'VALIDATION');
    for (const url of ['https://hooks.example.com:8443/gavel', 'http://93.184.216.34:9000/in', 'https://[2606:4700::1111]/']) {
      expect((await strict.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url } })).status, url).toBe(201);
    }
  });

  it('a name that resolves to 127.0.0.1 is refused at delivery: nothing sent, no retries, a dead letter whose log says why', async () => {
    const me = await strict.newUser();
    const path = '/rebound';
    const res = await strict.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url: `http://rebind.example.test:${port}${path}` } });
    expect(res.status, res.text).toBe(201);
    await publish(strict, credited(me.id));
    const admin = await strict.adminToken();
    const dead = await until('the dead letter', async () => (await strict.call('GET', '/api/admin/notifications/dead-letters?limit=100', { token: admin })).body.items.filter((d: any) => d.webhookId === res.body.id), (d) => d.length === 1);
    expect(dead[0]).toMatchObject({ state: 'dead', attempts: 1, lastError: `rebind.example.test resolves to 127.0.0.1, a loopback address: webhooks go to public addresses only` });
    const log = await strict.call('GET', `/api/notifications/webhooks/${res.body.id}/deliveries`, { token: me.token });
    expect(log.body.items).toEqual([expect.objectContaining({ attempt: 1, outcome: 'failed', statusCode: null, error: dead[0].lastError })]);
    expect(hooks.posts(path)).toEqual([]);
  });

  it('with the switch on, private addresses register and deliver; a name is connected to the address it resolved to, under its own Host', async () => {
    const me = await lenient.newUser();
    const literal = await lenient.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url: hooks.url('/literal') } });
    expect(literal.status, literal.text).toBe(201);
    const named = await lenient.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url: `http://hooks.example.test:${port}/named` } });
    expect(named.status, named.text).toBe(201);
    expect((await lenient.call('POST', '/api/notifications/webhooks', { token: me.token, json: { url: 'http://localhost:1/' } })).status).toBe(201);
    await publish(lenient, credited(me.id));
    await until('both delivered', async () => [hooks.accepted('/literal').length, hooks.accepted('/named').length], ([a, b]) => a === 1 && b === 1);
    expect(hooks.accepted('/named')[0]!.headers.host).toBe(`hooks.example.test:${port}`);
  });
});
