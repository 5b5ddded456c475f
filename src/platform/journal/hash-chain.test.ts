import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, decodePayload, encodePayload, entryHash, verifyChain, type ChainEntry } from './hash-chain.js';

function chain(payloads: unknown[]): ChainEntry[] {
  let prevHash = GENESIS_HASH;
  return payloads.map((p, i) => {
    const entry = { seq: i + 1, atMs: 1_000 + i, type: 'T', payload: encodePayload(p), prevHash };
    const hash = entryHash(prevHash, entry);
    prevHash = hash;
    return { ...entry, hash };
  });
}

describe('journal hash chain', () => {
  it('a chain as written verifies', () => {
    const entries = chain([{ a: 1 }, { amountMinor: 5n }, { text: 'hi' }]);
    expect(verifyChain(entries)).toEqual({ ok: true, entries: 3, lastHash: entries[2]!.hash });
  });

  it('an altered payload, a dropped entry or a swapped pair is found at the first entry it breaks', () => {
    const entries = chain([{ amountMinor: 100n }, { amountMinor: 200n }, { amountMinor: 300n }]);
    const altered = entries.map((e) => (e.seq === 2 ? { ...e, payload: e.payload.replace('200', '199') } : e));
    expect(verifyChain(altered)).toMatchObject({ ok: false, seq: 2 });
    expect(verifyChain([entries[0]!, entries[2]!])).toMatchObject({ ok: false, seq: 3 });
    expect(verifyChain([entries[1]!, entries[0]!, entries[2]!])).toMatchObject({ ok: false, seq: 2 });
    // Rehashing the altered entry alone does not help: the next entry no longer links to it.
    const rehashed = altered.map((e) => (e.seq === 2 ? { ...e, hash: entryHash(e.prevHash, e) } : e));
    expect(verifyChain(rehashed)).toMatchObject({ ok: false, seq: 3 });
  });

  it('payloads keep money exact: Minor fields round-trip as bigints, other strings stay strings', () => {
    const value = { amountMinor: 12_345_678_901_234_567_890n, nested: [{ fromMinor: 0n }], text: '100', chatMinor: 'not a number' };
    expect(decodePayload(encodePayload(value))).toEqual(value);
  });
});
