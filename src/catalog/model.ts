// The rules of the catalog: what a category tree may look like, what a lot is, who may
// change it and when, and which image files are accepted. Pure: no storage, no clock.
import assert from 'node:assert/strict';
import { isAdmin, type Principal } from '../platform/auth/principal.js';

// --- categories ---------------------------------------------------------------------------

export interface Category {
  id: string;
  /** null for a top-level category. */
  parentId: string | null;
  name: string;
  /** Lower-case words joined by hyphens; unique among categories with the same parent. */
  slug: string;
  createdAtMs: number;
  updatedAtMs: number;
}

/** A category with where it sits: its ancestors' slugs and its depth (0 at the top). */
export interface PlacedCategory extends Category {
  /** Slugs from the top down to this category, joined by "/": unique in the whole tree. */
  path: string;
  depth: number;
}

export interface CategoryNode extends Category {
  children: CategoryNode[];
}

/** Levels in the tree (a top-level category is level 1): enough for Art › Prints › Japanese › Ukiyo-e › … */
export const CATEGORY_DEPTH_MAX = 8;
/** The whole tree is sent in one answer; this keeps it small enough to. */
export const CATEGORY_COUNT_MAX = 10_000;
export const CATEGORY_NAME_MAX_LENGTH = 80;
export const SLUG_MAX_LENGTH = 80;
export const SLUG_PATTERN = '^[a-z0-9]+(?:-[a-z0-9]+)*$';

/** Latin letters that NFKD leaves whole, written as their usual ASCII spelling. */
const LETTERS_WITHOUT_DECOMPOSITION: Record<string, string> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', đ: 'd', ł: 'l', þ: 'th' };

/**
 * A slug made from a name: accents dropped, lower case, every run of other characters a
 * hyphen. Undefined when nothing is left (a name without Latin letters or digits): the admin
 * then gives the slug.
 */
export function slugify(name: string): string | undefined {
  const slug = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[ßæœøđłþ]/g, (letter) => LETTERS_WITHOUT_DECOMPOSITION[letter] ?? letter)
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, SLUG_MAX_LENGTH)
    .replace(/-+$/, '');
  return slug === '' ? undefined : slug;
}

/** The tree as an index: by id, and children by parent id (null: the top level). */
export class CategoryTree {
  private readonly byId = new Map<string, Category>();
  private readonly childrenOf = new Map<string | null, Category[]>();

  constructor(categories: readonly Category[]) {
    for (const c of categories) this.byId.set(c.id, c);
    for (const c of categories) {
      const siblings = this.childrenOf.get(c.parentId) ?? [];
      siblings.push(c);
      this.childrenOf.set(c.parentId, siblings);
    }
    for (const siblings of this.childrenOf.values()) siblings.sort(byName);
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): Category | undefined {
    return this.byId.get(id);
  }

  children(id: string | null): readonly Category[] {
    return this.childrenOf.get(id) ?? [];
  }

  /** The category and its ancestors, from the top down; empty for an unknown id. */
  ancestry(id: string): Category[] {
    const chain: Category[] = [];
    // Bounded: a tree never nests deeper than the limit, so a longer chain is a loop.
    for (let c = this.byId.get(id); c !== undefined && chain.length <= CATEGORY_DEPTH_MAX; c = c.parentId === null ? undefined : this.byId.get(c.parentId)) {
      chain.unshift(c);
    }
    return chain;
  }

  /** 1 for a top-level category. */
  level(id: string): number {
    return this.ancestry(id).length;
  }

  /** The category's id and every id below it. */
  descendantIds(id: string): string[] {
    if (!this.byId.has(id)) return [];
    const out: string[] = [];
    const pending = [id];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      out.push(next);
      assert(out.length <= this.byId.size, 'the category tree has a loop');
      for (const child of this.children(next)) pending.push(child.id);
    }
    return out;
  }

  /** Levels in the subtree under and including `id` (1 for a leaf). */
  height(id: string, levelsAbove = 0): number {
    assert(levelsAbove <= CATEGORY_DEPTH_MAX, 'the category tree has a loop');
    const below = this.children(id).map((c) => this.height(c.id, levelsAbove + 1));
    return 1 + Math.max(0, ...below);
  }

  placed(id: string): PlacedCategory | undefined {
    const chain = this.ancestry(id);
    const self = chain[chain.length - 1];
    if (self === undefined) return undefined;
    return { ...self, path: chain.map((c) => c.slug).join('/'), depth: chain.length - 1 };
  }

  /** Every category, each parent before its children, siblings by name. */
  flat(): PlacedCategory[] {
    const out: PlacedCategory[] = [];
    const visit = (parentId: string | null, prefix: string, depth: number) => {
      for (const c of this.children(parentId)) {
        const path = prefix === '' ? c.slug : `${prefix}/${c.slug}`;
        out.push({ ...c, path, depth });
        visit(c.id, path, depth + 1);
      }
    };
    visit(null, '', 0);
    return out;
  }

  nested(): CategoryNode[] {
    const build = (parentId: string | null): CategoryNode[] => this.children(parentId).map((c) => ({ ...c, children: build(c.id) }));
    return build(null);
  }

  /** Whether a sibling under `parentId` other than `exceptId` has `slug`. */
  slugTaken(parentId: string | null, slug: string, exceptId?: string): boolean {
    return this.children(parentId).some((c) => c.slug === slug && c.id !== exceptId);
  }
}

function byName(a: Category, b: Category): number {
  return a.name.localeCompare(b.name, 'en') || a.id.localeCompare(b.id);
}

