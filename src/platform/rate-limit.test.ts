import { describe, expect, it } from 'vitest';
import { AttemptLimiter } from './rate-limit.js';

const WINDOW_MS = 60_000;

function limiter(maxKeys = 100): AttemptLimiter {
  return new AttemptLimiter({ maxAttempts: 3, windowMs: WINDOW_MS, maxKeys });
}

function attempt(l: AttemptLimiter, key: string, nowMs: number): boolean {
  const { allowed } = l.check(key, nowMs);
  if (allowed) l.record(key, nowMs);
  return allowed;
}

describe('AttemptLimiter', () => {
  it('allows up to maxAttempts in a window, then denies', () => {
    const l = limiter();
    expect([1, 2, 3, 4].map((i) => attempt(l, 'k', i))).toEqual([true, true, true, false]);
  });

  it('does not count a check as an attempt', () => {
    const l = limiter();
    for (let i = 0; i < 10; i += 1) expect(l.check('k', 0).allowed).toBe(true);
  });

  it('denies with the whole seconds left in the window', () => {
    const l = limiter();
    for (let i = 0; i < 3; i += 1) l.record('k', 0);
    expect(l.check('k', 0)).toEqual({ allowed: false, retryAfterSeconds: 60 });
    expect(l.check('k', 30_500)).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(l.check('k', WINDOW_MS - 1)).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('allows again once the window has passed, with a fresh count', () => {
    const l = limiter();
    for (let i = 0; i < 3; i += 1) l.record('k', 0);
    expect(attempt(l, 'k', WINDOW_MS)).toBe(true);
    expect(attempt(l, 'k', WINDOW_MS + 1)).toBe(true);
    expect(attempt(l, 'k', WINDOW_MS + 2)).toBe(true);
    expect(attempt(l, 'k', WINDOW_MS + 3)).toBe(false);
  });

  it('counts each key on its own', () => {
    const l = limiter();
    for (let i = 0; i < 3; i += 1) l.record('a', 0);
    expect(l.check('a', 0).allowed).toBe(false);
    expect(l.check('b', 0).allowed).toBe(true);
  });

  it('forgets a key on reset', () => {
    const l = limiter();
    for (let i = 0; i < 3; i += 1) l.record('k', 0);
    l.reset('k');
    expect(l.check('k', 0)).toEqual({ allowed: true, retryAfterSeconds: 0 });
  });

  it('tracks at most maxKeys keys, forgetting the oldest window first', () => {
    const maxKeys = 50;
    const l = limiter(maxKeys);
    for (let i = 0; i < 3; i += 1) l.record('oldest', 0);
    for (let i = 0; i < 3; i += 1) l.record('second', 1);
    expect(l.check('oldest', 2).allowed).toBe(false);
    // maxKeys - 1 newer keys fill the map exactly; one more pushes the oldest out.
    for (let i = 0; i < maxKeys - 2; i += 1) l.record(`k${i}`, 2);
    expect(l.check('oldest', 3).allowed).toBe(false);
    l.record('one-too-many', 3);
    expect(l.check('oldest', 3).allowed).toBe(true);
    expect(l.check('second', 3).allowed).toBe(false);
    expect(l.check('one-too-many', 3).allowed).toBe(true);
  });

  it('keeps its memory bounded however many keys pass through', () => {
    const maxKeys = 1_000;
    const l = limiter(maxKeys);
    for (let i = 0; i < 100_000; i += 1) l.record(`ip-${i}`, i);
    const windows = (l as unknown as { windows: Map<string, unknown> }).windows;
    expect(windows.size).toBe(maxKeys);
    expect(windows.has('ip-0')).toBe(false);
    expect(windows.has('ip-99999')).toBe(true);
  });

  it('re-recording an expired key does not evict another key', () => {
    const l = limiter(2);
    l.record('a', 0);
    l.record('b', 0);
    l.record('a', WINDOW_MS);
    for (let i = 0; i < 2; i += 1) l.record('b', 1);
    expect(l.check('b', 2).allowed).toBe(false);
  });
});
