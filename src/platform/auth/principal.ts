// Who is calling. The HTTP layer resolves a bearer token into a Principal through an
// Authenticator (the accounts module provides one); routes then ask the guards below.
import { AppError } from '../errors.js';

export const USER_ROLES = ['bidder', 'seller', 'auctioneer', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export interface Principal {
  userId: string;
  roles: readonly UserRole[];
  /** The session behind the token, so logout can revoke exactly this one. */
  sessionId: string;
}

export interface Authenticator {
  /** The principal for a bearer token, or null when the token is unknown, expired or revoked. */
  authenticate(token: string, nowMs: number): Promise<Principal | null>;
}

export function requirePrincipal(principal: Principal | null): Principal {
  if (!principal) throw new AppError('UNAUTHENTICATED', 'send a valid token in "Authorization: Bearer <token>" (POST /api/auth/login gives one)');
  return principal;
}

export function isAdmin(principal: Principal): boolean {
  return principal.roles.includes('admin');
}

export function requireAdmin(principal: Principal | null): Principal {
  const p = requirePrincipal(principal);
  if (!isAdmin(p)) throw new AppError('FORBIDDEN', 'this needs the admin role');
  return p;
}

/** People act on themselves; admins on anyone. */
export function requireSelfOrAdmin(principal: Principal | null, userId: string): Principal {
  const p = requirePrincipal(principal);
  if (p.userId !== userId && !isAdmin(p)) throw new AppError('FORBIDDEN', 'you can only act on your own account');
  return p;
}
