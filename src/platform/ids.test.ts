import { describe, expect, it } from 'vitest';
import { isUuid, uuidv7 } from './ids.js';

const V7_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('has the RFC 9562 version 7 and variant bits in lower-case hex', () => {
    for (let i = 0; i < 200; i += 1) expect(uuidv7(Date.now())).toMatch(V7_PATTERN);
  });

  it('keeps the version and variant even when the random bytes are all ones or all zeros', () => {
    expect(uuidv7(0, Buffer.alloc(10, 0xff))).toMatch(V7_PATTERN);
    expect(uuidv7(0, Buffer.alloc(10, 0x00))).toBe('00000000-0000-7000-8000-000000000000');
  });

  it('puts the millisecond time in the first 48 bits', () => {
    const nowMs = 1_717_171_717_171;
    const id = uuidv7(nowMs);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(nowMs);
  });

  it('sorts ids made at increasing times in increasing string order', () => {
    const times = [0, 1, 255, 256, 65_535, 1_700_000_000_000, 1_700_000_000_001, 2 ** 48 - 1];
    const ids = times.map((t) => uuidv7(t, Buffer.alloc(10, 0xff - (t % 256))));
    expect([...ids].sort()).toEqual(ids);
  });

  it('ids made one after another in the same millisecond sort in the order they were made', () => {
    const ids = Array.from({ length: 2000 }, () => uuidv7(1_700_000_000_123));
    expect([...ids].sort()).toEqual(ids);
  });

  it('gives different ids in the same millisecond', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => uuidv7(1_700_000_000_000)));
    expect(ids.size).toBe(1000);
  });

  it('refuses times that do not fit in 48 bits', () => {
    expect(() => uuidv7(2 ** 48)).toThrow(RangeError);
    expect(() => uuidv7(-1)).toThrow(RangeError);
  });
});

describe('isUuid', () => {
  it('accepts what uuidv7 makes, in either case', () => {
    const id = uuidv7(Date.now());
    expect(isUuid(id)).toBe(true);
    expect(isUuid(id.toUpperCase())).toBe(true);
  });

  it('rejects text that is not a UUID', () => {
    for (const text of ['', 'abc', '0190b4c8-0000-7000-8000-00000000000', '0190b4c80000700080000000000000001', '0190b4c8-0000-7000-8000-00000000000g', ` ${uuidv7(1)}`, `${uuidv7(1)}\n`]) {
      expect(isUuid(text)).toBe(false);
    }
  });
});
