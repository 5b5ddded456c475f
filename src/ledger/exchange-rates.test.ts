import { describe, expect, it } from 'vitest';
import { MAX_AMOUNT_MINOR } from '../platform/money.js';
import { SPREAD_BPS_MAX, convert, formatRate, maxAmountMinor, minAmountMinor, parseRate, type ConversionInput, type Rate } from './exchange-rates.js';

const rate = (text: string): Rate => {
  const parsed = parseRate(text);
  if (!parsed.ok) throw new Error(`bad rate in test: ${text}: ${parsed.reason}`);
  return parsed.rate;
};

const USD = 2;
const JPY = 0;
const BTC = 8;

function conv(amountMinor: bigint, fromScale: number, toScale: number, rateText: string, spreadBps = 0) {
  return convert({ amountMinor, fromScale, toScale, rate: rate(rateText), spreadBps });
}

/** Exact rational reference: floor(a × units × 10^to / 10^(from + decimals)). */
function referenceGross(i: ConversionInput): bigint {
  return (i.amountMinor * i.rate.units * 10n ** BigInt(i.toScale)) / 10n ** BigInt(i.fromScale + i.rate.decimals);
}

describe('parseRate', () => {
  it('reads an exact decimal into a bigint rational', () => {
    expect(parseRate('0.9215')).toEqual({ ok: true, rate: { units: 9215n, decimals: 4 } });
    expect(parseRate('150')).toEqual({ ok: true, rate: { units: 150n, decimals: 0 } });
    expect(parseRate('0.000000000001')).toEqual({ ok: true, rate: { units: 1n, decimals: 12 } });
    expect(parseRate('999999999999999.999999999999')).toEqual({ ok: true, rate: { units: 999999999999999999999999999n, decimals: 12 } });
  });

  it('drops trailing zeros, so equal rates have one form', () => {
    expect(parseRate('1.500')).toEqual(parseRate('1.5'));
    expect(parseRate('2.000000000000000000')).toEqual({ ok: true, rate: { units: 2n, decimals: 0 } });
    expect(parseRate('0.1234567890120')).toEqual({ ok: true, rate: { units: 123456789012n, decimals: 12 } });
  });

  it.each(['', '0', '0.0', '-1', '+1', '1e3', ' 1', '1 ', '1.', '.5', '01.5', '1,5', 'NaN', 'Infinity', '0x10'])('refuses %j', (text) => {
    expect(parseRate(text).ok).toBe(false);
  });

  it('refuses more than 12 decimals and 15 integer digits', () => {
    expect(parseRate('0.0000000000001')).toMatchObject({ ok: false, reason: expect.stringContaining('12 decimals') });
    expect(parseRate('1000000000000000')).toMatchObject({ ok: false, reason: expect.stringContaining('10^15') });
  });

  it('formats back to the canonical text', () => {
    for (const text of ['0.9215', '150', '0.000000000001', '1.5', '123456789012345.123456789012']) expect(formatRate(rate(text))).toBe(text);
    expect(formatRate(rate('1.50'))).toBe('1.5');
  });
});

