// Assertions and settings shared by the route tests.
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { LoginLimits } from '../../src/accounts/service.js';
import type { Answer } from './gavel.js';

/** For tests that are not about rate limits: every request comes from one address. */
export const ROOMY_LIMITS: LoginLimits = {
  failuresPerAccount: { maxAttempts: 1_000, windowMs: 60_000, maxKeys: 10_000 },
  attemptsPerAddress: { maxAttempts: 100_000, windowMs: 60_000, maxKeys: 10_000 },
};

export function uniqueEmail(prefix = 'person'): string {
  return `${prefix}.${randomUUID().slice(0, 8)}@example.test`;
}

/** The answer is an RFC 9457 problem with this status and code, naming its request. */
export function expectProblem(res: Answer, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String), code, requestId: expect.any(String) });
  expect(res.body.requestId).toBe(res.headers['x-request-id']);
}

/** The fields a problem names in `errors`. */
export function fieldsAtFault(res: Answer): string[] {
  return ((res.body?.errors ?? []) as { field: string }[]).map((e) => e.field);
}
