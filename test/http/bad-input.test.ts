// Bad input is an answer, not a crash (DESIGN rule 6). A table of malformed, hostile and
// oversized requests goes to every write route of accounts and to every path and query input
// of the users API. Each row must be answered with a 4xx problem document naming the field
// at fault, and after the whole table the accounts tables hold exactly what they held before.
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProblemCode } from '../../src/platform/errors.js';
import { JSON_DEPTH_MAX } from '../../src/platform/http/server.js';
import { DIALECTS } from '../support/databases.js';
import { ADMIN, startTestNode, type Answer, type TestNode } from '../support/gavel.js';

type Caller = 'admin' | 'self' | 'anonymous' | 'forged';
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Where = 'body' | 'query' | 'params';

/** Who the table refers to; known once the node runs. */
interface Fixture {
  adminId: string;
  /** An ordinary user: the subject of updates, and the caller of the `self` rows. */
  target: { id: string; email: string; password: string };
}

interface Expected {
  status: number;
  code: ProblemCode;
  /**
   * The fields the errors must name: each is named by some error, and every error names one
   * of them (or something inside one: `roles.0` is inside `roles`). '' is the body itself.
   */
  fields?: string[];
}

type Payload = { json: unknown } | { raw: string | Buffer; contentType?: string } | { none: true };

interface Row {
  name: string;
  method: Method;
  url: (f: Fixture) => string;
  as: Caller;
  payload: (f: Fixture) => Payload;
  where: Where;
  expected: Expected;
}

// --- the hostile values -----------------------------------------------------------------------

