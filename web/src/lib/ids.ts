// Random keys for Idempotency-Key and clientOrderId. crypto.getRandomValues works on plain
// http too (crypto.randomUUID needs a secure context), so a node on a LAN address still works.
export function newKey(prefix = 'web'): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return `${prefix}-${hex}`;
}