export type PlacementCheck = { ok: true } | { ok: false; code: 'CATEGORY_CYCLE' | 'TOO_DEEP' | 'SLUG_TAKEN' | 'PARENT_NOT_FOUND' };

/**
 * Whether category `id` (undefined: a new one) may sit under `parentId` with `slug`: the
 * parent exists, is not the category or one of its subcategories, the subtree still fits
 * within the depth limit there, and no sibling has the slug.
 */
export function checkPlacement(tree: CategoryTree, input: { id?: string; parentId: string | null; slug: string }): PlacementCheck {
  if (input.parentId !== null && tree.get(input.parentId) === undefined) return { ok: false, code: 'PARENT_NOT_FOUND' };
  if (input.id !== undefined && input.parentId !== null && tree.descendantIds(input.id).includes(input.parentId)) return { ok: false, code: 'CATEGORY_CYCLE' };
  const parentLevel = input.parentId === null ? 0 : tree.level(input.parentId);
  const height = input.id === undefined ? 1 : tree.height(input.id);
  if (parentLevel + height > CATEGORY_DEPTH_MAX) return { ok: false, code: 'TOO_DEEP' };
  if (tree.slugTaken(input.parentId, input.slug, input.id)) return { ok: false, code: 'SLUG_TAKEN' };
  return { ok: true };
}

// --- lots ---------------------------------------------------------------------------------

/** How worn the thing is, from the seller's honest description. Fixed so buyers can filter. */
export const LOT_CONDITIONS = ['new', 'like_new', 'used_good', 'used_fair', 'for_parts'] as const;
export type LotCondition = (typeof LOT_CONDITIONS)[number];

export const CONDITION_MEANINGS: Record<LotCondition, string> = {
  new: 'unused, in its original packaging where it had one',
  like_new: 'used briefly or opened; no visible wear',
  used_good: 'used, with light wear; everything works',
  used_fair: 'used, with visible wear or cosmetic faults; it works',
  for_parts: 'does not work as it should; sold for parts or repair',
};

export const LOT_TITLE_MAX_LENGTH = 140;
export const LOT_DESCRIPTION_MAX_LENGTH = 10_000;

export interface Lot {
  id: string;
  sellerId: string;
  title: string;
  description: string;
  categoryId: string;
  condition: LotCondition;
  /**
   * Who holds the lot (e.g. `auction:<id>`), or null. A held lot is frozen: bidders bid on
   * what they saw, so neither its text nor its images change, and it cannot be deleted.
   */
  lockedBy: string | null;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface LotPatch {
  title?: string;
  description?: string;
  categoryId?: string;
  condition?: LotCondition;
}

/** Sellers list lots; admins may too (house sales, moderation). */
export function mayCreateLots(principal: Principal): boolean {
  return principal.roles.includes('seller') || isAdmin(principal);
}

/** A lot is changed by its seller, or by an admin (moderation). */
export function mayManageLot(principal: Principal, lot: Pick<Lot, 'sellerId'>): boolean {
  return principal.userId === lot.sellerId || isAdmin(principal);
}

export function applyLotPatch(lot: Lot, patch: LotPatch, nowMs: number): Lot {
  return {
    ...lot,
    title: patch.title ?? lot.title,
    description: patch.description ?? lot.description,
    categoryId: patch.categoryId ?? lot.categoryId,
    condition: patch.condition ?? lot.condition,
    updatedAtMs: nowMs,
  };
}

// --- images -------------------------------------------------------------------------------

export const IMAGES_PER_LOT_MAX = 12;

export interface ImageType {
  contentType: 'image/jpeg' | 'image/png' | 'image/webp';
  extension: 'jpg' | 'png' | 'webp';
}

export const IMAGE_TYPES: readonly ImageType[] = [
  { contentType: 'image/jpeg', extension: 'jpg' },
  { contentType: 'image/png', extension: 'png' },
  { contentType: 'image/webp', extension: 'webp' },
];

/** Bytes `sniffImageType` needs to decide. */
export const IMAGE_SNIFF_BYTES = 12;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The image type the file's first bytes declare (its "magic number"), or undefined. The
 * name and the declared content type are the sender's claim; the bytes are what a browser
 * will decode. SVG (it can carry script) and GIF (animations, not photos) are not accepted.
 */
export function sniffImageType(head: Buffer): ImageType | undefined {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return IMAGE_TYPES[0];
  if (head.length >= 8 && head.subarray(0, 8).equals(PNG_SIGNATURE)) return IMAGE_TYPES[1];
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') return IMAGE_TYPES[2];
  return undefined;
}

export function imageTypeOf(contentType: string): ImageType | undefined {
  return IMAGE_TYPES.find((t) => t.contentType === contentType);
}

export interface LotImage {
  id: string;
  lotId: string;
  /** 0-based place in the lot's gallery; the first is the cover. */
  position: number;
  contentType: ImageType['contentType'];
  sizeBytes: number;
  /** Hex SHA-256 of the bytes: the ETag, and a check that the file is the one uploaded. */
  sha256: string;
  createdAtMs: number;
}

/** Where an image is served. Ids never change, so neither does the URL's content. */
export function imageUrl(imageId: string): string {
  return `/api/images/${imageId}`;
}

/** Whether the new order names exactly the lot's images, each once. */
export function isPermutation(current: readonly string[], proposed: readonly string[]): boolean {
  if (current.length !== proposed.length) return false;
  const wanted = new Set(current);
  return new Set(proposed).size === proposed.length && proposed.every((id) => wanted.has(id));
}