describe('convert: the rounding rule', () => {
  it('USD → EUR at 0.9215 with a 50 bps spread', () => {
    // 100.00 USD × 0.9215 = 92.15 EUR gross; net = floor(9215 × 9950 / 10000) = 9168 (91.68); spread 47
    expect(conv(10_000n, USD, USD, '0.9215', 50)).toEqual({ ok: true, grossMinor: 9215n, netMinor: 9168n, spreadMinor: 47n });
  });

  it('rounds gross down to a whole `to` minor unit', () => {
    // 0.01 USD × 0.9215 = 0.009215 EUR → 0 → too small
    expect(conv(1n, USD, USD, '0.9215')).toMatchObject({ ok: false, code: 'EXCHANGE_TOO_SMALL' });
    // 0.02 USD × 0.9215 = 0.01843 EUR → 0.01
    expect(conv(2n, USD, USD, '0.9215')).toEqual({ ok: true, grossMinor: 1n, netMinor: 1n, spreadMinor: 0n });
    // 1.99 × 1.005 = 1.99995 → 1.99
    expect(conv(199n, USD, USD, '1.005')).toMatchObject({ grossMinor: 199n });
  });

  it('rounds net down, so the spread takes the remainder', () => {
    // gross 199, 1 bps: 199 × 9999 / 10000 = 198.98 → 198, spread 1 (never a fraction left over)
    expect(conv(199n, USD, USD, '1', 1)).toEqual({ ok: true, grossMinor: 199n, netMinor: 198n, spreadMinor: 1n });
    // gross 10000 at 1 bps: exactly 9999 and 1
    expect(conv(10_000n, USD, USD, '1', 1)).toEqual({ ok: true, grossMinor: 10_000n, netMinor: 9999n, spreadMinor: 1n });
  });

  it('a zero spread passes the whole gross through', () => {
    expect(conv(12_345n, USD, USD, '1')).toEqual({ ok: true, grossMinor: 12_345n, netMinor: 12_345n, spreadMinor: 0n });
  });

  it('USD (2) → JPY (0): scales differ by two digits', () => {
    // 10.00 USD × 151.37 = 1513.7 JPY → 1513
    expect(conv(1000n, USD, JPY, '151.37')).toMatchObject({ grossMinor: 1513n, netMinor: 1513n });
    // 0.01 USD × 151.37 = 1.5137 JPY → 1
    expect(conv(1n, USD, JPY, '151.37')).toMatchObject({ grossMinor: 1n });
    // with 100 bps: 1513 × 0.99 = 1497.87 → 1497, spread 16
    expect(conv(1000n, USD, JPY, '151.37', 100)).toEqual({ ok: true, grossMinor: 1513n, netMinor: 1497n, spreadMinor: 16n });
  });

  it('JPY (0) → USD (2): a yen is less than a cent at this rate', () => {
    // 1 JPY × 0.0066 = 0.0066 USD → 0 → too small; the smallest that converts is 2 JPY (0.0132 → 0.01)
    expect(conv(1n, JPY, USD, '0.0066')).toEqual({ ok: false, code: 'EXCHANGE_TOO_SMALL', minAmountMinor: 2n });
    expect(conv(2n, JPY, USD, '0.0066')).toMatchObject({ grossMinor: 1n });
    // 10000 JPY × 0.0066 = 66.00 USD
    expect(conv(10_000n, JPY, USD, '0.0066')).toMatchObject({ grossMinor: 6600n });
  });

  it('JPY (0) → BTC (8) and BTC → JPY', () => {
    // 1 JPY × 0.000000098765 BTC = 9.8765 satoshi → 9
    expect(conv(1n, JPY, BTC, '0.000000098765')).toMatchObject({ grossMinor: 9n });
    // 1000000 JPY → 9.8765 × 10^6 sat = 9876500 sat = 0.098765 BTC
    expect(conv(1_000_000n, JPY, BTC, '0.000000098765')).toMatchObject({ grossMinor: 9_876_500n });
    // 1 satoshi × 10125000 JPY/BTC = 0.10125 JPY → 0: too small; smallest is 10 sat (1.0125 JPY)
    expect(conv(1n, BTC, JPY, '10125000')).toEqual({ ok: false, code: 'EXCHANGE_TOO_SMALL', minAmountMinor: 10n });
    expect(conv(10n, BTC, JPY, '10125000')).toMatchObject({ grossMinor: 1n });
    // 0.5 BTC → 5062500 JPY
    expect(conv(50_000_000n, BTC, JPY, '10125000')).toMatchObject({ grossMinor: 5_062_500n });
  });

  it('USD (2) → BTC (8): six more digits on the way out', () => {
    // 1.00 USD × 0.0000149 BTC = 1490 sat
    expect(conv(100n, USD, BTC, '0.0000149')).toMatchObject({ grossMinor: 1490n });
    // the most precise rate: 0.01 USD × 10^-12 BTC = 10^-14 BTC → nothing
    expect(conv(1n, USD, BTC, '0.000000000001')).toMatchObject({ ok: false, code: 'EXCHANGE_TOO_SMALL', minAmountMinor: 1_000_000n });
  });

  it('net + spread always equals gross, and gross is the exact product rounded down', () => {
    // A deterministic sweep over scales, rates and spreads (a small LCG, no Math.random).
    let seed = 12345n;
    const next = (mod: bigint) => {
      seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
      return seed % mod;
    };
    for (let i = 0; i < 5000; i++) {
      const fromScale = Number(next(19n));
      const toScale = Number(next(19n));
      const decimals = Number(next(13n));
      const units = next(10n ** 15n) + 1n;
      const spreadBps = Number(next(BigInt(SPREAD_BPS_MAX + 1)));
      const amountMinor = next(10n ** BigInt(1 + Number(next(19n)))) + 1n;
      const input = { amountMinor, fromScale, toScale, rate: { units, decimals }, spreadBps };
      const r = convert(input);
      const gross = referenceGross(input);
      if (r.ok) {
        expect(r.grossMinor).toBe(gross);
        expect(r.netMinor + r.spreadMinor).toBe(r.grossMinor);
        expect(r.netMinor).toBeGreaterThan(0n);
        expect(r.spreadMinor).toBeGreaterThanOrEqual(0n);
        // the spread is at least what the bps ask (net rounds down, never up)
        expect(r.spreadMinor * 10_000n).toBeGreaterThanOrEqual(r.grossMinor * BigInt(spreadBps));
        expect((r.spreadMinor - 1n) * 10_000n).toBeLessThan(r.grossMinor * BigInt(spreadBps));
      } else if (r.code === 'EXCHANGE_TOO_LARGE') {
        expect(gross).toBeGreaterThan(MAX_AMOUNT_MINOR);
      } else {
        expect((gross * BigInt(10_000 - spreadBps)) / 10_000n).toBe(0n);
      }
    }
  });
});

