// Webhook signatures: HMAC-SHA256 over `${t}.${rawBody}` with a shared secret, sent as
// `gavel-signature: t=<unix seconds>,v1=<hex>`. The timestamp is signed too, so an old
// delivery cannot be made fresh; the receiver refuses timestamps outside a tolerance and
// compares in constant time. Several v1 entries may be sent while a secret is rotated.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'gavel-signature';
/** How far a signed timestamp may be from the receiver's clock, either way. */
export const SIGNATURE_TOLERANCE_S = 300;
const HEADER_LENGTH_MAX = 1_000;
const SIGNATURES_MAX = 4;
const TIMESTAMP = /^[0-9]{1,12}$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/;

export type SignatureCheck = { ok: true } | { ok: false; code: 'WEBHOOK_SIGNATURE_INVALID' | 'WEBHOOK_STALE'; reason: string };

function hmacOf(secret: string, timestampS: number, rawBody: Buffer | string): Buffer {
  return createHmac('sha256', secret).update(`${timestampS}.`).update(rawBody).digest();
}

/** The header value for `rawBody` signed at `timestampS`. */
export function signatureHeader(options: { secret: string; rawBody: Buffer | string; timestampS: number }): string {
  return `t=${options.timestampS},v1=${hmacOf(options.secret, options.timestampS, options.rawBody).toString('hex')}`;
}

/** Reads `t=…,v1=…[,v1=…]`; unknown keys are ignored, anything else malformed is refused. */
export function parseSignatureHeader(header: unknown): { timestampS: number; signatures: Buffer[] } | string {
  if (typeof header !== 'string') return header === undefined ? `the ${SIGNATURE_HEADER} header is missing` : `send one ${SIGNATURE_HEADER} header`;
  if (header.length > HEADER_LENGTH_MAX) return `the ${SIGNATURE_HEADER} header is longer than ${HEADER_LENGTH_MAX} characters`;
  let timestampS: number | undefined;
  const signatures: Buffer[] = [];
  for (const item of header.split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) return `the ${SIGNATURE_HEADER} header is not a list of key=value pairs`;
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === 't') {
      if (timestampS !== undefined || !TIMESTAMP.test(value)) return 't must appear once, as whole unix seconds';
      timestampS = Number(value);
    } else if (key === 'v1') {
      if (!HEX_SHA256.test(value)) return 'v1 must be 64 lower-case hex digits';
      if (signatures.length === SIGNATURES_MAX) return `at most ${SIGNATURES_MAX} v1 signatures`;
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestampS === undefined) return 'the t= timestamp is missing';
  if (signatures.length === 0) return 'no v1= signature';
  return { timestampS, signatures };
}

/** Checks a delivery: the header's form, then the signature (constant time), then freshness. */
export function verifySignature(options: { secret: string; header: unknown; rawBody: Buffer; nowMs: number; toleranceS?: number }): SignatureCheck {
  const parsed = parseSignatureHeader(options.header);
  if (typeof parsed === 'string') return { ok: false, code: 'WEBHOOK_SIGNATURE_INVALID', reason: parsed };
  const expected = hmacOf(options.secret, parsed.timestampS, options.rawBody);
  // Every candidate is compared, so the time taken does not tell which one matched.
  let matched = false;
  for (const candidate of parsed.signatures) matched = timingSafeEqual(candidate, expected) || matched;
  if (!matched) return { ok: false, code: 'WEBHOOK_SIGNATURE_INVALID', reason: 'no v1 signature matches the body and timestamp' };
  const skewS = Math.abs(Math.floor(options.nowMs / 1000) - parsed.timestampS);
  const toleranceS = options.toleranceS ?? SIGNATURE_TOLERANCE_S;
  if (skewS > toleranceS) return { ok: false, code: 'WEBHOOK_STALE', reason: `the signed timestamp is ${skewS} s away from now (tolerance ${toleranceS} s)` };
  return { ok: true };
}
