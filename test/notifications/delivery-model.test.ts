// The rules of delivery outside the database: pure, so checked without storage or network.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { laneOf, nextStep, retryDelayMs, signatureHeader, webhookUrlProblem } from '../../src/notifications/delivery-model.js';

const POLICY = { maxAttempts: 8, firstDelayMs: 1_000, maxDelayMs: 60_000 };

describe('retries', () => {
  it('wait a random time up to a cap that doubles with each failure (full jitter)', () => {
    // random → 1 gives (just under) the cap; 0 gives no wait at all.
    const caps = [1, 2, 3, 4, 5, 6, 7, 8].map((attempts) => retryDelayMs(attempts, POLICY, 0.999_999));
    expect(caps).toEqual([999, 1_999, 3_999, 7_999, 15_999, 31_999, 59_999, 59_999]);
    expect(retryDelayMs(3, POLICY, 0)).toBe(0);
    expect(retryDelayMs(3, POLICY, 0.5)).toBe(2_000);
    expect(retryDelayMs(1_000, POLICY, 0.5)).toBe(30_000); // never beyond the cap, however many
  });

  it('a success is delivered; a failure waits and comes back until the last attempt, which is dead', () => {
    const nowMs = 1_700_000_000_000;
    expect(nextStep({ ok: true }, 1, POLICY, nowMs, 0.5)).toEqual({ state: 'delivered' });
    expect(nextStep({ ok: true }, 8, POLICY, nowMs, 0.5)).toEqual({ state: 'delivered' });
    expect(nextStep({ ok: false, error: 'HTTP 500' }, 1, POLICY, nowMs, 0.5)).toEqual({ state: 'pending', dueAtMs: nowMs + 500 });
    expect(nextStep({ ok: false, error: 'HTTP 500' }, 7, POLICY, nowMs, 0.5)).toEqual({ state: 'pending', dueAtMs: nowMs + 30_000 });
    expect(nextStep({ ok: false, error: 'HTTP 500' }, 8, POLICY, nowMs, 0.5)).toEqual({ state: 'dead' });
    expect(nextStep({ ok: false, error: 'once' }, 1, { ...POLICY, maxAttempts: 1 }, nowMs, 0.5)).toEqual({ state: 'dead' });
  });
});

describe('lanes', () => {
  it('one per person, channel and destination', () => {
    const lanes = new Set([laneOf('u1', 'email', ''), laneOf('u1', 'webhook', 'h1'), laneOf('u1', 'webhook', 'h2'), laneOf('u2', 'email', '')]);
    expect(lanes.size).toBe(4);
    expect(laneOf('u1', 'webhook', 'h1')).toBe(laneOf('u1', 'webhook', 'h1'));
  });
});

describe('webhook addresses', () => {
  it('accepts http and https URLs', () => {
    for (const url of ['https://example.com/hooks/gavel', 'http://127.0.0.1:8080/in?x=1', 'https://[::1]/']) expect(webhookUrlProblem(url), url).toBeUndefined();
  });

  it('refuses anything else, saying why', () => {
    expect(webhookUrlProblem('ftp://example.com/')).toMatch(/http/);
    expect(webhookUrlProblem('mailto:a@example.com')).toMatch(/http/);
    expect(webhookUrlProblem('/relative')).toMatch(/absolute/);
    expect(webhookUrlProblem('https://user:secret@example.com/')).toMatch(/password/);
    expect(webhookUrlProblem(`https://example.com/${'x'.repeat(2_000)}`)).toMatch(/2000/);
  });
});

describe('signatures', () => {
  it('are HMAC-SHA256 over "<timestamp>.<body>" with the webhook secret, in hex', () => {
    const header = signatureHeader({ secret: 'whsec_test', body: '{"a":1}', timestampS: 1_700_000_000 });
    const expected = createHmac('sha256', 'whsec_test').update('1700000000.{"a":1}').digest('hex');
    expect(header).toBe(`t=1700000000,v1=${expected}`);
    expect(signatureHeader({ secret: 'whsec_test', body: '{"a":2}', timestampS: 1_700_000_000 })).not.toBe(header);
    expect(signatureHeader({ secret: 'whsec_test', body: '{"a":1}', timestampS: 1_700_000_001 })).not.toBe(header);
  });
});
