// The arithmetic of currency exchange, exact and pure: no floats, no storage, no clock.
//
// A rate is "how many units of the quote currency one unit of the base currency buys", in
// major units, written as an exact decimal ("0.9215" EUR per USD). Inside it is a bigint
// rational `units / 10^decimals`. Converting `amountMinor` of the base currency:
//
//   gross  = floor(amountMinor × rate × 10^toScale / 10^fromScale)   in `to` minor units
//   net    = floor(gross × (10000 − spreadBps) / 10000)              what the person receives
//   spread = gross − net                                              what the house keeps
//
// Both roundings are down, so the house never pays out a fraction it did not receive. They
// never create or destroy a minor unit either: the `from` amount moves whole into the house's
// liquidity account, and `net + spread = gross` leaves the `to` liquidity account exactly.
// What floor drops is less than one `to` minor unit and is not money in any currency; it is
// simply not paid out. A net of zero is refused (the amount is too small to convert), and so
// is a gross beyond 2^63 − 1 minor units (it could not be stored).
import assert from 'node:assert/strict';
import { MAX_AMOUNT_MINOR } from '../platform/money.js';

/** A rate has at most this many decimals. */
export const RATE_DECIMALS_MAX = 12;
/** …and at most this many digits before the point (rates up to 10^15 − 1). */
export const RATE_INTEGER_DIGITS_MAX = 15;
/** The text form accepted at the edge; `parseRate` checks the rest. */
export const RATE_PATTERN = '^(0|[1-9][0-9]*)(\\.[0-9]+)?$';
export const BPS_PER_WHOLE = 10_000;
/** A spread of 10000 bps would keep everything; the most a rate may carry is one less. */
export const SPREAD_BPS_MAX = BPS_PER_WHOLE - 1;

/** An exact positive rate: `units / 10^decimals` quote major units per base major unit. */
export interface Rate {
  units: bigint;
  decimals: number;
}

export type ParsedRate = { ok: true; rate: Rate } | { ok: false; reason: string };

const DECIMAL = /^(0|[1-9]\d*)(?:\.(\d+))?$/;

/** "0.9215" → { units: 9215n, decimals: 4 }. Trailing zeros are dropped: "1.50" equals "1.5". */
export function parseRate(text: string): ParsedRate {
  const match = DECIMAL.exec(text);
  if (!match) return { ok: false, reason: 'must be a decimal string such as "0.9215", without sign or exponent' };
  const whole = match[1]!;
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (fraction.length > RATE_DECIMALS_MAX) return { ok: false, reason: `must have at most ${RATE_DECIMALS_MAX} decimals` };
  if (whole.length > RATE_INTEGER_DIGITS_MAX) return { ok: false, reason: `must be less than 10^${RATE_INTEGER_DIGITS_MAX}` };
  const units = BigInt(whole + fraction);
  if (units === 0n) return { ok: false, reason: 'must be greater than zero' };
  return { ok: true, rate: { units, decimals: fraction.length } };
}

/** The canonical text of a rate: no trailing zeros, at least one digit before the point. */
export function formatRate(rate: Rate): string {
  const digits = rate.units.toString().padStart(rate.decimals + 1, '0');
  return rate.decimals === 0 ? digits : `${digits.slice(0, -rate.decimals)}.${digits.slice(-rate.decimals)}`;
}

export interface ConversionInput {
  /** What the person gives, in minor units of the `from` currency. */
  amountMinor: bigint;
  fromScale: number;
  toScale: number;
  rate: Rate;
  spreadBps: number;
}

export interface Conversion {
  /** amount × rate, rounded down, in `to` minor units. */
  grossMinor: bigint;
  /** What the person receives: gross less the spread, rounded down. */
  netMinor: bigint;
  /** What the house keeps: gross − net. */
  spreadMinor: bigint;
}

