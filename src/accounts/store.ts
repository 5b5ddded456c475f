// The accounts module's tables. No other module reads them; they ask the service.
import type { Kysely } from 'kysely';
import type { UserRole } from '../platform/auth/principal.js';
import { toNumber, type Database } from '../platform/db/database.js';
import { PreparedQuery } from '../platform/db/prepared-query.js';
import { emailKey, type User } from './model.js';

type Int = bigint | number;

interface UsersTable {
  id: string;
  name: string;
  email: string;
  email_key: string;
  user_group: Int;
  roles: string;
  reputation: Int;
  password_hash: string | null;
  created_at_ms: Int;
  updated_at_ms: Int;
  deleted_at_ms: Int | null;
}

interface SessionsTable {
  id: string;
  user_id: string;
  token_hash: string;
  created_at_ms: Int;
  expires_at_ms: Int;
  revoked_at_ms: Int | null;
  created_from: string | null;
}

interface ReputationChangesTable {
  id: string;
  user_id: string;
  delta: Int;
  reputation_after: Int;
  reason: string;
  created_at_ms: Int;
}

export interface AccountsTables {
  accounts_users: UsersTable;
  accounts_sessions: SessionsTable;
  accounts_reputation_changes: ReputationChangesTable;
}

export type StoredUser = User & { passwordHash: string | null };

export interface SessionRecord {
  sessionId: string;
  userId: string;
  roles: UserRole[];
  expiresAtMs: number;
}

export type InsertResult = { ok: true } | { ok: false; code: 'EMAIL_TAKEN' };
export type UpdateResult = { ok: true } | { ok: false; code: 'EMAIL_TAKEN' | 'NOT_FOUND' };

const USER_COLUMNS = [
  'id',
  'name',
  'email',
  'user_group',
  'roles',
  'reputation',
  'password_hash',
  'created_at_ms',
  'updated_at_ms',
] as const;

function toUser(row: Pick<UsersTable, (typeof USER_COLUMNS)[number]>): StoredUser {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    group: toNumber(row.user_group),
    roles: JSON.parse(row.roles) as UserRole[],
    reputation: toNumber(row.reputation),
    createdAtMs: toNumber(row.created_at_ms),
    updatedAtMs: toNumber(row.updated_at_ms),
    passwordHash: row.password_hash,
  };
}

function toRow(user: User) {
  return {
    name: user.name,
    email: user.email,
    email_key: emailKey(user.email),
    user_group: user.group,
    roles: JSON.stringify(user.roles),
    reputation: user.reputation,
    updated_at_ms: user.updatedAtMs,
  };
}

export class AccountsStore {
  private readonly db: Kysely<AccountsTables>;
  // Run for every signed-in request and by every module that asks about a person: built and
  // compiled once.
  private readonly userById: PreparedQuery<'id', Pick<UsersTable, (typeof USER_COLUMNS)[number]>>;
  private readonly liveSession: PreparedQuery<'tokenHash' | 'nowMs', { session_id: string; user_id: string; expires_at_ms: Int; roles: string }>;

  constructor(private readonly database: Database) {
    this.db = database.kysely as unknown as Kysely<AccountsTables>;
    const db = this.db as Kysely<any>;
    this.userById = new PreparedQuery(db, (q: Kysely<AccountsTables>, slot) => q.selectFrom('accounts_users').select(USER_COLUMNS).where('id', '=', slot('id')).where('deleted_at_ms', 'is', null));
    this.liveSession = new PreparedQuery(db, (q: Kysely<AccountsTables>, slot) =>
      q
        .selectFrom('accounts_sessions as s')
        .innerJoin('accounts_users as u', 'u.id', 's.user_id')
        .select(['s.id as session_id', 's.user_id', 's.expires_at_ms', 'u.roles'])
        .where('s.token_hash', '=', slot('tokenHash'))
        .where('s.revoked_at_ms', 'is', null)
        .where('s.expires_at_ms', '>', slot('nowMs'))
        .where('u.deleted_at_ms', 'is', null),
    );
  }

  async insertUser(user: User, passwordHash: string | null): Promise<InsertResult> {
    try {
      await this.db
        .insertInto('accounts_users')
        .values({ id: user.id, ...toRow(user), password_hash: passwordHash, created_at_ms: user.createdAtMs, deleted_at_ms: null })
        .execute();
      return { ok: true };
    } catch (error) {
      if (this.database.isUniqueViolation(error)) return { ok: false, code: 'EMAIL_TAKEN' };
      throw error;
    }
  }

  async findUser(id: string): Promise<StoredUser | undefined> {
    const row = (await this.userById.execute(this.db, { id })).rows[0];
    return row ? toUser(row) : undefined;
  }

