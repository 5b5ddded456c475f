import { describe, expect, it } from 'vitest';
import {
  REPUTATION,
  applyPatch,
  checkPatchAllowed,
  clampReputation,
  emailKey,
  normalizeRoles,
  type User,
} from './model.js';

const user: User = {
  id: '0190b4c8-0000-7000-8000-000000000001',
  name: 'Ada Lovelace',
  email: 'Ada@Example.org',
  group: 2,
  roles: ['bidder'],
  reputation: REPUTATION.initial,
  createdAtMs: 1_000,
  updatedAtMs: 1_000,
};

describe('checkPatchAllowed', () => {
  it('lets an admin change any field, including group, reputation and privileged roles', () => {
    expect(checkPatchAllowed({ group: 9, reputation: 0, roles: ['admin', 'auctioneer'] }, ['bidder'], true)).toEqual({ ok: true });
    expect(checkPatchAllowed({ roles: [] }, ['admin', 'auctioneer'], true)).toEqual({ ok: true });
  });

  it('lets anyone change their own name and email', () => {
    expect(checkPatchAllowed({ name: 'Ada', email: 'ada@example.org' }, ['bidder'], false)).toEqual({ ok: true });
  });

  it('refuses a non-admin who changes group', () => {
    expect(checkPatchAllowed({ group: 3 }, ['bidder'], false)).toMatchObject({ ok: false, field: 'group' });
  });

  it('refuses a non-admin who changes reputation', () => {
    expect(checkPatchAllowed({ reputation: 100 }, ['bidder'], false)).toMatchObject({ ok: false, field: 'reputation' });
  });

  it('refuses a non-admin who sends group even when it is zero', () => {
    expect(checkPatchAllowed({ group: 0 }, ['bidder'], false)).toMatchObject({ ok: false, field: 'group' });
  });

  it('lets a non-admin add the seller role to themselves', () => {
    expect(checkPatchAllowed({ roles: ['bidder', 'seller'] }, ['bidder'], false)).toEqual({ ok: true });
  });

  it('lets a non-admin remove the bidder and seller roles from themselves', () => {
    expect(checkPatchAllowed({ roles: [] }, ['bidder', 'seller'], false)).toEqual({ ok: true });
  });

  it('lets a non-admin resend the roles they already hold, privileged ones included', () => {
    expect(checkPatchAllowed({ roles: ['auctioneer', 'bidder'] }, ['bidder', 'auctioneer'], false)).toEqual({ ok: true });
  });

  it('refuses a non-admin who grants themselves auctioneer', () => {
    expect(checkPatchAllowed({ roles: ['bidder', 'auctioneer'] }, ['bidder'], false)).toMatchObject({
      ok: false,
      field: 'roles',
      reason: expect.stringContaining('auctioneer'),
    });
  });

  it('refuses a non-admin who grants themselves admin', () => {
    expect(checkPatchAllowed({ roles: ['admin'] }, ['bidder'], false)).toMatchObject({
      ok: false,
      field: 'roles',
      reason: expect.stringContaining('admin'),
    });
  });

  it('refuses a non-admin who removes their own auctioneer role', () => {
    expect(checkPatchAllowed({ roles: ['bidder'] }, ['bidder', 'auctioneer'], false)).toMatchObject({ ok: false, field: 'roles' });
  });
});

describe('applyPatch', () => {
  it('changes only the fields present and stamps updatedAtMs', () => {
    const next = applyPatch(user, { name: 'Ada King' }, 5_000);
    expect(next).toEqual({ ...user, name: 'Ada King', updatedAtMs: 5_000 });
  });

  it('leaves every field but updatedAtMs alone for an empty patch', () => {
    expect(applyPatch(user, {}, 7_000)).toEqual({ ...user, updatedAtMs: 7_000 });
  });

  it('does not modify the user it is given', () => {
    const before = structuredClone(user);
    applyPatch(user, { name: 'x', roles: ['seller'], reputation: 1 }, 9_000);
    expect(user).toEqual(before);
  });

  it('applies a group of zero rather than treating it as absent', () => {
    expect(applyPatch(user, { group: 0 }, 2_000).group).toBe(0);
  });

  it('stores roles in canonical order without repeats', () => {
    expect(applyPatch(user, { roles: ['admin', 'seller', 'bidder', 'seller'] }, 2_000).roles).toEqual(['bidder', 'seller', 'admin']);
  });

  it('clamps reputation to 0..100', () => {
    expect(applyPatch(user, { reputation: 250 }, 2_000).reputation).toBe(100);
    expect(applyPatch(user, { reputation: -4 }, 2_000).reputation).toBe(0);
    expect(applyPatch(user, { reputation: 0 }, 2_000).reputation).toBe(0);
  });

  it('never changes id or createdAtMs', () => {
    const next = applyPatch(user, { name: 'n', email: 'e@x.y', group: 1, roles: ['seller'], reputation: 10 }, 3_000);
    expect(next.id).toBe(user.id);
    expect(next.createdAtMs).toBe(user.createdAtMs);
  });
});

describe('emailKey', () => {
  it('lower-cases and trims so uniqueness ignores case and surrounding space', () => {
    expect(emailKey('  John.Doe@GMail.COM ')).toBe('john.doe@gmail.com');
  });

  it('treats differently cased addresses as the same key', () => {
    expect(emailKey('ADA@example.org')).toBe(emailKey('ada@EXAMPLE.org'));
  });
});

describe('clampReputation', () => {
  it('keeps values inside the range and rounds to a whole number', () => {
    expect(clampReputation(50)).toBe(50);
    expect(clampReputation(72.4)).toBe(72);
    expect(clampReputation(72.5)).toBe(73);
  });

  it('caps at the bounds', () => {
    expect(clampReputation(101)).toBe(REPUTATION.max);
    expect(clampReputation(-1)).toBe(REPUTATION.min);
    expect(clampReputation(Number.POSITIVE_INFINITY)).toBe(100);
    expect(clampReputation(Number.NEGATIVE_INFINITY)).toBe(0);
  });
});

describe('normalizeRoles', () => {
  it('orders roles bidder, seller, auctioneer, admin and drops repeats', () => {
    expect(normalizeRoles(['admin', 'bidder', 'auctioneer', 'seller', 'bidder'])).toEqual(['bidder', 'seller', 'auctioneer', 'admin']);
  });

  it('keeps an empty list empty', () => {
    expect(normalizeRoles([])).toEqual([]);
  });
});
