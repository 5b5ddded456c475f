import { describe, expect, it } from 'vitest';
import { etagMatches } from './routes.js';
import { CATEGORY_DEPTH_MAX, CategoryTree, checkPlacement, isPermutation, slugify, sniffImageType, type Category } from './model.js';

const category = (id: string, parentId: string | null, name = id): Category => ({ id, parentId, name, slug: name.toLowerCase(), createdAtMs: 0, updatedAtMs: 0 });

describe('slugify', () => {
  it.each([
    ['Cameras & Lenses', 'cameras-lenses'],
    ['  Film   Cameras  ', 'film-cameras'],
    ['Éditions Originales', 'editions-originales'],
    ['Straße', 'strasse'],
    ['Łódź Æbleskiver', 'lodz-aebleskiver'],
    ['1950s Toys', '1950s-toys'],
    ['--Art--', 'art'],
  ])('%j → %j', (name, slug) => {
    expect(slugify(name)).toBe(slug);
  });

  it('gives nothing for a name without Latin letters or digits', () => {
    expect(slugify('古書')).toBeUndefined();
    expect(slugify('!!!')).toBeUndefined();
  });

  it('stays within the slug length and never ends in a hyphen', () => {
    const slug = slugify(`${'a'.repeat(79)} b`)!;
    expect(slug.length).toBeLessThanOrEqual(80);
    expect(slug).not.toMatch(/-$/);
  });
});

describe('the category tree', () => {
  // art ─ prints ─ japanese
  //     └ paintings
  // toys
  const tree = new CategoryTree([category('japanese', 'prints', 'Japanese'), category('art', null, 'Art'), category('prints', 'art', 'Prints'), category('paintings', 'art', 'Paintings'), category('toys', null, 'Toys')]);

  it('lists parents before children, siblings by name, with slug paths and depths', () => {
    expect(tree.flat().map((c) => [c.path, c.depth])).toEqual([
      ['art', 0],
      ['art/paintings', 1],
      ['art/prints', 1],
      ['art/prints/japanese', 2],
      ['toys', 0],
    ]);
    expect(tree.nested().map((n) => [n.id, n.children.map((c) => c.id)])).toEqual([
      ['art', ['paintings', 'prints']],
      ['toys', []],
    ]);
  });

  it('knows descendants, ancestry, level and height', () => {
    expect(new Set(tree.descendantIds('art'))).toEqual(new Set(['art', 'prints', 'japanese', 'paintings']));
    expect(tree.descendantIds('nothing')).toEqual([]);
    expect(tree.ancestry('japanese').map((c) => c.id)).toEqual(['art', 'prints', 'japanese']);
    expect(tree.level('japanese')).toBe(3);
    expect(tree.height('art')).toBe(3);
    expect(tree.height('toys')).toBe(1);
  });

  it('refuses a move under the category itself or anything below it', () => {
    for (const parentId of ['art', 'prints', 'japanese', 'paintings']) {
      expect(checkPlacement(tree, { id: 'art', parentId, slug: 'art' })).toEqual({ ok: false, code: 'CATEGORY_CYCLE' });
    }
    expect(checkPlacement(tree, { id: 'prints', parentId: 'toys', slug: 'prints' })).toEqual({ ok: true });
    expect(checkPlacement(tree, { id: 'japanese', parentId: null, slug: 'japanese' })).toEqual({ ok: true });
  });

  it('refuses an unknown parent and a slug a sibling has, but not the category\'s own', () => {
    expect(checkPlacement(tree, { parentId: 'nothing', slug: 'x' })).toEqual({ ok: false, code: 'PARENT_NOT_FOUND' });
    expect(checkPlacement(tree, { parentId: 'art', slug: 'prints' })).toEqual({ ok: false, code: 'SLUG_TAKEN' });
    expect(checkPlacement(tree, { parentId: null, slug: 'prints' })).toEqual({ ok: true });
    expect(checkPlacement(tree, { id: 'prints', parentId: 'art', slug: 'prints' })).toEqual({ ok: true });
    expect(checkPlacement(tree, { id: 'toys', parentId: 'art', slug: 'prints' })).toEqual({ ok: false, code: 'SLUG_TAKEN' });
  });

  it(`counts the whole moved subtree against the ${CATEGORY_DEPTH_MAX}-level limit`, () => {
    const chain = Array.from({ length: CATEGORY_DEPTH_MAX }, (_, i) => category(`c${i}`, i === 0 ? null : `c${i - 1}`));
    const deep = new CategoryTree([...chain, category('branch', null), category('leaf', 'branch')]);
    expect(checkPlacement(deep, { parentId: `c${CATEGORY_DEPTH_MAX - 1}`, slug: 'new' })).toEqual({ ok: false, code: 'TOO_DEEP' });
    expect(checkPlacement(deep, { parentId: `c${CATEGORY_DEPTH_MAX - 2}`, slug: 'new' })).toEqual({ ok: true });
    expect(checkPlacement(deep, { id: 'branch', parentId: `c${CATEGORY_DEPTH_MAX - 2}`, slug: 'branch' })).toEqual({ ok: false, code: 'TOO_DEEP' });
    expect(checkPlacement(deep, { id: 'branch', parentId: `c${CATEGORY_DEPTH_MAX - 3}`, slug: 'branch' })).toEqual({ ok: true });
  });
});

describe('sniffImageType', () => {
  const bytes = (...b: number[]) => Buffer.from(b);
  it('recognises JPEG, PNG and WebP by their first bytes', () => {
    expect(sniffImageType(bytes(0xff, 0xd8, 0xff, 0xe0))?.contentType).toBe('image/jpeg');
    expect(sniffImageType(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a))?.contentType).toBe('image/png');
    expect(sniffImageType(Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1'))?.contentType).toBe('image/webp');
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['text', Buffer.from('hello, world')],
    ['GIF', Buffer.from('GIF89a', 'latin1')],
    ['SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')],
    ['a RIFF that is a WAV', Buffer.from('RIFF\x10\x00\x00\x00WAVEfmt ', 'latin1')],
    ['a PNG signature cut short', bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a)],
    ['two JPEG bytes', bytes(0xff, 0xd8)],
    ['a PDF', Buffer.from('%PDF-1.7\n')],
  ])('refuses %s', (_what, head) => {
    expect(sniffImageType(head)).toBeUndefined();
  });
});

describe('isPermutation', () => {
  it('is true only for the same ids, each once', () => {
    expect(isPermutation(['a', 'b', 'c'], ['c', 'a', 'b'])).toBe(true);
    expect(isPermutation([], [])).toBe(true);
    expect(isPermutation(['a', 'b'], ['a'])).toBe(false);
    expect(isPermutation(['a', 'b'], ['a', 'a'])).toBe(false);
    expect(isPermutation(['a', 'b'], ['a', 'c'])).toBe(false);
  });
});

describe('etagMatches', () => {
  const etag = '"abc"';
  it.each([
    ['"abc"', true],
    ['W/"abc"', true],
    ['"x", "abc"', true],
    ['*', true],
    ['"abcd"', false],
    ['abc', false],
    ['', false],
  ])('If-None-Match %j → %s', (header, expected) => {
    expect(etagMatches(header, etag)).toBe(expected);
  });
  it('no header never matches', () => expect(etagMatches(undefined, etag)).toBe(false));
});