export type ConversionResult =
  | ({ ok: true } & Conversion)
  | { ok: false; code: 'EXCHANGE_TOO_SMALL'; minAmountMinor: bigint }
  | { ok: false; code: 'EXCHANGE_TOO_LARGE'; maxAmountMinor: bigint };

/**
 * amount (from minor) → to minor is the fraction `amount × factor.num / factor.den`:
 * amount / 10^fromScale × units / 10^decimals × 10^toScale.
 */
function factorOf(input: Omit<ConversionInput, 'amountMinor' | 'spreadBps'>): { num: bigint; den: bigint } {
  return { num: input.rate.units * 10n ** BigInt(input.toScale), den: 10n ** BigInt(input.fromScale + input.rate.decimals) };
}

function assertInput(input: ConversionInput): void {
  assert.ok(Number.isInteger(input.spreadBps) && input.spreadBps >= 0 && input.spreadBps <= SPREAD_BPS_MAX, `spreadBps ${input.spreadBps} out of range`);
  assert.ok(Number.isInteger(input.fromScale) && input.fromScale >= 0 && Number.isInteger(input.toScale) && input.toScale >= 0, 'scales are non-negative integers');
  assert.ok(input.rate.units > 0n && Number.isInteger(input.rate.decimals) && input.rate.decimals >= 0, 'a rate is positive');
}

/** Converts under the rounding rule above; refuses a net of zero and a gross beyond 2^63 − 1. */
export function convert(input: ConversionInput): ConversionResult {
  assertInput(input);
  assert.ok(input.amountMinor > 0n, 'an exchange converts a positive amount');
  const { num, den } = factorOf(input);
  const grossMinor = (input.amountMinor * num) / den; // bigint division truncates: floor for positives
  if (grossMinor > MAX_AMOUNT_MINOR) return { ok: false, code: 'EXCHANGE_TOO_LARGE', maxAmountMinor: maxAmountMinor(input) };
  const netMinor = (grossMinor * BigInt(BPS_PER_WHOLE - input.spreadBps)) / BigInt(BPS_PER_WHOLE);
  if (netMinor === 0n) return { ok: false, code: 'EXCHANGE_TOO_SMALL', minAmountMinor: minAmountMinor(input) };
  const spreadMinor = grossMinor - netMinor;
  assert.ok(netMinor > 0n && spreadMinor >= 0n && netMinor + spreadMinor === grossMinor, 'net + spread = gross');
  // floor: gross ≤ amount × rate < gross + 1 (in `to` minor units)
  assert.ok(grossMinor * den <= input.amountMinor * num && input.amountMinor * num < (grossMinor + 1n) * den, 'gross is amount × rate rounded down');
  return { ok: true, grossMinor, netMinor, spreadMinor };
}

/** The smallest `from` amount whose net is at least one `to` minor unit. */
export function minAmountMinor(input: Omit<ConversionInput, 'amountMinor'>): bigint {
  assertInput({ ...input, amountMinor: 1n });
  const keep = BigInt(BPS_PER_WHOLE - input.spreadBps);
  const whole = BigInt(BPS_PER_WHOLE);
  // net ≥ 1 ⇔ gross × keep ≥ 10000 ⇔ gross ≥ ceil(10000 / keep)
  const minGross = (whole + keep - 1n) / keep;
  // gross ≥ g ⇔ floor(a × num / den) ≥ g ⇔ a × num ≥ g × den ⇔ a ≥ ceil(g × den / num)
  const { num, den } = factorOf(input);
  return (minGross * den + num - 1n) / num;
}

/** The largest `from` amount whose gross still fits in 2^63 − 1 minor units. */
export function maxAmountMinor(input: Omit<ConversionInput, 'amountMinor'>): bigint {
  assertInput({ ...input, amountMinor: 1n });
  const { num, den } = factorOf(input);
  // floor(a × num / den) ≤ M ⇔ a × num < (M + 1) × den ⇔ a ≤ floor(((M + 1) × den − 1) / num)
  return ((MAX_AMOUNT_MINOR + 1n) * den - 1n) / num;
}