  async findUserByEmail(email: string): Promise<StoredUser | undefined> {
    const row = await this.db
      .selectFrom('accounts_users')
      .select(USER_COLUMNS)
      .where('email_key', '=', emailKey(email))
      .where('deleted_at_ms', 'is', null)
      .executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  /** Writes every field of `user` except its password and creation time; NOT_FOUND if deleted meanwhile. */
  async updateUser(user: User): Promise<UpdateResult> {
    try {
      const result = await this.db.updateTable('accounts_users').set(toRow(user)).where('id', '=', user.id).where('deleted_at_ms', 'is', null).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1 ? { ok: true } : { ok: false, code: 'NOT_FOUND' };
    } catch (error) {
      if (this.database.isUniqueViolation(error)) return { ok: false, code: 'EMAIL_TAKEN' };
      throw error;
    }
  }

  async setPasswordHash(userId: string, passwordHash: string, nowMs: number): Promise<void> {
    await this.db.updateTable('accounts_users').set({ password_hash: passwordHash, updated_at_ms: nowMs }).where('id', '=', userId).execute();
  }

  /** Marks the user deleted and revokes every session, in one transaction. False when absent. */
  async deleteUser(id: string, nowMs: number): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx
        .updateTable('accounts_users')
        .set({ deleted_at_ms: nowMs, updated_at_ms: nowMs })
        .where('id', '=', id)
        .where('deleted_at_ms', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await tx.updateTable('accounts_sessions').set({ revoked_at_ms: nowMs }).where('user_id', '=', id).where('revoked_at_ms', 'is', null).execute();
      return true;
    });
  }

  async countUsers(): Promise<number> {
    const row = await this.db
      .selectFrom('accounts_users')
      .select((eb) => eb.fn.countAll<bigint>().as('n'))
      .where('deleted_at_ms', 'is', null)
      .executeTakeFirstOrThrow();
    return toNumber(row.n);
  }

  /** Up to `limit` users with an id after `afterId`, in id order (ids are time-ordered UUIDv7). */
  async listUsers(afterId: string | undefined, limit: number): Promise<StoredUser[]> {
    let query = this.db.selectFrom('accounts_users').select(USER_COLUMNS).where('deleted_at_ms', 'is', null);
    if (afterId !== undefined) query = query.where('id', '>', afterId);
    const rows = await query.orderBy('id').limit(limit).execute();
    return rows.map(toUser);
  }

  async insertSession(session: { id: string; userId: string; tokenHash: string; createdAtMs: number; expiresAtMs: number; createdFrom: string }): Promise<void> {
    await this.db
      .insertInto('accounts_sessions')
      .values({
        id: session.id,
        user_id: session.userId,
        token_hash: session.tokenHash,
        created_at_ms: session.createdAtMs,
        expires_at_ms: session.expiresAtMs,
        revoked_at_ms: null,
        created_from: session.createdFrom,
      })
      .execute();
  }

  /** The live session for a token hash: not revoked, not expired, its user not deleted. */
  async findLiveSession(tokenHash: string, nowMs: number): Promise<SessionRecord | undefined> {
    const row = (await this.liveSession.execute(this.db, { tokenHash, nowMs })).rows[0];
    if (!row) return undefined;
    return { sessionId: row.session_id, userId: row.user_id, roles: JSON.parse(row.roles) as UserRole[], expiresAtMs: toNumber(row.expires_at_ms) };
  }

  async revokeSession(sessionId: string, nowMs: number): Promise<void> {
    await this.db.updateTable('accounts_sessions').set({ revoked_at_ms: nowMs }).where('id', '=', sessionId).where('revoked_at_ms', 'is', null).execute();
  }

  /** Drops a user's sessions that ended before `nowMs`, so the table does not grow forever. */
  async pruneSessions(userId: string, nowMs: number): Promise<void> {
    await this.db
      .deleteFrom('accounts_sessions')
      .where('user_id', '=', userId)
      .where((eb) => eb.or([eb('expires_at_ms', '<=', nowMs), eb('revoked_at_ms', 'is not', null)]))
      .execute();
  }

  /**
   * Moves a user's reputation by `delta` (clamped by `clamp`) and records why, atomically.
   * Returns the new value, or undefined for an unknown user.
   */
  /**
   * Moves a reputation and records why, in `ex` when given (a consumer's delivery transaction)
   * or in a transaction of its own. A change id seen before is not applied again (undefined
   * back, as for a missing user): consumers pass an id derived from the event.
   */
  async adjustReputation(
    change: { id: string; userId: string; delta: number; reason: string; nowMs: number },
    clamp: (v: number) => number,
    ex?: Kysely<AccountsTables>,
  ): Promise<number | undefined> {
    const apply = async (tx: Kysely<AccountsTables>) => {
      if (await tx.selectFrom('accounts_reputation_changes').select('id').where('id', '=', change.id).executeTakeFirst()) return undefined;
      const row = await this.database
        .forUpdate(tx.selectFrom('accounts_users').select('reputation').where('id', '=', change.userId).where('deleted_at_ms', 'is', null))
        .executeTakeFirst();
      if (!row) return undefined;
      const after = clamp(toNumber(row.reputation) + change.delta);
      await tx.updateTable('accounts_users').set({ reputation: after, updated_at_ms: change.nowMs }).where('id', '=', change.userId).execute();
      await tx
        .insertInto('accounts_reputation_changes')
        .values({ id: change.id, user_id: change.userId, delta: change.delta, reputation_after: after, reason: change.reason, created_at_ms: change.nowMs })
        .execute();
      return after;
    };
    return ex ? apply(ex) : this.db.transaction().execute(apply);
  }
}
