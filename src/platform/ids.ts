// Identifiers are UUIDv7 (RFC 9562): random enough to be unguessable, and ordered by
// creation time so keyset pagination and index locality come for free.
import { randomFillSync } from 'node:crypto';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(text: string): boolean {
  return UUID_PATTERN.test(text);
}

/** Random bytes drawn 4 KiB at a time: one call into the CSPRNG per ~400 ids instead of one per id. */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function random10(): Buffer {
  if (poolOffset + 10 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += 10;
  return pool.subarray(poolOffset - 10, poolOffset);
}

/** The last millisecond an id was made in, and the 12-bit sequence used in it. */
let last = { ms: -1, sequence: 0 };
const SEQUENCE_MAX = 0xfff;

/**
 * A UUIDv7 for `nowMs`. Ids made in the same millisecond by this process carry an increasing
 * 12-bit sequence (RFC 9562, method 1), so they sort in the order they were made: a capture
 * and its onward transfer appear in a statement in the order they happened.
 */
export function uuidv7(nowMs: number, random?: Buffer): string {
  if (!Number.isInteger(nowMs) || nowMs < 0 || nowMs >= 2 ** 48) throw new RangeError(`uuidv7 needs a 48-bit millisecond time, got ${nowMs}`);
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(nowMs, 0, 6); // 48-bit Unix time in milliseconds
  (random ?? random10()).copy(bytes, 6, 0, 10);
  if (random === undefined) {
    // Start each millisecond at a random sequence in the lower half, leaving room to count up.
    last = nowMs === last.ms && last.sequence < SEQUENCE_MAX ? { ms: nowMs, sequence: last.sequence + 1 } : { ms: nowMs, sequence: bytes.readUInt16BE(6) & 0x7ff };
    bytes.writeUInt16BE(last.sequence, 6);
  }
  bytes[6] = 0x70 | (bytes[6]! & 0x0f); // version 7
  bytes[8] = 0x80 | (bytes[8]! & 0x3f); // RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