describe('convert: limits', () => {
  it('a spread of the maximum still converts a large enough amount', () => {
    // 9999 bps keeps 1/10000: gross must reach 10000 for a net of 1
    expect(conv(9999n, USD, USD, '1', SPREAD_BPS_MAX)).toMatchObject({ ok: false, code: 'EXCHANGE_TOO_SMALL', minAmountMinor: 10_000n });
    expect(conv(10_000n, USD, USD, '1', SPREAD_BPS_MAX)).toEqual({ ok: true, grossMinor: 10_000n, netMinor: 1n, spreadMinor: 9999n });
  });

  it('asserts a spread out of range (the edge validates it first)', () => {
    expect(() => conv(100n, USD, USD, '1', 10_000)).toThrow(/spreadBps/);
    expect(() => conv(100n, USD, USD, '1', -1)).toThrow(/spreadBps/);
    expect(() => conv(100n, USD, USD, '1', 0.5)).toThrow(/spreadBps/);
    expect(() => conv(0n, USD, USD, '1')).toThrow(/positive/);
  });

  it('amounts near 2^63 − 1 convert exactly, without overflow', () => {
    // A rate below one on the largest amount: computed in bigint, not in 64 bits.
    const r = conv(MAX_AMOUNT_MINOR, USD, USD, '0.999999999999', 50);
    const gross = (MAX_AMOUNT_MINOR * 999_999_999_999n) / 10n ** 12n;
    expect(r).toEqual({ ok: true, grossMinor: gross, netMinor: (gross * 9950n) / 10_000n, spreadMinor: gross - (gross * 9950n) / 10_000n });
    // Rate one, same scales: the largest amount passes through whole.
    expect(conv(MAX_AMOUNT_MINOR, USD, USD, '1')).toMatchObject({ ok: true, grossMinor: MAX_AMOUNT_MINOR, netMinor: MAX_AMOUNT_MINOR });
    // JPY → BTC scales up by 10^8; huge amounts are still exact.
    expect(conv(MAX_AMOUNT_MINOR, BTC, JPY, '0.5')).toMatchObject({ ok: true, grossMinor: MAX_AMOUNT_MINOR / 2n / 10n ** 8n });
  });

  it('refuses a result beyond 2^63 − 1 and names the largest amount that fits', () => {
    const tooBig = conv(MAX_AMOUNT_MINOR, USD, USD, '1.000000000001');
    expect(tooBig).toMatchObject({ ok: false, code: 'EXCHANGE_TOO_LARGE' });
    // Scaling up (USD → BTC: ×10^6) overflows long before the input does.
    const r = conv(10n ** 13n, USD, BTC, '1');
    expect(r).toMatchObject({ ok: false, code: 'EXCHANGE_TOO_LARGE' });
    if (r.ok || r.code !== 'EXCHANGE_TOO_LARGE') throw new Error('unreachable');
    expect(r.maxAmountMinor).toBe(MAX_AMOUNT_MINOR / 10n ** 6n);
    expect(conv(r.maxAmountMinor, USD, BTC, '1')).toMatchObject({ ok: true, grossMinor: (MAX_AMOUNT_MINOR / 10n ** 6n) * 10n ** 6n });
    expect(conv(r.maxAmountMinor + 1n, USD, BTC, '1')).toMatchObject({ ok: false, code: 'EXCHANGE_TOO_LARGE' });
    // The largest rate on the largest amount.
    expect(conv(MAX_AMOUNT_MINOR, JPY, BTC, '999999999999999.999999999999')).toMatchObject({ ok: false, code: 'EXCHANGE_TOO_LARGE' });
  });

  it('min and max amounts are exact boundaries', () => {
    const cases: Array<[number, number, string, number]> = [
      [USD, USD, '0.9215', 50],
      [USD, JPY, '151.37', 100],
      [JPY, USD, '0.0066', 0],
      [JPY, BTC, '0.000000098765', 25],
      [BTC, JPY, '10125000', 9999],
      [USD, BTC, '0.000000000001', 0],
      [BTC, USD, '999999999999999.999999999999', 1],
    ];
    for (const [fromScale, toScale, text, spreadBps] of cases) {
      const base = { fromScale, toScale, rate: rate(text), spreadBps };
      const min = minAmountMinor(base);
      expect(convert({ ...base, amountMinor: min }).ok, `${text} min`).toBe(true);
      if (min > 1n) expect(convert({ ...base, amountMinor: min - 1n }), `${text} below min`).toMatchObject({ ok: false, code: 'EXCHANGE_TOO_SMALL' });
      const max = maxAmountMinor(base);
      if (max <= MAX_AMOUNT_MINOR) {
        expect(convert({ ...base, amountMinor: max }).ok, `${text} max`).toBe(true);
        expect(convert({ ...base, amountMinor: max + 1n }), `${text} above max`).toMatchObject({ ok: false, code: 'EXCHANGE_TOO_LARGE' });
      } else {
        expect(convert({ ...base, amountMinor: MAX_AMOUNT_MINOR }).ok, `${text} at 2^63 − 1`).toBe(true);
      }
    }
  });
});