const SQL_INJECTIONS = [
  "' OR '1'='1",
  "Robert'); DROP TABLE accounts_users;--",
  '1; DELETE FROM accounts_sessions; --',
  "admin@gavel.test' --",
  "x' UNION SELECT password_hash FROM accounts_users --",
  "\u0000' OR 1=1 --",
];
/** Text no field should store: a NUL alone, and a lone UTF-16 surrogate. */
const BROKEN_TEXT = ['\u0000', 'Ada\ud800Lovelace'];
const HTML_INJECTIONS = ['<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '"><svg onload=alert(1)>'];
const HOSTILE_STRINGS = [...SQL_INJECTIONS, ...HTML_INJECTIONS, ...BROKEN_TEXT];
/** What a URL can carry (a lone surrogate cannot be percent-encoded; its bytes are a row of their own). */
const HOSTILE_IN_URLS = [...SQL_INJECTIONS, ...HTML_INJECTIONS, '\u0000'];

const WRONG_FOR_STRING: Array<[string, unknown]> = [
  ['a number', 42],
  ['an array', ['Ada']],
  ['an object', { first: 'Ada' }],
  ['null', null],
  ['a boolean', true],
];
const WRONG_FOR_INTEGER: Array<[string, unknown]> = [
  ['a number as a string', '1'],
  ['a fraction', 1.5],
  ['an array', [1]],
  ['an object', { value: 1 }],
  ['null', null],
  ['a boolean', true],
  ['a SQL string', "1 OR 1=1"],
];
const WRONG_FOR_ROLES: Array<[string, unknown, string]> = [
  ['a string', 'bidder', 'roles'],
  ['an object', { 0: 'bidder' }, 'roles'],
  ['null', null, 'roles'],
  ['a boolean', true, 'roles'],
  ['a number', 42, 'roles'],
  ['a number inside', [42], 'roles.0'],
  ['null inside', [null], 'roles.0'],
  ['an unknown role', ['superuser'], 'roles.0'],
  ['a repeated role', ['bidder', 'bidder'], 'roles'],
  ['a nested array', [['bidder']], 'roles.0'],
  ['a SQL string inside', ["bidder'; DROP TABLE accounts_users;--"], 'roles.0'],
];
/** Spliced into the JSON text as is: JSON.stringify cannot write 1e400. */
const HUGE_NUMBERS = ['1e400', '-1e400', '12345678901234567890123', '-1', String(2 ** 53), '1.5e300'];
const MALFORMED_JSON: Array<[string, string]> = [
  ['truncated', '{"name": "Ada Lovel'],
  ['a trailing comma in an object', '{"name": "Ada Lovelace",}'],
  ['a trailing comma in an array', '{"roles": ["bidder",]}'],
  ['single quotes', "{'name': 'Ada Lovelace'}"],
  ['unquoted keys', '{name: "Ada Lovelace"}'],
  ['NaN', '{"group": NaN}'],
  ['a comment', '{/* who */ "name": "Ada"}'],
  ['two documents', '{}{}'],
  ['a lone brace', '{'],
  ['an unterminated escape', '{"name": "Ada\\'],
];
const INVALID_UTF8: Array<[string, number[]]> = [
  ['a 0xFF byte', [0xff]],
  ['an overlong slash', [0xc0, 0xaf]],
  ['an encoded surrogate', [0xed, 0xa0, 0x80]],
  ['a truncated sequence', [0xe2, 0x82]],
  ['Latin-1 ë', [0xeb]],
];
const UNSUPPORTED_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/jsonx'];

const TEN_MB = 10 * 1024 * 1024;
let tenMegabytes: Buffer | undefined;
/** A 10 MB JSON body, built once. */
function hugeBody(field: string): Buffer {
  tenMegabytes ??= Buffer.from(`{"${field}":"${'a'.repeat(TEN_MB)}"}`);
  return tenMegabytes;
}

const nestedArrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const nestedObjects = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

// --- the routes that take a body ------------------------------------------------------------

interface BodyRoute {
  label: string;
  method: 'POST' | 'PUT';
  url: string;
  as: Caller;
  /** A body this route would accept. Never sent as is: every row spoils it somehow. */
  valid: (f: Fixture) => Record<string, unknown>;
  required: string[];
  strings: string[];
  integers: string[];
  hasRoles: boolean;
  /**
   * A hostile string the schema admits in this field (a password may be anything): the row
   * also carries what makes the request fail, and the answer it then gets.
   */
  admitted: Record<string, { spoil: (f: Fixture) => Record<string, unknown>; expected: Expected }>;
}

type Admitted = BodyRoute['admitted'][string];
const takenEmail: Admitted = { spoil: () => ({ email: ADMIN.email.toUpperCase() }), expected: { status: 409, code: 'EMAIL_TAKEN', fields: ['email'] } };
const wrongCredentials: Admitted = { spoil: () => ({}), expected: { status: 401, code: 'INVALID_CREDENTIALS' } };

const BODY_ROUTES: BodyRoute[] = [
  {
    label: 'POST /api/user (admin)',
    method: 'POST',
    url: '/api/user',
    as: 'admin',
    valid: () => ({ name: 'Ada Lovelace', email: 'ada.created@gavel.test', group: 1, roles: ['bidder', 'seller'], password: 'a-long-password-1' }),
    required: ['name', 'email'],
    strings: ['name', 'email', 'password'],
    integers: ['group'],
    hasRoles: true,
    admitted: { password: takenEmail },
  },
  {
    label: 'PUT /api/user (admin)',
    method: 'PUT',
    url: '/api/user',
    as: 'admin',
    valid: (f) => ({ id: f.target.id, name: 'Ada Lovelace', email: 'ada.changed@gavel.test', group: 2, roles: ['bidder', 'seller'], reputation: 60 }),
    required: ['id'],
    strings: ['id', 'name', 'email'],
    integers: ['group', 'reputation'],
    hasRoles: true,
    admitted: {},
  },
  {
    label: 'PUT /api/user (the user themselves)',
    method: 'PUT',
    url: '/api/user',
    as: 'self',
    valid: (f) => ({ id: f.target.id, name: 'Ada Lovelace', email: 'ada.self@gavel.test', roles: ['bidder', 'seller'] }),
    required: ['id'],
    strings: ['id', 'name', 'email'],
    // Not theirs to change, but a wrong type is refused before the permission is checked.
    integers: ['group', 'reputation'],
    hasRoles: true,
    admitted: {},
  },
  {
    label: 'POST /api/auth/register',
    method: 'POST',
    url: '/api/auth/register',
    as: 'anonymous',
    valid: () => ({ name: 'Ada Lovelace', email: 'ada.registered@gavel.test', password: 'a-long-password-1', roles: ['bidder'] }),
    required: ['name', 'email', 'password'],
    strings: ['name', 'email', 'password'],
    integers: [],
    hasRoles: true,
    admitted: { password: takenEmail },
  },
  {
    label: 'POST /api/auth/login',
    method: 'POST',
    url: '/api/auth/login',
    as: 'anonymous',
    valid: (f) => ({ email: f.target.email, password: f.target.password }),
    required: ['email', 'password'],
    strings: ['email', 'password'],
    integers: [],
    hasRoles: false,
    // Any string may be tried as an email or a password; it signs nobody in.
    admitted: { email: wrongCredentials, password: wrongCredentials },
  },
];

/** A 400 VALIDATION naming `fields`; with none, the fault has no field (the body's nesting, the URL). */
const invalid = (...fields: string[]): Expected => ({ status: 400, code: 'VALIDATION', ...(fields.length > 0 && { fields }) });
const withField = (body: Record<string, unknown>, field: string, value: unknown) => ({ ...body, [field]: value });
const without = (body: Record<string, unknown>, field: string) => Object.fromEntries(Object.entries(body).filter(([k]) => k !== field));
/** The valid body as JSON text with `field` set to a literal spliced in verbatim. */
const withLiteral = (body: Record<string, unknown>, field: string, literal: string) =>
  JSON.stringify({ ...body, [field]: '\u0001literal\u0001' }).replace('"\\u0001literal\\u0001"', literal);
/** The valid body as JSON text with `prefix` placed before its first key. */
const prefixed = (body: Record<string, unknown>, prefix: string) => `{${prefix},${JSON.stringify(body).slice(1)}`;

function bodyRows(r: BodyRoute): Row[] {
  const rows: Row[] = [];
  const add = (name: string, payload: Row['payload'], expected: Expected) =>
    rows.push({ name: `${r.label}: ${name}`, method: r.method, url: () => r.url, as: r.as, payload, where: 'body', expected });
  const json = (make: (f: Fixture) => unknown) => (f: Fixture): Payload => ({ json: make(f) });
  const raw = (make: (f: Fixture) => string | Buffer, contentType = 'application/json') => (f: Fixture): Payload => ({ raw: make(f), contentType });
  const first = r.strings.find((s) => s !== 'id')!;

  // Wrong types.
  for (const field of r.strings) for (const [what, value] of WRONG_FOR_STRING) add(`${field} is ${what}`, json((f) => withField(r.valid(f), field, value)), invalid(field));
  for (const field of r.integers) for (const [what, value] of WRONG_FOR_INTEGER) add(`${field} is ${what}`, json((f) => withField(r.valid(f), field, value)), invalid(field));
  if (r.hasRoles) for (const [what, value, at] of WRONG_FOR_ROLES) add(`roles is ${what}`, json((f) => withField(r.valid(f), 'roles', value)), invalid(at));

  // Missing and unknown fields.
  for (const field of r.required) add(`${field} is missing`, json((f) => without(r.valid(f), field)), invalid(field));
  if (r.method === 'PUT') add('only the id: nothing to change', json((f) => ({ id: f.target.id })), invalid(''));
  for (const extra of ['isAdmin', 'passwordHash', 'deleted_at_ms', 'Name', 'hasOwnProperty', 'constructor']) {
    add(`unknown field ${extra}`, json((f) => withField(r.valid(f), extra, extra === 'constructor' ? 'Object' : true)), invalid(extra));
  }
  if (!r.required.includes('id')) add('an id the server assigns', json((f) => withField(r.valid(f), 'id', f.target.id)), invalid('id'));

  // Huge and out-of-range numbers.
  for (const literal of HUGE_NUMBERS) {
    for (const field of r.integers) add(`${field} is ${literal}`, raw((f) => withLiteral(r.valid(f), field, literal)), invalid(field));
    add(`${first} is ${literal}`, raw((f) => withLiteral(r.valid(f), first, literal)), invalid(first));
  }
  if (r.integers.includes('reputation')) add('reputation is 101', json((f) => withField(r.valid(f), 'reputation', 101)), invalid('reputation'));

  // Injection: every string field, every hostile string.
  for (const field of r.strings) {
    for (const hostile of HOSTILE_STRINGS) {
      // No field admits U+0000: PostgreSQL text cannot hold it, so the edge refuses it.
      const admitted = hostile.includes('\u0000') ? undefined : r.admitted[field];
      const expected = admitted ? admitted.expected : invalid(field);
      add(`${field} is ${JSON.stringify(hostile)}`, json((f) => ({ ...r.valid(f), [field]: hostile, ...admitted?.spoil(f) })), expected);
    }
  }

  // Bodies that are not an object, or not there at all.
  const notObjects: Array<[string, (f: Fixture) => unknown]> = [
    ['an empty array', () => []],
    ['an array holding a valid body', (f) => [r.valid(f)]],
    ['a string', () => 'Ada Lovelace'],
    ['a number', () => 42],
    ['null', () => null],
    ['a boolean', () => true],
  ];
  for (const [what, make] of notObjects) add(`the body is ${what}`, json(make), invalid(''));
  add('an empty body declared as JSON', raw(() => ''), invalid(''));
  add('no body and no content type', () => ({ none: true }), invalid(''));

  // Not JSON, not UTF-8, not allowed.
  for (const [what, text] of MALFORMED_JSON) add(`malformed JSON: ${what}`, raw(() => text), { status: 400, code: 'MALFORMED_JSON' });
  for (const [what, bytes] of INVALID_UTF8) {
    add(`invalid UTF-8 in ${first}: ${what}`, raw((f) => Buffer.concat(utf8Splice(withLiteral(r.valid(f), first, '"Ad\u0001a"'), bytes))), { status: 400, code: 'INVALID_ENCODING' });
  }
  const pollution: Array<[string, (f: Fixture) => string]> = [
    ['__proto__', (f) => prefixed(r.valid(f), '"__proto__": {"roles": ["admin"], "isAdmin": true}')],
    ['__proto__ written with an escape', (f) => prefixed(r.valid(f), '"\\u005f_proto__": {"isAdmin": true}')],
    ['constructor.prototype', (f) => prefixed(r.valid(f), '"constructor": {"prototype": {"isAdmin": true}}')],
    ['__proto__ nested in a field', (f) => withLiteral(r.valid(f), first, '{"__proto__": {"isAdmin": true}}')],
    ['constructor.prototype nested in an array', (f) => withLiteral(r.valid(f), first, '[{"constructor": {"prototype": {"isAdmin": true}}}]')],
  ];
  for (const [what, make] of pollution) add(`prototype pollution: ${what}`, raw(make), { status: 400, code: 'MALFORMED_JSON' });

  // Deep nesting: refused before any recursive check can run out of stack.
  add(`${first} nested 100,000 arrays deep`, raw((f) => withLiteral(r.valid(f), first, nestedArrays(100_000))), invalid());
  add('the body nested 100,000 objects deep', raw(() => nestedObjects(100_000)), invalid());
  if (r.hasRoles) add('roles holding two arrays 20,000 deep', raw((f) => withLiteral(r.valid(f), 'roles', `[${nestedArrays(20_000)},${nestedArrays(20_000)}]`)), invalid());
  add(`an unknown field exactly ${JSON_DEPTH_MAX} levels deep in all`, raw((f) => withLiteral(r.valid(f), 'extra', nestedArrays(JSON_DEPTH_MAX - 1))), invalid('extra'));
  add(`an unknown field ${JSON_DEPTH_MAX + 1} levels deep in all`, raw((f) => withLiteral(r.valid(f), 'extra', nestedArrays(JSON_DEPTH_MAX))), invalid());

  // Size and media type.
  add('a 10 MB body', raw(() => hugeBody(first)), { status: 413, code: 'BODY_TOO_LARGE' });
  for (const type of UNSUPPORTED_TYPES) add(`content type ${type}`, raw((f) => JSON.stringify(r.valid(f)), type), { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
  add('a form body', raw(() => 'name=Ada+Lovelace&email=ada%40gavel.test', 'application/x-www-form-urlencoded'), { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
  return rows;
}

/** `text` with the placeholder character U+0001 replaced by raw `bytes`. */
function utf8Splice(text: string, bytes: number[]): Buffer[] {
  const [before, after] = text.split('\u0001') as [string, string];
  return [Buffer.from(before, 'utf8'), Buffer.from(bytes), Buffer.from(after, 'utf8')];
}

/** Who may do what: these are refused for who is asking, not for their shape. */
function permissionRows(): Row[] {
  const put = (name: string, as: Caller, body: (f: Fixture) => Record<string, unknown>, expected: Expected): Row => ({
    name,
    method: 'PUT',
    url: () => '/api/user',
    as,
    payload: (f) => ({ json: body(f) }),
    where: 'body',
    expected,
  });
  const create = { name: 'Ada Lovelace', email: 'ada.nobody@gavel.test' };
  return [
    { name: 'POST /api/user without a token', method: 'POST', url: () => '/api/user', as: 'anonymous', payload: () => ({ json: create }), where: 'body', expected: { status: 401, code: 'UNAUTHENTICATED' } },
    { name: 'POST /api/user with a forged token', method: 'POST', url: () => '/api/user', as: 'forged', payload: () => ({ json: create }), where: 'body', expected: { status: 401, code: 'UNAUTHENTICATED' } },
    { name: 'POST /api/user by a bidder', method: 'POST', url: () => '/api/user', as: 'self', payload: () => ({ json: create }), where: 'body', expected: { status: 403, code: 'FORBIDDEN' } },
    { name: 'POST /api/auth/register with a taken email in other case', method: 'POST', url: () => '/api/auth/register', as: 'anonymous', payload: (f) => ({ json: { name: 'Ada Lovelace', email: f.target.email.toUpperCase(), password: 'a-long-password-1' } }), where: 'body', expected: { status: 409, code: 'EMAIL_TAKEN', fields: ['email'] } },
    { name: 'POST /api/auth/register asking for the admin role', method: 'POST', url: () => '/api/auth/register', as: 'anonymous', payload: () => ({ json: { name: 'Ada Lovelace', email: 'ada.admin@gavel.test', password: 'a-long-password-1', roles: ['admin'] } }), where: 'body', expected: invalid('roles.0') },
    put('PUT /api/user (self): raising their own reputation', 'self', (f) => ({ id: f.target.id, reputation: 100 }), { status: 403, code: 'FORBIDDEN', fields: ['reputation'] }),
    put('PUT /api/user (self): changing their own group', 'self', (f) => ({ id: f.target.id, group: 7 }), { status: 403, code: 'FORBIDDEN', fields: ['group'] }),
    put('PUT /api/user (self): granting themselves admin', 'self', (f) => ({ id: f.target.id, roles: ['bidder', 'admin'] }), { status: 403, code: 'FORBIDDEN', fields: ['roles'] }),
    put("PUT /api/user (self): changing the admin's name", 'self', (f) => ({ id: f.adminId, name: 'Mallory' }), { status: 403, code: 'FORBIDDEN' }),
    put('PUT /api/user (admin): a user that does not exist', 'admin', () => ({ id: '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f', name: 'Nobody' }), { status: 404, code: 'NOT_FOUND' }),
    put("PUT /api/user (admin): taking the admin's email in other case", 'admin', (f) => ({ id: f.target.id, email: ADMIN.email.toUpperCase() }), { status: 409, code: 'EMAIL_TAKEN', fields: ['email'] }),
  ];
}

// --- path and query inputs --------------------------------------------------------------------

const BAD_IDS: Array<[string, string, Expected]> = [
  ...HOSTILE_IN_URLS.map((s): [string, string, Expected] => [JSON.stringify(s), encodeURIComponent(s), invalid('id')]),
  ['not-a-uuid', 'not-a-uuid', invalid('id')],
  ['a number', '123', invalid('id')],
  ['a NUL byte', '%00', invalid('id')],
  ['a path traversal', '..%2F..%2Fetc%2Fpasswd', invalid('id')],
  ['a uuid with a trailing space', '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f%20', invalid('id')],
  ['a uuid with braces', '%7B01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f%7D', invalid('id')],
  ['null', 'null', invalid('id')],
  ['broken percent-encoding', '%E0%A4%A', invalid()],
  ['an encoded surrogate', '%ED%A0%80', invalid()],
  ['1,000 characters', 'a'.repeat(1000), invalid()],
  ['a uuid nobody has', '01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f', { status: 404, code: 'NOT_FOUND' }],
];

const BAD_LIST_QUERIES: Array<[string, string, Expected]> = [
  ...['abc', '0', '101', '1.5', '-1', '1e400', '-1e400', 'Infinity', 'NaN', '12345678901234567890123', String(2 ** 53), '', 'true', "1' OR '1'='1"].map(
    (v): [string, string, Expected] => [`limit=${JSON.stringify(v)}`, `limit=${encodeURIComponent(v)}`, invalid('limit')],
  ),
  ['limit given twice', 'limit=1&limit=2', invalid('limit')],
  ...HOSTILE_IN_URLS.map((s): [string, string, Expected] => [`cursor=${JSON.stringify(s)}`, `cursor=${encodeURIComponent(s)}`, invalid('cursor')]),
  ['an empty cursor', 'cursor=', invalid('cursor')],
  ['a 201-character cursor', `cursor=${'x'.repeat(201)}`, invalid('cursor')],
  ['a cursor hiding a SQL key', `cursor=${base64url(JSON.stringify({ k: "' OR '1'='1" }))}`, invalid('cursor')],
  ['a cursor hiding a number', `cursor=${base64url(JSON.stringify({ k: 1 }))}`, invalid('cursor')],
  ['a cursor hiding __proto__', `cursor=${base64url('{"__proto__":{"k":"01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f"}}')}`, invalid('cursor')],
  ['a cursor that is not JSON', `cursor=${base64url('not json')}`, invalid('cursor')],
  ['a cursor with a NUL byte', 'cursor=%00', invalid('cursor')],
  ['a cursor with an encoded surrogate', 'cursor=%ED%A0%80', invalid('cursor')],
  ['a cursor with broken percent-encoding', 'cursor=%E0%A4%A', invalid('cursor')],
  ['an unknown parameter', 'foo=1', invalid('foo')],
  ['__proto__ as a parameter', '__proto__=1', invalid('__proto__')],
  ['constructor[prototype] as a parameter', 'constructor[prototype][isAdmin]=1', invalid('constructor[prototype][isAdmin]')],
  ['isAdmin beside a good limit', 'limit=10&isAdmin=true', invalid('isAdmin')],
];

function pathAndQueryRows(): Row[] {
  const rows: Row[] = [];
  for (const method of ['GET', 'DELETE'] as const) {
    for (const [what, id, expected] of BAD_IDS) {
      rows.push({ name: `${method} /api/user/{id}: id is ${what}`, method, url: () => `/api/user/${id}`, as: 'admin', payload: () => ({ none: true }), where: 'params', expected });
    }
  }
  for (const [what, query, expected] of BAD_LIST_QUERIES) {
    rows.push({ name: `GET /api/user?: ${what}`, method: 'GET', url: () => `/api/user?${query}`, as: 'admin', payload: () => ({ none: true }), where: 'query', expected });
  }
  rows.push({ name: 'GET /api/user with a SQL string as the bearer token', method: 'GET', url: () => '/api/user', as: 'forged', payload: () => ({ none: true }), where: 'query', expected: { status: 401, code: 'UNAUTHENTICATED' } });
  return rows;
}

const ROWS: Row[] = [...BODY_ROUTES.flatMap(bodyRows), ...permissionRows(), ...pathAndQueryRows()];

// --- checks -----------------------------------------------------------------------------------

function expectProblem(res: Answer, row: Row): void {
  const { expected } = row;
  expect(res.status, res.text.slice(0, 500)).toBe(expected.status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    type: expect.stringMatching(/\S/),
    title: expect.stringMatching(/\S/),
    status: expected.status,
    detail: expect.stringMatching(/\S/),
    code: expected.code,
    requestId: res.headers['x-request-id'],
  });
  if (!expected.fields) return;
  const errors = res.body.errors as Array<{ in: string; field: string; message: string }>;
  expect(errors?.length, 'errors[] names the field at fault').toBeGreaterThan(0);
  const inside = (field: string, wanted: string) => field === wanted || (wanted !== '' && field.startsWith(`${wanted}.`));
  for (const wanted of expected.fields) expect(errors.some((e) => inside(e.field, wanted)), `an error names "${wanted}": ${res.text}`).toBe(true);
  for (const e of errors) {
    expect(expected.fields.some((wanted) => inside(e.field, wanted)), `error on "${e.field}" is one of ${JSON.stringify(expected.fields)}`).toBe(true);
    expect(e.in).toBe(row.where);
    expect(e.message).toMatch(/\S/);
  }
}

interface Snapshot {
  users: unknown[];
  sessions: unknown[];
  reputationChanges: unknown[];
}

async function snapshot(t: TestNode): Promise<Snapshot> {
  const db = t.node.database.kysely as Kysely<any>;
  const all = (table: string) => db.selectFrom(table).selectAll().orderBy('id').execute();
  return { users: await all('accounts_users'), sessions: await all('accounts_sessions'), reputationChanges: await all('accounts_reputation_changes') };
}

// Generous sign-in limits: rows that reach the service would otherwise be refused with 429
// for coming too often from one address, and the table would test the limiter instead.
const NO_LIMITS = { maxAttempts: 1_000_000, windowMs: 60_000, maxKeys: 1_000 };

for (const dialect of DIALECTS) {
  describe(`bad input on ${dialect}`, () => {
    let t: TestNode;
    let fixture: Fixture;
    let tokens: Record<Caller, string | undefined>;
    let before: Snapshot;

    beforeAll(async () => {
      t = await startTestNode(dialect, {}, { loginLimits: { failuresPerAccount: NO_LIMITS, attemptsPerAddress: NO_LIMITS } });
      const admin = await t.adminToken();
      const me = await t.call('GET', '/api/auth/me', { token: admin });
      const target = await t.newUser('Target Person');
      fixture = { adminId: me.body.id, target };
      tokens = { admin, self: target.token, anonymous: undefined, forged: "' OR '1'='1" };
      // Every sign-in of this test happened above; the table itself must not add a session.
      before = await snapshot(t);
    });
    afterAll(async () => t?.close());

    it('the table covers every route and kind of bad input', () => {
      expect(ROWS.length).toBeGreaterThan(400);
      expect(new Set(ROWS.map((r) => r.name)).size).toBe(ROWS.length);
    });

    for (const row of ROWS) {
      it(row.name, async () => {
        const payload = row.payload(fixture);
        const token = tokens[row.as];
        const res =
          'json' in payload
            ? await t.call(row.method, row.url(fixture), { token, json: payload.json })
            : 'raw' in payload
              ? await t.call(row.method, row.url(fixture), { token, payload: payload.raw, ...(payload.contentType !== undefined && { contentType: payload.contentType }) })
              : await t.call(row.method, row.url(fixture), { token });
        expectProblem(res, row);
      });
    }

    it('after the whole table the database is unchanged and the process healthy', async () => {
      expect(await snapshot(t)).toEqual(before);
      const up = await t.call('GET', '/up');
      expect(up.status).toBe(200);
      expect(up.body).toEqual({ status: 'up' });
      expect((await t.call('GET', '/ready')).status).toBe(200);
      const count = await t.call('GET', '/api/user/count', { token: tokens.admin });
      expect(count.status).toBe(200);
      expect(count.body.count).toBe((before.users as Array<{ deleted_at_ms: unknown }>).filter((u) => u.deleted_at_ms === null).length);
    });
  });
}
