// Money is integers: `bigint` minor units beside a currency code. The API carries amounts as
// decimal strings in major units ("12.50" USD); these two functions are the only crossing.

/** The largest amount the ledger stores: a PostgreSQL bigint, 2^63 − 1 minor units. */
export const MAX_AMOUNT_MINOR = 2n ** 63n - 1n;

export type AmountError = 'AMOUNT_FORMAT' | 'AMOUNT_TOO_PRECISE' | 'AMOUNT_NOT_POSITIVE' | 'AMOUNT_TOO_LARGE';

export type ParsedAmount = { ok: true; minor: bigint } | { ok: false; error: AmountError; reason: string };

const DECIMAL = /^(0|[1-9]\d*)(?:\.(\d+))?$/;

/** "12.50" at scale 2 → 1250n. Refuses signs, exponents, spaces and more decimals than `scale`. */
export function parseAmount(text: string, scale: number): ParsedAmount {
  const match = DECIMAL.exec(text);
  if (!match) return { ok: false, error: 'AMOUNT_FORMAT', reason: 'must be a decimal string such as "12.50", without sign or exponent' };
  const [, whole = '0', fraction = ''] = match;
  if (fraction.length > scale) {
    return { ok: false, error: 'AMOUNT_TOO_PRECISE', reason: scale === 0 ? 'this currency has no minor units' : `this currency has ${scale} decimals at most` };
  }
  if (whole.length > 40) return { ok: false, error: 'AMOUNT_TOO_LARGE', reason: `must not exceed ${formatAmount(MAX_AMOUNT_MINOR, scale)}` };
  const minor = BigInt(whole) * 10n ** BigInt(scale) + BigInt(fraction.padEnd(scale, '0') || '0');
  if (minor === 0n) return { ok: false, error: 'AMOUNT_NOT_POSITIVE', reason: 'must be greater than zero' };
  if (minor > MAX_AMOUNT_MINOR) return { ok: false, error: 'AMOUNT_TOO_LARGE', reason: `must not exceed ${formatAmount(MAX_AMOUNT_MINOR, scale)}` };
  return { ok: true, minor };
}

/** 1250n at scale 2 → "12.50"; negative amounts keep their sign ("-0.05"). */
export function formatAmount(minor: bigint, scale: number): string {
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}
