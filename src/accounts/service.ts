import type { Kysely } from 'kysely';
import assert from 'node:assert/strict';
// Accounts use cases: users CRUD (seed 004), registration, sign-in, and the reputation
// other modules move. Every method that acts for someone takes the caller and checks them.
import { AppError, fieldError } from '../platform/errors.js';
import { isAdmin, requireAdmin, requirePrincipal, requireSelfOrAdmin, type Authenticator, type Principal, type UserRole } from '../platform/auth/principal.js';
import { decoyHash, hashPassword, verifyPassword } from '../platform/auth/passwords.js';
import { hashToken, newToken } from '../platform/auth/tokens.js';
import type { Clock } from '../platform/clock.js';
import { isUuid, uuidv7 } from '../platform/ids.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';
import { AttemptLimiter, type AttemptLimits } from '../platform/rate-limit.js';
import type { Logger } from '../platform/logging.js';
import { applyPatch, checkPatchAllowed, clampReputation, DEFAULT_ROLES, normalizeRoles, REPUTATION, type User, type UserPatch } from './model.js';
import type { AccountsStore, StoredUser } from './store.js';

export interface NewUser {
  name: string;
  email: string;
  group?: number;
  roles?: UserRole[];
  password?: string;
}

export interface LoginResult {
  token: string;
  expiresAtMs: number;
}

/** Login limits: per account, failures; per address, every attempt (login and register). */
export interface LoginLimits {
  failuresPerAccount: AttemptLimits;
  attemptsPerAddress: AttemptLimits;
}

export const LOGIN_LIMITS: LoginLimits = {
  failuresPerAccount: { maxAttempts: 5, windowMs: 15 * 60_000, maxKeys: 100_000 },
  attemptsPerAddress: { maxAttempts: 30, windowMs: 60_000, maxKeys: 100_000 },
};

export class AccountsService implements Authenticator {
  private readonly accountFailures: AttemptLimiter;
  private readonly addressAttempts: AttemptLimiter;

  constructor(
    private readonly store: AccountsStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly tokenTtlSeconds: number,
    limits: LoginLimits = LOGIN_LIMITS,
  ) {
    this.accountFailures = new AttemptLimiter(limits.failuresPerAccount);
    this.addressAttempts = new AttemptLimiter(limits.attemptsPerAddress);
  }

  // --- users (seed 004) -------------------------------------------------------------------

  async getUser(caller: Principal | null, id: string): Promise<User> {
    requireSelfOrAdmin(caller, id);
    return publicUser(await this.mustFind(id));
  }

  /** Admins create users for others; the password is optional (without one, no sign-in). */
  async createUser(caller: Principal | null, input: NewUser): Promise<User> {
    requireAdmin(caller);
    return this.insert(input);
  }

  async updateUser(caller: Principal | null, id: string, patch: UserPatch): Promise<User> {
    const principal = requireSelfOrAdmin(caller, id);
    const current = await this.mustFind(id);
    const allowed = checkPatchAllowed(patch, current.roles, isAdmin(principal));
    if (!allowed.ok) throw new AppError('FORBIDDEN', `${allowed.field}: ${allowed.reason}`, { errors: [{ in: 'body', field: allowed.field, message: allowed.reason }] });
    const next = applyPatch(current, patch, this.clock.nowMs());
    const result = await this.store.updateUser(next);
    if (!result.ok && result.code === 'NOT_FOUND') throw new AppError('NOT_FOUND', `no user ${id}`);
    if (!result.ok) throw fieldError('EMAIL_TAKEN', 'body', 'email', 'is already registered');
    return publicUser(next);
  }

  async deleteUser(caller: Principal | null, id: string): Promise<void> {
    requireSelfOrAdmin(caller, id);
    if (!(await this.store.deleteUser(id, this.clock.nowMs()))) throw new AppError('NOT_FOUND', `no user ${id}`);
  }

  async countUsers(caller: Principal | null): Promise<number> {
    requireAdmin(caller);
    return this.store.countUsers();
  }

