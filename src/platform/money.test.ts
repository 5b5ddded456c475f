import { describe, expect, it } from 'vitest';
import { MAX_AMOUNT_MINOR, formatAmount, parseAmount, type AmountError } from './money.js';

const minorOf = (text: string, scale: number): bigint => {
  const parsed = parseAmount(text, scale);
  if (!parsed.ok) throw new Error(`expected "${text}" at scale ${scale} to parse, got ${parsed.error}`);
  return parsed.minor;
};
const errorOf = (text: string, scale: number): AmountError | 'parsed' => {
  const parsed = parseAmount(text, scale);
  return parsed.ok ? 'parsed' : parsed.error;
};

describe('parseAmount', () => {
  it('reads decimal strings in major units as minor units at scales 0, 2, 8 and 18', () => {
    expect(minorOf('1', 0)).toBe(1n);
    expect(minorOf('1500', 0)).toBe(1500n);
    expect(minorOf('12.50', 2)).toBe(1250n);
    expect(minorOf('12.5', 2)).toBe(1250n);
    expect(minorOf('12', 2)).toBe(1200n);
    expect(minorOf('0.01', 2)).toBe(1n);
    expect(minorOf('0.00000001', 8)).toBe(1n);
    expect(minorOf('1.5', 8)).toBe(150_000_000n);
    expect(minorOf('21000000', 8)).toBe(2_100_000_000_000_000n);
    expect(minorOf('0.000000000000000001', 18)).toBe(1n);
    expect(minorOf('1', 18)).toBe(10n ** 18n);
    expect(minorOf('0.5', 18)).toBe(5n * 10n ** 17n);
  });

  it('refuses signs, exponents, spaces, leading zeros, bare points and anything not a plain decimal', () => {
    const refused = ['-1', '-0.50', '+1', '1e3', '1E3', '0x10', ' 5', '5 ', '5\n', '01', '00.5', '1.', '.5', '', '.', '1,00', '1_000', '1.2.3', 'Infinity', 'NaN', '١٢'];
    for (const text of refused) expect(errorOf(text, 2), JSON.stringify(text)).toBe('AMOUNT_FORMAT');
  });

  it('refuses zero in any spelling', () => {
    for (const [text, scale] of [['0', 0], ['0', 2], ['0.00', 2], ['0.0', 2], ['0.000000000000000000', 18]] as const) {
      expect(errorOf(text, scale), `${text} @${scale}`).toBe('AMOUNT_NOT_POSITIVE');
    }
  });

  it('refuses more decimals than the currency has, even trailing zeros', () => {
    expect(errorOf('1.001', 2)).toBe('AMOUNT_TOO_PRECISE');
    expect(errorOf('1.000', 2)).toBe('AMOUNT_TOO_PRECISE');
    expect(errorOf('1.5', 0)).toBe('AMOUNT_TOO_PRECISE');
    expect(errorOf('1.0', 0)).toBe('AMOUNT_TOO_PRECISE');
    expect(errorOf('0.000000001', 8)).toBe('AMOUNT_TOO_PRECISE');
    expect(errorOf('0.0000000000000000001', 18)).toBe('AMOUNT_TOO_PRECISE');
    const refusal = parseAmount('1.5', 0);
    expect(refusal.ok === false && refusal.reason).toMatch(/no minor units/);
  });

  it('accepts exactly 2^63 − 1 minor units and refuses one more, at every scale', () => {
    expect(MAX_AMOUNT_MINOR).toBe(9_223_372_036_854_775_807n);
    const cases = [
      { scale: 0, max: '9223372036854775807', over: '9223372036854775808' },
      { scale: 2, max: '92233720368547758.07', over: '92233720368547758.08' },
      { scale: 8, max: '92233720368.54775807', over: '92233720368.54775808' },
      { scale: 18, max: '9.223372036854775807', over: '9.223372036854775808' },
    ];
    for (const { scale, max, over } of cases) {
      expect(minorOf(max, scale), max).toBe(MAX_AMOUNT_MINOR);
      expect(errorOf(over, scale), over).toBe('AMOUNT_TOO_LARGE');
    }
    expect(errorOf('10', 18)).toBe('AMOUNT_TOO_LARGE');
  });

  it('refuses absurdly long whole parts as too large without building a huge number', () => {
    expect(errorOf('9'.repeat(41), 2)).toBe('AMOUNT_TOO_LARGE');
    expect(errorOf('1' + '0'.repeat(5000), 0)).toBe('AMOUNT_TOO_LARGE');
    const refusal = parseAmount('9'.repeat(41), 2);
    expect(refusal.ok === false && refusal.reason).toContain('92233720368547758.07');
  });
});

describe('formatAmount', () => {
  it('writes minor units as a decimal string with exactly `scale` decimals', () => {
    expect(formatAmount(1250n, 2)).toBe('12.50');
    expect(formatAmount(1n, 2)).toBe('0.01');
    expect(formatAmount(0n, 2)).toBe('0.00');
    expect(formatAmount(0n, 0)).toBe('0');
    expect(formatAmount(1500n, 0)).toBe('1500');
    expect(formatAmount(1n, 8)).toBe('0.00000001');
    expect(formatAmount(150_000_000n, 8)).toBe('1.50000000');
    expect(formatAmount(1n, 18)).toBe('0.000000000000000001');
    expect(formatAmount(MAX_AMOUNT_MINOR, 18)).toBe('9.223372036854775807');
    expect(formatAmount(MAX_AMOUNT_MINOR, 0)).toBe('9223372036854775807');
  });

  it('keeps the sign of negative amounts (a system account may go negative)', () => {
    expect(formatAmount(-5n, 2)).toBe('-0.05');
    expect(formatAmount(-1250n, 2)).toBe('-12.50');
    expect(formatAmount(-7n, 0)).toBe('-7');
    expect(formatAmount(-1n, 18)).toBe('-0.000000000000000001');
    expect(formatAmount(-MAX_AMOUNT_MINOR, 2)).toBe('-92233720368547758.07');
  });

  it('round-trips through parseAmount for every positive amount up to the maximum', () => {
    const samples = [1n, 9n, 10n, 99n, 100n, 101n, 123_456_789n, 10n ** 17n, 10n ** 18n, MAX_AMOUNT_MINOR - 1n, MAX_AMOUNT_MINOR];
    // A deterministic spread of magnitudes as well.
    for (let digits = 1n; digits <= 18n; digits++) samples.push(7n * 10n ** digits + digits);
    for (const scale of [0, 2, 8, 18]) {
      for (const minor of samples) {
        const text = formatAmount(minor, scale);
        expect(minorOf(text, scale), `${minor} @${scale} → ${text}`).toBe(minor);
      }
    }
  });
});
