import { describe, expect, it } from 'vitest';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';

/** Cheap parameters so the suite stays fast; the default cost has its own round trip below. */
const FAST = { N: 1024, r: 8, p: 1 };

describe('password hashing', () => {
  it('verifies the password it hashed, at the default cost', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    expect(await verifyPassword('correct horse battery staple', stored)).toBe(true);
  });

  it('rejects a wrong password', async () => {
    const stored = await hashPassword('correct horse battery staple', FAST);
    expect(await verifyPassword('correct horse battery stapler', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('salts each hash, so one password hashes differently twice', async () => {
    const [a, b] = await Promise.all([hashPassword('same password', FAST), hashPassword('same password', FAST)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same password', a)).toBe(true);
    expect(await verifyPassword('same password', b)).toBe(true);
  });

  it('verifies against the cost the stored hash names', async () => {
    const stored = await hashPassword('an older password', { N: 2048, r: 4, p: 1 });
    expect(stored.startsWith('scrypt$2048$4$1$')).toBe(true);
    expect(await verifyPassword('an older password', stored)).toBe(true);
  });

  it('treats NFKC-equivalent passwords as the same password', async () => {
    const pairs: [string, string][] = [
      ['caf\u00e9-au-lait', 'cafe\u0301-au-lait'], // precomposed vs combining accent
      ['\u212bngstr\u00f6m-1234', '\u00c5ngstr\u00f6m-1234'], // Angstrom sign vs A with ring
      ['\ufb01nancial-2024', 'financial-2024'], // ligature vs two letters
      ['\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11\uff12', 'password12'], // full-width
    ];
    for (const [typed, other] of pairs) {
      const stored = await hashPassword(typed, FAST);
      expect(await verifyPassword(other, stored)).toBe(true);
    }
  });

  it('keeps passwords that differ after normalisation apart', async () => {
    const stored = await hashPassword('Password-12', FAST);
    expect(await verifyPassword('password-12', stored)).toBe(false);
  });

  it.each([
    '',
    'plain-text-password',
    'bcrypt$10$abc$def$ghi',
    'scrypt$16384$8$1$salt',
    'scrypt$$8$1$c2FsdA$a2V5',
    'scrypt$abc$8$1$c2FsdA$a2V5',
    'scrypt$1000$8$1$c2FsdA$a2V5',
    'scrypt$16384$0$1$c2FsdA$a2V5',
    'scrypt$16384$8$-1$c2FsdA$a2V5',
    'scrypt$1099511627776$8$1$c2FsdA$a2V5',
    'scrypt$16384$8$1$c2FsdA$a2V5',
  ])('verifies a malformed stored hash %j as false rather than throwing', async (stored) => {
    await expect(verifyPassword('any password', stored)).resolves.toBe(false);
  });

  it('makes one decoy hash and reuses it', async () => {
    const decoy = await decoyHash();
    expect(decoy.startsWith('scrypt$')).toBe(true);
    expect(await decoyHash()).toBe(decoy);
    expect(await verifyPassword('guess-a-password', decoy)).toBe(false);
  });
});
