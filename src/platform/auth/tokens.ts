// Bearer tokens: 256 random bits shown to the client once; only their SHA-256 is stored, so
// a copy of the database does not let anyone sign in.
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_PREFIX = 'gvl_';

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
