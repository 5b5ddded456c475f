// HTTP for accounts: the users API of seed 004 under /api/user, and sign-in under /api/auth.
import { Type, type Static } from '@sinclair/typebox';
import { USER_ROLES } from '../platform/auth/principal.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../platform/auth/passwords.js';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../platform/pagination.js';
import { EMAIL_MAX_LENGTH, GROUP_MAX, NAME_MAX_LENGTH, REPUTATION, SELF_SERVICE_ROLES, type User } from './model.js';
import type { AccountsService } from './service.js';

// Display names: letters, digits, spaces and everyday punctuation (O'Brien, Smith & Sons).
// Markup and statement syntax (< > ; = " /) have no place in a name and are refused.
const NAME_PATTERN = "^[\\p{L}\\p{M}\\p{N}](?:[\\p{L}\\p{M}\\p{N} .,'’&()_-]*[\\p{L}\\p{M}\\p{N}.)])?$";

const Name = Type.String({ minLength: 1, maxLength: NAME_MAX_LENGTH, pattern: NAME_PATTERN, description: 'letters, digits, spaces and . , \' ’ & ( ) _ -' });
const Email = Type.String({ format: 'email', maxLength: EMAIL_MAX_LENGTH, description: 'unique, compared case-insensitively' });
const Password = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH });
const Group = Type.Integer({ minimum: 0, maximum: GROUP_MAX });
const Role = Type.Union(USER_ROLES.map((r) => Type.Literal(r)));
const Roles = Type.Array(Role, { uniqueItems: true, maxItems: USER_ROLES.length });
const Reputation = Type.Integer({ minimum: REPUTATION.min, maximum: REPUTATION.max });

const UserView = Type.Object({
  id: Uuid,
  name: Type.String(),
  email: Type.String(),
  group: Type.Integer(),
  roles: Type.Array(Type.String()),
  reputation: Type.Integer({ description: `0–100, starts at ${REPUTATION.initial}` }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const CreateUserBody = Type.Object(
  { name: Name, email: Email, group: Type.Optional(Group), roles: Type.Optional(Roles), password: Type.Optional(Password) },
  { additionalProperties: false },
);
const UpdateUserBody = Type.Object(
  { id: Uuid, name: Type.Optional(Name), email: Type.Optional(Email), group: Type.Optional(Group), roles: Type.Optional(Roles), reputation: Type.Optional(Reputation) },
  { additionalProperties: false, minProperties: 2, description: 'partial update: only the fields present change' },
);
const ListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Uuid });

const RegisterBody = Type.Object(
  {
    name: Name,
    email: Email,
    password: Password,
    roles: Type.Optional(Type.Array(Type.Union(SELF_SERVICE_ROLES.map((r) => Type.Literal(r))), { uniqueItems: true, minItems: 1, description: 'bidder (default) and/or seller' })),
  },
  { additionalProperties: false },
);
const LoginBody = Type.Object({ email: Type.String({ maxLength: EMAIL_MAX_LENGTH }), password: Type.String({ maxLength: PASSWORD_MAX_LENGTH }) }, { additionalProperties: false });
const LoginView = Type.Object({ token: Type.String(), expiresAt: Type.String({ format: 'date-time' }) });

function view(user: User): Static<typeof UserView> {
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    group: user.group,
    roles: user.roles,
    reputation: user.reputation,
    createdAt: new Date(user.createdAtMs).toISOString(),
    updatedAt: new Date(user.updatedAtMs).toISOString(),
  };
}

const bearer = [{ bearerAuth: [] }];

export function accountsRoutes(app: HttpServer, accounts: AccountsService): void {
  const users = { tags: ['users'], security: bearer };

  app.get('/api/user/count', { schema: { ...users, summary: 'Count users (admin)', response: { 200: Type.Object({ count: Type.Integer() }), ...problemResponses(401, 403) } } }, async (req) => ({
    count: await accounts.countUsers(req.principal),
  }));

  app.get(
    '/api/user',
    { schema: { ...users, summary: 'List users, oldest first, by cursor (admin)', querystring: ListQuery, response: { 200: Type.Object({ items: Type.Array(UserView), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problemResponses(400, 401, 403) } } },
    async (req) => {
      const page = await accounts.listUsers(req.principal, { limit: req.query.limit, ...(req.query.cursor !== undefined && { cursor: req.query.cursor }) });
      return { items: page.items.map(view), nextCursor: page.nextCursor };
    },
  );

  app.get('/api/user/:id', { schema: { ...users, summary: 'Read a user (yourself, or anyone as admin)', params: IdParams, response: { 200: UserView, ...problemResponses(400, 401, 403, 404) } } }, async (req) =>
    view(await accounts.getUser(req.principal, req.params.id.toLowerCase())),
  );

  app.post('/api/user', { schema: { ...users, summary: 'Create a user (admin)', body: CreateUserBody, response: { 201: UserView, ...problemResponses(400, 401, 403, 409) } } }, async (req, reply) => {
    const user = await accounts.createUser(req.principal, req.body);
    return reply.code(201).header('location', `/api/user/${user.id}`).send(view(user));
  });

  app.put('/api/user', { schema: { ...users, summary: 'Update a user partially: the id is in the body, only the fields present change', body: UpdateUserBody, response: { 200: UserView, ...problemResponses(400, 401, 403, 404, 409) } } }, async (req) => {
    const { id, ...patch } = req.body;
    return view(await accounts.updateUser(req.principal, id.toLowerCase(), patch));
  });

  app.delete('/api/user/:id', { schema: { ...users, summary: 'Delete a user (yourself, or anyone as admin); their sessions end', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) } } }, async (req, reply) => {
    await accounts.deleteUser(req.principal, req.params.id.toLowerCase());
    return reply.code(204).send(null);
  });

  const auth = { tags: ['sign-in'] };

  app.post('/api/auth/register', { schema: { ...auth, summary: 'Create your account', body: RegisterBody, response: { 201: UserView, ...problemResponses(400, 409, 429) } } }, async (req, reply) => {
    const user = await accounts.register(req.body, req.ip);
    return reply.code(201).header('location', `/api/user/${user.id}`).send(view(user));
  });

  app.post('/api/auth/login', { schema: { ...auth, summary: 'Sign in: a bearer token for Authorization', body: LoginBody, response: { 200: LoginView, ...problemResponses(400, 401, 429) } } }, async (req) => {
    const result = await accounts.login(req.body, req.ip);
    return { token: result.token, expiresAt: new Date(result.expiresAtMs).toISOString() };
  });

  app.post('/api/auth/logout', { schema: { ...auth, security: bearer, summary: 'Revoke the token used for this request', response: { 204: Type.Null(), ...problemResponses(401) } } }, async (req, reply) => {
    await accounts.logout(req.principal);
    return reply.code(204).send(null);
  });

  app.get('/api/auth/me', { schema: { ...auth, security: bearer, summary: 'The signed-in user', response: { 200: UserView, ...problemResponses(401) } } }, async (req) => {
    const principal = req.principal;
    return view(await accounts.getUser(principal, principal?.userId ?? ''));
  });
}
