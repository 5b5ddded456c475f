// The pure parts of payments: webhook signatures, the top-up and withdrawal rules, escaping.
import { describe, expect, it } from 'vitest';
import { decideTopup, decideWithdrawal, topupStatusAt, TOPUP_TTL_MS, type Topup, type Withdrawal } from '../../src/ledger/payments/model.js';
import type { ProviderEvent } from '../../src/ledger/payments/provider.js';
import { escapeHtml } from '../../src/ledger/payments/sandbox-pages.js';
import { parseSignatureHeader, signatureHeader, SIGNATURE_TOLERANCE_S, verifySignature } from '../../src/ledger/payments/signature.js';

const SECRET = 'whsec_unit_test_secret';
const BODY = Buffer.from('{"id":"evt_1"}');
const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;

describe('webhook signatures', () => {
  it('a signature made with the secret over timestamp and body verifies', () => {
    const header = signatureHeader({ secret: SECRET, rawBody: BODY, timestampS: NOW_S });
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature({ secret: SECRET, header, rawBody: BODY, nowMs: NOW_MS })).toEqual({ ok: true });
  });

  it('any one of several v1 signatures may match (secret rotation); unknown keys are ignored', () => {
    const good = signatureHeader({ secret: SECRET, rawBody: BODY, timestampS: NOW_S }).split('v1=')[1];
    const header = `t=${NOW_S}, v0=old, v1=${'0'.repeat(64)}, v1=${good}`;
    expect(verifySignature({ secret: SECRET, header, rawBody: BODY, nowMs: NOW_MS }).ok).toBe(true);
  });

  it(`accepts timestamps up to ${SIGNATURE_TOLERANCE_S} s away either way, and no further`, () => {
    for (const skew of [-SIGNATURE_TOLERANCE_S, SIGNATURE_TOLERANCE_S]) {
      const header = signatureHeader({ secret: SECRET, rawBody: BODY, timestampS: NOW_S + skew });
      expect(verifySignature({ secret: SECRET, header, rawBody: BODY, nowMs: NOW_MS }).ok).toBe(true);
    }
    for (const skew of [-SIGNATURE_TOLERANCE_S - 1, SIGNATURE_TOLERANCE_S + 1]) {
      const header = signatureHeader({ secret: SECRET, rawBody: BODY, timestampS: NOW_S + skew });
      expect(verifySignature({ secret: SECRET, header, rawBody: BODY, nowMs: NOW_MS })).toMatchObject({ ok: false, code: 'WEBHOOK_STALE' });
    }
  });

  it('a stale timestamp with a wrong signature is reported as a bad signature, not as stale', () => {
    const header = signatureHeader({ secret: 'another-secret-entirely', rawBody: BODY, timestampS: NOW_S - 10_000 });
    expect(verifySignature({ secret: SECRET, header, rawBody: BODY, nowMs: NOW_MS })).toMatchObject({ ok: false, code: 'WEBHOOK_SIGNATURE_INVALID' });
  });

  it.each([
    [undefined, 'missing'],
    [['t=1,v1=' + 'a'.repeat(64), 't=1,v1=' + 'a'.repeat(64)], 'one'],
    ['', 'key=value'],
    ['t=1', 'no v1'],
    [`v1=${'a'.repeat(64)}`, 'timestamp is missing'],
    [`t=1,t=2,v1=${'a'.repeat(64)}`, 't must appear once'],
    [`t=-1,v1=${'a'.repeat(64)}`, 't must appear once'],
    [`t=1.5,v1=${'a'.repeat(64)}`, 't must appear once'],
    [`t=1,v1=${'A'.repeat(64)}`, 'lower-case hex'],
    [`t=1,v1=${'a'.repeat(63)}`, 'lower-case hex'],
    [`t=1,v1=${'a'.repeat(64)},${'x'.repeat(1000)}`, 'longer than'],
  ])('refuses the header %j', (header, reason) => {
    const parsed = parseSignatureHeader(header);
    expect(typeof parsed).toBe('string');
    expect(parsed).toContain(reason);
  });

  it('refuses more than four v1 signatures', () => {
    expect(parseSignatureHeader(`t=1,${Array(5).fill(`v1=${'a'.repeat(64)}`).join(',')}`)).toContain('at most 4');
  });
});

