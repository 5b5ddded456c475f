import { describe, expect, it } from 'vitest';
import { AppError } from './errors.js';
import { isUuid, uuidv7 } from './ids.js';
import { decodeCursor, encodeCursor, pageOf } from './pagination.js';

const anyKey = () => true;

function expectBadCursor(action: () => unknown): void {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(AppError);
  const error = thrown as AppError;
  expect(error.code).toBe('VALIDATION');
  expect(error.errors).toEqual([expect.objectContaining({ in: 'query', field: 'cursor' })]);
}

describe('cursors', () => {
  it('decode what encode made', () => {
    const key = uuidv7(1_700_000_000_000);
    expect(decodeCursor(encodeCursor(key), isUuid)).toBe(key);
  });

  it('round-trip keys with non-ASCII text', () => {
    expect(decodeCursor(encodeCursor('Zoë ✓ 名前'), anyKey)).toBe('Zoë ✓ 名前');
  });

  it('are URL-safe', () => {
    expect(encodeCursor('??>>~~ÿÿ')).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('reject garbage as a VALIDATION error on field cursor', () => {
    for (const cursor of ['', 'not a cursor', '!!!!', '%%%', 'eyJr']) expectBadCursor(() => decodeCursor(cursor, anyKey));
  });

  it('reject JSON of the wrong shape', () => {
    const of = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
    for (const value of [null, 5, 'k', [], {}, { k: 5 }, { k: null }, { key: 'x' }]) {
      expectBadCursor(() => decodeCursor(of(value), anyKey));
    }
  });

  it('reject keys the validator refuses', () => {
    expectBadCursor(() => decodeCursor(encodeCursor('not-a-uuid'), isUuid));
  });
});

describe('pageOf', () => {
  const rows = ['a', 'b', 'c', 'd'];

  it('sets nextCursor to the last item when more rows exist', () => {
    const page = pageOf(rows, 3, (r) => r);
    expect(page.items).toEqual(['a', 'b', 'c']);
    expect(page.nextCursor).not.toBeNull();
    expect(decodeCursor(page.nextCursor!, anyKey)).toBe('c');
  });

  it('leaves nextCursor null when the rows fit exactly', () => {
    expect(pageOf(rows, 4, (r) => r)).toEqual({ items: rows, nextCursor: null });
  });

  it('leaves nextCursor null on a short last page', () => {
    expect(pageOf(['a'], 20, (r) => r)).toEqual({ items: ['a'], nextCursor: null });
  });

  it('gives an empty page with no cursor when there are no rows', () => {
    expect(pageOf([], 20, (r: string) => r)).toEqual({ items: [], nextCursor: null });
  });
});
