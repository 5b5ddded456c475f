// The rules of accounts: what a user is, who may change which field, and how reputation
// moves. Pure: no storage, no clock.
import { USER_ROLES, type UserRole } from '../platform/auth/principal.js';

export interface User {
  id: string;
  name: string;
  email: string;
  /** The seed's `group`: an integer an admin assigns (a tier, a region); 0 by default. */
  group: number;
  roles: UserRole[];
  reputation: number;
  createdAtMs: number;
  updatedAtMs: number;
}

/** Fields a PUT may carry besides the id. */
export interface UserPatch {
  name?: string;
  email?: string;
  group?: number;
  roles?: UserRole[];
  reputation?: number;
}

/**
 * Reputation is an index from 0 to 100. Everyone starts at 50 (neutral); completed
 * purchases, paid auction wins and good ratings raise it, unpaid wins and disputes lower it.
 * Auctions can require a minimum to join.
 */
export const REPUTATION = { initial: 50, min: 0, max: 100 } as const;

export const DEFAULT_ROLES: readonly UserRole[] = ['bidder'];
/** Roles people may give or take from themselves; the rest only an admin grants. */
export const SELF_SERVICE_ROLES: readonly UserRole[] = ['bidder', 'seller'];
/** Fields only an admin may change. */
export const ADMIN_ONLY_FIELDS = ['group', 'reputation'] as const;

export const NAME_MAX_LENGTH = 100;
export const EMAIL_MAX_LENGTH = 254;
export const GROUP_MAX = 2_147_483_647;

export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

export function clampReputation(value: number): number {
  return Math.min(REPUTATION.max, Math.max(REPUTATION.min, Math.round(value)));
}

/** Roles in a canonical order without repeats, so storage and comparisons are stable. */
export function normalizeRoles(roles: readonly UserRole[]): UserRole[] {
  return USER_ROLES.filter((r) => roles.includes(r));
}

export type PatchCheck = { ok: true } | { ok: false; field: string; reason: string };

/** Whether `callerIsAdmin` may apply `patch` to a user who currently has `currentRoles`. */
export function checkPatchAllowed(patch: UserPatch, currentRoles: readonly UserRole[], callerIsAdmin: boolean): PatchCheck {
  if (callerIsAdmin) return { ok: true };
  for (const field of ADMIN_ONLY_FIELDS) {
    if (patch[field] !== undefined) return { ok: false, field, reason: 'only an admin can change this field' };
  }
  if (patch.roles !== undefined) {
    const changed = USER_ROLES.filter((r) => patch.roles!.includes(r) !== currentRoles.includes(r));
    const privileged = changed.find((r) => !SELF_SERVICE_ROLES.includes(r));
    if (privileged) return { ok: false, field: 'roles', reason: `only an admin can grant or remove the ${privileged} role` };
  }
  return { ok: true };
}

export function applyPatch(user: User, patch: UserPatch, nowMs: number): User {
  return {
    ...user,
    name: patch.name ?? user.name,
    email: patch.email ?? user.email,
    group: patch.group ?? user.group,
    roles: patch.roles ? normalizeRoles(patch.roles) : user.roles,
    reputation: patch.reputation !== undefined ? clampReputation(patch.reputation) : user.reputation,
    updatedAtMs: nowMs,
  };
}