const topup = (over: Partial<Topup> = {}): Topup => ({
  id: 'topup-1',
  userId: 'u',
  currency: 'USD',
  amountMinor: 1250n,
  status: 'pending',
  provider: 'sandbox',
  providerPaymentId: 'pay-1',
  redirectUrl: '/x',
  expiresAtMs: NOW_MS + TOPUP_TTL_MS,
  createdAtMs: NOW_MS,
  updatedAtMs: NOW_MS,
  ...over,
});
const event = (over: Partial<ProviderEvent> = {}): ProviderEvent => ({
  eventId: 'evt',
  type: 'payment.succeeded',
  objectId: 'pay-1',
  reference: 'topup-1',
  amountMinor: 1250n,
  currency: 'USD',
  occurredAtMs: NOW_MS,
  ...over,
});

describe('top-up rules', () => {
  it('a pending top-up reads as expired from its expiry time on', () => {
    expect(topupStatusAt(topup(), NOW_MS + TOPUP_TTL_MS - 1)).toBe('pending');
    expect(topupStatusAt(topup(), NOW_MS + TOPUP_TTL_MS)).toBe('expired');
    expect(topupStatusAt(topup({ status: 'succeeded' }), NOW_MS + TOPUP_TTL_MS * 2)).toBe('succeeded');
  });

  it('success credits a pending top-up, decline declines it, the same outcome again is a duplicate', () => {
    expect(decideTopup(topup(), event(), NOW_MS)).toEqual({ ok: true, action: 'credit' });
    expect(decideTopup(topup(), event({ type: 'payment.declined' }), NOW_MS)).toEqual({ ok: true, action: 'decline' });
    expect(decideTopup(topup({ status: 'succeeded' }), event(), NOW_MS)).toEqual({ ok: true, action: 'duplicate' });
    expect(decideTopup(topup({ status: 'declined' }), event({ type: 'payment.declined' }), NOW_MS)).toEqual({ ok: true, action: 'duplicate' });
  });

  it('money confirmed for a declined or expired top-up is refused and raised', () => {
    expect(decideTopup(topup({ status: 'declined' }), event(), NOW_MS)).toMatchObject({ ok: false, code: 'PAYMENT_NOT_PENDING', alarming: true });
    expect(decideTopup(topup(), event(), NOW_MS + TOPUP_TTL_MS)).toMatchObject({ ok: false, code: 'PAYMENT_NOT_PENDING', alarming: true });
    expect(decideTopup(topup({ status: 'succeeded' }), event({ type: 'payment.declined' }), NOW_MS)).toMatchObject({ ok: false, code: 'PAYMENT_NOT_PENDING', alarming: false });
  });

  it('an event whose amount, currency or reference differ is rejected', () => {
    for (const over of [{ amountMinor: 1251n }, { currency: 'EUR' }, { reference: 'topup-2' }]) {
      expect(decideTopup(topup(), event(over), NOW_MS)).toMatchObject({ ok: false, code: 'WEBHOOK_EVENT_REJECTED' });
    }
  });
});

describe('withdrawal rules', () => {
  const withdrawal = (over: Partial<Withdrawal> = {}): Withdrawal => ({
    id: 'w-1',
    userId: 'u',
    currency: 'USD',
    amountMinor: 500n,
    status: 'requested',
    provider: 'sandbox',
    providerPayoutId: 'po-1',
    providerPageUrl: null,
    holdId: 'h',
    createdAtMs: NOW_MS,
    updatedAtMs: NOW_MS,
    ...over,
  });
  const payout = (over: Partial<ProviderEvent> = {}) => event({ type: 'payout.paid', objectId: 'po-1', reference: 'w-1', amountMinor: 500n, ...over });

  it('paid captures, failed releases, each once; the opposite afterwards is refused', () => {
    expect(decideWithdrawal(withdrawal(), payout())).toEqual({ ok: true, action: 'capture' });
    expect(decideWithdrawal(withdrawal(), payout({ type: 'payout.failed' }))).toEqual({ ok: true, action: 'release' });
    expect(decideWithdrawal(withdrawal({ status: 'paid' }), payout())).toEqual({ ok: true, action: 'duplicate' });
    expect(decideWithdrawal(withdrawal({ status: 'paid' }), payout({ type: 'payout.failed' }))).toMatchObject({ ok: false, code: 'PAYMENT_NOT_PENDING' });
    expect(decideWithdrawal(withdrawal({ status: 'failed' }), payout())).toMatchObject({ ok: false, code: 'PAYMENT_NOT_PENDING' });
    expect(decideWithdrawal(withdrawal(), payout({ amountMinor: 499n }))).toMatchObject({ ok: false, code: 'WEBHOOK_EVENT_REJECTED' });
  });
});

describe('escapeHtml', () => {
  it('escapes the five characters that matter in text and quoted attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });
});
