// Market journals are hash chains: each entry carries the hash of the one before it, so a
// published history can be re-checked by anyone holding it (`gavel verify-auction`), and an
// entry changed, dropped or reordered afterwards breaks every hash after it.
// Payloads are JSON text; money travels as decimal strings in fields whose names end in
// `Minor` (our rule for bigint minor units), which decodePayload turns back into bigints.
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export interface ChainEntry {
  seq: number;
  atMs: number;
  type: string;
  /** The payload exactly as stored: the hash covers these bytes. */
  payload: string;
  prevHash: string;
  hash: string;
}

/** sha256 over the previous hash and the entry's seq, time, type and payload text. */
export function entryHash(prevHash: string, entry: { seq: number; atMs: number; type: string; payload: string }): string {
  return createHash('sha256').update(`${prevHash}\n${entry.seq}\n${entry.atMs}\n${entry.type}\n${entry.payload}`).digest('hex');
}

export type ChainCheck = { ok: true; entries: number; lastHash: string } | { ok: false; seq: number; reason: string };

/** Checks that entries run 1, 2, 3 … and that every hash links to the one before. */
export function verifyChain(entries: readonly ChainEntry[]): ChainCheck {
  let prevHash = GENESIS_HASH;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.seq !== i + 1) return { ok: false, seq: e.seq, reason: `expected seq ${i + 1}, found ${e.seq}` };
    if (e.prevHash !== prevHash) return { ok: false, seq: e.seq, reason: 'prevHash does not match the hash of the entry before' };
    const expected = entryHash(prevHash, e);
    if (e.hash !== expected) return { ok: false, seq: e.seq, reason: 'hash does not match the entry (it was altered)' };
    prevHash = e.hash;
  }
  return { ok: true, entries: entries.length, lastHash: prevHash };
}

/** JSON with bigints as decimal strings. */
export function encodePayload(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

const INTEGER = /^-?\d+$/;

/** The inverse of encodePayload for our data: `…Minor` fields holding integer strings become bigints. */
export function decodePayload<T>(text: string): T {
  return JSON.parse(text, (key, v: unknown) => (typeof v === 'string' && key.endsWith('Minor') && INTEGER.test(v) ? BigInt(v) : v)) as T;
}
