import { describe, expect, it } from 'vitest';
import { AppError, PROBLEM_CODES, fieldError, problemOf, type ProblemCode } from './errors.js';

const CODES = Object.keys(PROBLEM_CODES) as ProblemCode[];

describe('problemOf', () => {
  it('builds type, title, status and code from the table', () => {
    expect(problemOf('EMAIL_TAKEN', 'someone has it')).toEqual({
      type: '/problems/email-taken',
      title: 'That email is already registered',
      status: 409,
      detail: 'someone has it',
      code: 'EMAIL_TAKEN',
    });
  });

  it('carries extra members such as field errors and the request id', () => {
    const errors = [{ in: 'body' as const, field: 'email', message: 'is required' }];
    expect(problemOf('VALIDATION', 'bad', { requestId: 'r1', errors })).toMatchObject({ status: 400, requestId: 'r1', errors });
  });

  it.each(CODES)('%s has a title and a 4xx or 5xx status', (code) => {
    const problem = problemOf(code, 'detail');
    expect(problem.status).toBeGreaterThanOrEqual(400);
    expect(problem.status).toBeLessThan(600);
    expect(problem.title.length).toBeGreaterThan(0);
    expect(problem.type).toMatch(/^\/problems\/[a-z]+(-[a-z]+)*$/);
  });

  it('gives every code its own type', () => {
    expect(new Set(CODES.map((c) => problemOf(c, '').type)).size).toBe(CODES.length);
  });
});

describe('fieldError', () => {
  it('is an AppError naming where the field lives', () => {
    const error = fieldError('VALIDATION', 'query', 'limit', 'must be at most 100');
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe('VALIDATION');
    expect(error.errors).toEqual([{ in: 'query', field: 'limit', message: 'must be at most 100' }]);
    expect(error.message).toBe('limit: must be at most 100');
  });
});
