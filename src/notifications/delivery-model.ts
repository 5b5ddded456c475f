// The rules of delivering a notification outside the database (e-mail, webhooks). Pure: time
// and randomness come in as arguments.
//
// A delivery is one job per (notification, channel, destination). Jobs to one destination —
// a person's e-mail address, or one of their webhooks — form a lane and go out one at a time,
// oldest first: a receiver sees a person's notifications in the order they happened. A job
// that fails waits (exponential backoff with full jitter) and holds back the jobs behind it in
// its lane, never anyone else's; after `maxAttempts` it becomes a dead letter and the lane
// moves on. An admin can send a dead letter again (redrive).
import { createHmac } from 'node:crypto';
import type { QueuedChannel } from './model.js';

export interface RetryPolicy {
  /** Attempts before a delivery is a dead letter (the first try counts). */
  maxAttempts: number;
  /** The cap of the wait after the first failure; it doubles with each failure after that. */
  firstDelayMs: number;
  /** No wait is longer than this. */
  maxDelayMs: number;
}

/**
 * The wait before the next attempt after `attempts` tries have failed: "full jitter" — a
 * uniformly random time between 0 and the exponential cap — so receivers that come back after
 * an outage are not hit by every sender's retries at the same moment. `random` is in [0, 1).
 */
export function retryDelayMs(attempts: number, policy: Pick<RetryPolicy, 'firstDelayMs' | 'maxDelayMs'>, random: number): number {
  const capMs = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.min(Math.max(attempts - 1, 0), 40));
  return Math.floor(random * capMs);
}

export type AttemptOutcome = { ok: true } | { ok: false; error: string };

/** What becomes of a job after an attempt: delivered, tried again at `dueAtMs`, or dead. */
export type NextStep = { state: 'delivered' } | { state: 'pending'; dueAtMs: number } | { state: 'dead' };

export function nextStep(outcome: AttemptOutcome, attempts: number, policy: RetryPolicy, nowMs: number, random: number): NextStep {
  if (outcome.ok) return { state: 'delivered' };
  if (attempts >= policy.maxAttempts) return { state: 'dead' };
  return { state: 'pending', dueAtMs: nowMs + retryDelayMs(attempts, policy, random) };
}

/** The lane a job waits in: one per person, channel and destination (a webhook's id; '' for their e-mail). */
export function laneOf(recipientUserId: string, channel: QueuedChannel, target: string): string {
  return `${recipientUserId}/${channel}/${target}`;
}

// --- webhooks --------------------------------------------------------------------------------

export const WEBHOOK_URL_LENGTH_MAX = 2_000;
export const WEBHOOKS_PER_PERSON_MAX = 5;
export const SIGNATURE_HEADER = 'gavel-signature';

/** Why a webhook address is refused, or undefined when it is acceptable. */
export function webhookUrlProblem(text: string): string | undefined {
  if (text.length > WEBHOOK_URL_LENGTH_MAX) return `must be at most ${WEBHOOK_URL_LENGTH_MAX} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http:// or https:// URL';
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password (verify the signature instead)';
  if (url.hostname === '') return 'has no host';
  return undefined;
}

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the webhook's secret>` — the same
 * scheme as the payment provider's webhooks to Gavel. The receiver recomputes it over the raw
 * body, compares in constant time and refuses old timestamps.
 */
export function signatureHeader(options: { secret: string; body: string; timestampS: number }): string {
  const mac = createHmac('sha256', options.secret).update(`${options.timestampS}.`).update(options.body).digest('hex');
  return `t=${options.timestampS},v1=${mac}`;
}
