// Keyset pagination. A cursor is the opaque (base64url) key of the last item of a page; the
// next page starts strictly after it, so items added meanwhile cause neither duplicates nor gaps.
import { fieldError } from './errors.js';

export const PAGE_LIMIT_MAX = 100;
export const PAGE_LIMIT_DEFAULT = 20;

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export function encodeCursor(key: string): string {
  return Buffer.from(JSON.stringify({ k: key }), 'utf8').toString('base64url');
}

/** The key inside a cursor, checked by `isValidKey`; a bad cursor is the caller's 400. */
export function decodeCursor(cursor: string, isValidKey: (key: string) => boolean): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'k' in parsed && typeof parsed.k === 'string' && isValidKey(parsed.k)) {
      return parsed.k;
    }
  } catch {
    // falls through to the error below
  }
  throw fieldError('VALIDATION', 'query', 'cursor', 'is not a cursor this API gave out');
}

/** Builds a page from up to limit+1 rows fetched in key order. */
export function pageOf<T>(rows: T[], limit: number, keyOf: (row: T) => string): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}