  async listUsers(caller: Principal | null, query: { limit: number; cursor?: string }): Promise<Page<User>> {
    requireAdmin(caller);
    const afterId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isUuid);
    const rows = await this.store.listUsers(afterId, query.limit + 1);
    const page = pageOf(rows, query.limit, (u) => u.id);
    return { items: page.items.map(publicUser), nextCursor: page.nextCursor };
  }

  // --- sign-in -----------------------------------------------------------------------------

  async register(input: { name: string; email: string; password: string; roles?: UserRole[] }, address: string): Promise<User> {
    this.limitAddress(address);
    return this.insert({ name: input.name, email: input.email, password: input.password, roles: input.roles ?? [...DEFAULT_ROLES] });
  }

  async login(input: { email: string; password: string }, address: string): Promise<LoginResult> {
    const nowMs = this.clock.nowMs();
    this.limitAddress(address);
    const accountKey = input.email.trim().toLowerCase();
    const decision = this.accountFailures.check(accountKey, nowMs);
    if (!decision.allowed) throw rateLimited(decision.retryAfterSeconds, 'too many failed sign-ins for this account');
    // Counted now, before the slow password check, so guesses sent at once cannot all pass the
    // check above; a success clears the count below.
    this.accountFailures.record(accountKey, nowMs);

    const user = await this.store.findUserByEmail(input.email);
    // Verify against a decoy when there is no such account, so timing does not reveal it.
    const valid = await verifyPassword(input.password, user?.passwordHash ?? (await decoyHash()));
    if (!user || !user.passwordHash || !valid) {
      this.logger.info({ event: 'login_failed', address }, 'sign-in failed');
      throw new AppError('INVALID_CREDENTIALS', 'email or password is wrong');
    }
    this.accountFailures.reset(accountKey);
    const token = newToken();
    const expiresAtMs = nowMs + this.tokenTtlSeconds * 1000;
    await this.store.pruneSessions(user.id, nowMs);
    await this.store.insertSession({ id: uuidv7(nowMs), userId: user.id, tokenHash: hashToken(token), createdAtMs: nowMs, expiresAtMs, createdFrom: address });
    this.logger.info({ event: 'login', userId: user.id }, 'signed in');
    return { token, expiresAtMs };
  }

  async logout(caller: Principal | null): Promise<void> {
    const principal = requirePrincipal(caller);
    await this.store.revokeSession(principal.sessionId, this.clock.nowMs());
  }

  async authenticate(token: string, nowMs: number): Promise<Principal | null> {
    const session = await this.store.findLiveSession(hashToken(token), nowMs);
    return session ? { userId: session.userId, roles: session.roles, sessionId: session.sessionId } : null;
  }

  /** The bootstrap admin (GAVEL_ADMIN_EMAIL / `gavel admin create`): created when absent. */
  /**
   * An existing account with that email is never promoted: whoever registered it first
   * would otherwise become admin. The caller reports `isAdmin: false` as a problem.
   */
  async ensureAdmin(input: { name: string; email: string; password: string }): Promise<{ user: User; created: boolean; isAdmin: boolean }> {
    const existing = await this.store.findUserByEmail(input.email);
    if (existing) return { user: publicUser(existing), created: false, isAdmin: existing.roles.includes('admin') };
    const user = await this.insert({ ...input, roles: ['admin'] });
    return { user, created: true, isAdmin: true };
  }

  /** For other modules: whether a (not deleted) user exists. */
  async exists(userId: string): Promise<boolean> {
    return (await this.store.findUser(userId)) !== undefined;
  }

  /**
   * For other modules: a user's name and e-mail address (notifications mail them), or undefined
   * when there is no such user (deleted ones included). Nothing else of the account is shown.
   */
  async contactOf(userId: string): Promise<{ name: string; email: string } | undefined> {
    const user = await this.store.findUser(userId);
    return user && { name: user.name, email: user.email };
  }

  // --- reputation ----------------------------------------------------------------------------

  /** For other modules: a user's reputation index (0–100), or undefined when there is no such user. */
  async reputationOf(userId: string): Promise<number | undefined> {
    return (await this.store.findUser(userId))?.reputation;
  }

  /**
   * For other modules: moves a user's reputation by `delta` (kept within 0–100) and says why.
   * Consumers of events pass their delivery transaction and a `changeId` derived from the
   * event, so a redelivered event moves it once (undefined back when it was applied before).
   */
  async adjustReputation(userId: string, delta: number, reason: string, options: { tx?: Kysely<any>; changeId?: string } = {}): Promise<number | undefined> {
    assert(Number.isInteger(delta), `reputation moves by whole points, got ${delta}`);
    const nowMs = this.clock.nowMs();
    const after = await this.store.adjustReputation({ id: options.changeId ?? uuidv7(nowMs), userId, delta, reason, nowMs }, clampReputation, options.tx);
    if (after === undefined && options.changeId === undefined) throw new AppError('NOT_FOUND', `no user ${userId}`);
    return after;
  }

  // --- internals -------------------------------------------------------------------------

  private async insert(input: NewUser): Promise<User> {
    const nowMs = this.clock.nowMs();
    const user: User = {
      id: uuidv7(nowMs),
      name: input.name,
      email: input.email.trim(),
      group: input.group ?? 0,
      roles: normalizeRoles(input.roles ?? DEFAULT_ROLES),
      reputation: REPUTATION.initial,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
    const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
    const result = await this.store.insertUser(user, passwordHash);
    if (!result.ok) throw fieldError('EMAIL_TAKEN', 'body', 'email', 'is already registered');
    return user;
  }

  private async mustFind(id: string): Promise<StoredUser> {
    const user = await this.store.findUser(id);
    if (!user) throw new AppError('NOT_FOUND', `no user ${id}`);
    return user;
  }

  private limitAddress(address: string): void {
    const nowMs = this.clock.nowMs();
    const decision = this.addressAttempts.check(address, nowMs);
    if (!decision.allowed) throw rateLimited(decision.retryAfterSeconds, 'too many attempts from this address');
    this.addressAttempts.record(address, nowMs);
  }
}

function rateLimited(retryAfterSeconds: number, detail: string): AppError {
  return new AppError('RATE_LIMITED', `${detail}; try again in ${retryAfterSeconds} s`, { headers: { 'retry-after': String(retryAfterSeconds) } });
}

/** A user without their password hash. */
function publicUser(user: StoredUser | User): User {
  const { id, name, email, group, roles, reputation, createdAtMs, updatedAtMs } = user;
  return { id, name, email, group, roles, reputation, createdAtMs, updatedAtMs };
}
