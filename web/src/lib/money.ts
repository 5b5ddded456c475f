// Money in the browser follows the server's rule: amounts are decimal strings in major units
// beside their currency, and arithmetic happens on bigint minor units. A float never holds one.
import { createStore } from './store.js';
import { api } from './api.js';

export interface Currency {
  code: string;
  scale: number;
  name: string;
  kind: string;
}

export const currencies = createStore<Map<string, Currency>>(new Map());

let loading: Promise<void> | undefined;
/** GET /api/currencies once per page load. */
export function loadCurrencies(): Promise<void> {
  loading ??= api<{ items: Currency[] }>('GET', '/api/currencies')
    .then((r) => currencies.set(new Map(r.items.map((c) => [c.code, c]))))
    .catch(() => {
      loading = undefined;
    });
  return loading;
}

/** The scale of a currency, or of the amount's own decimals when the currency is unknown yet. */
export function scaleOf(currency: string, sample?: string | null): number {
  const known = currencies.get().get(currency)?.scale;
  if (known !== undefined) return known;
  const dot = sample?.indexOf('.') ?? -1;
  return sample && dot >= 0 ? sample.length - dot - 1 : 2;
}

/** "12.50" → 1250n at scale 2; null when the text is not a plain decimal with at most `scale` decimals. */
export function toMinor(text: string, scale: number): bigint | null {
  const t = text.trim();
  const match = /^(\d{1,19})(?:\.(\d+))?$/.exec(t);
  if (!match) return null;
  const fraction = match[2] ?? '';
  if (fraction.length > scale) return null;
  return BigInt(match[1]!) * 10n ** BigInt(scale) + BigInt(fraction.padEnd(scale, '0') || '0');
}

/** 1250n at scale 2 → "12.50". */
export function fromMinor(minor: bigint, scale: number): string {
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  return `${negative ? '-' : ''}${whole}${scale > 0 ? `.${fraction}` : ''}`;
}

/** Compares two decimal strings of one currency. */
export function compareAmounts(a: string, b: string, scale: number): number {
  const x = toMinor(a.replace(/^-/, ''), scale) ?? 0n;
  const y = toMinor(b.replace(/^-/, ''), scale) ?? 0n;
  const sx = a.startsWith('-') ? -x : x;
  const sy = b.startsWith('-') ? -y : y;
  return sx < sy ? -1 : sx > sy ? 1 : 0;
}

const formats = new Map<string, { format: Intl.NumberFormat; suffix: string }>();

function formatFor(currency: string, scale: number): { format: Intl.NumberFormat; suffix: string } {
  const key = `${currency}/${scale}`;
  let entry = formats.get(key);
  if (!entry) {
    try {
      // Intl formats a decimal string exactly (no float in between) in current browsers.
      entry = { format: new Intl.NumberFormat(undefined, { style: 'currency', currency, minimumFractionDigits: scale, maximumFractionDigits: scale }), suffix: '' };
    } catch {
      // Asset codes (ACME, BTC8) are not ISO 4217: the number, then the code.
      entry = { format: new Intl.NumberFormat(undefined, { minimumFractionDigits: scale, maximumFractionDigits: scale }), suffix: ` ${currency}` };
    }
    formats.set(key, entry);
  }
  return entry;
}

/** "1234.50", "USD" → "$1,234.50"; assets: "12 ACME". */
export function formatMoney(amount: string | null | undefined, currency: string): string {
  if (amount === null || amount === undefined) return '—';
  const scale = scaleOf(currency, amount);
  const { format, suffix } = formatFor(currency, scale);
  return format.format(amount as unknown as number) + suffix;
}

/** A number without a currency sign, grouped: "1,234.5" (quantities, prices on the exchange). */
export function formatDecimal(amount: string | null | undefined): string {
  if (amount === null || amount === undefined) return '—';
  const dot = amount.indexOf('.');
  const scale = dot < 0 ? 0 : amount.length - dot - 1;
  let format = decimalFormats.get(scale);
  if (!format) decimalFormats.set(scale, (format = new Intl.NumberFormat(undefined, { minimumFractionDigits: scale, maximumFractionDigits: scale })));
  return format.format(amount as unknown as number);
}

const decimalFormats = new Map<number, Intl.NumberFormat>();
