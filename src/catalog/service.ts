// Catalog use cases: the category tree (admins), lots (sellers) and their images. Every method
// that acts for someone takes the caller and checks them. Other modules use the methods under
// "for other modules": getLot, lotSummary, descendantIds, categoryPath, lockLot, unlockLot, and
// for fixed-price products (the purchase saga's port, implemented in products-service.ts):
// reserveProducts, releaseReservation, dispatchReservation, productsByIds.
import { AppError, fieldError } from '../platform/errors.js';
import { isAdmin, requireAdmin, requirePrincipal, type Principal } from '../platform/auth/principal.js';
import type { Clock } from '../platform/clock.js';
import { isUuid, uuidv7 } from '../platform/ids.js';
import type { Logger } from '../platform/logging.js';
import { decodeCursor, pageOf, type Page } from '../platform/pagination.js';
import type { ImageFiles, ReceivedFile } from './image-files.js';
import {
  applyLotPatch,
  CATEGORY_COUNT_MAX,
  CATEGORY_DEPTH_MAX,
  CategoryTree,
  checkPlacement,
  imageTypeOf,
  imageUrl,
  IMAGES_PER_LOT_MAX,
  isPermutation,
  mayCreateLots,
  mayManageLot,
  slugify,
  type Category,
  type Lot,
  type LotCondition,
  type LotImage,
  type LotPatch,
  type PlacedCategory,
} from './model.js';
import type { Product, ReserveProductsInput, ReserveProductsResult } from './products.js';
import type { ProductsService } from './products-service.js';
import type { CatalogStore } from './store.js';

export interface NewCategory {
  name: string;
  parentId?: string | null;
  slug?: string;
}

export interface CategoryPatch {
  name?: string;
  slug?: string;
  /** null moves the category to the top level. */
  parentId?: string | null;
}

export interface NewLot {
  title: string;
  description: string;
  categoryId: string;
  condition: LotCondition;
}

/** A lot as its page shows it: the lot, where it is filed, and its images in gallery order. */
export interface LotDetails {
  lot: Lot;
  categoryPath: Category[];
  images: LotImage[];
}

/** What another module (an auction, an order) shows of a lot. */
export interface LotSummary {
  id: string;
  sellerId: string;
  title: string;
  description: string;
  categoryId: string;
  /** From the top-level category down to the lot's own. */
  categoryPath: Array<Pick<Category, 'id' | 'name' | 'slug'>>;
  condition: LotCondition;
  /** In gallery order; the first is the cover. */
  imageUrls: string[];
  locked: boolean;
}

export class CatalogService {
  constructor(
    private readonly store: CatalogStore,
    private readonly files: ImageFiles,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly imageMaxBytes: number,
    /** Fixed-price products and their stock reservations. */
    readonly products: ProductsService,
  ) {}

  // --- categories ---------------------------------------------------------------------------

  async categoryTree(): Promise<CategoryTree> {
    return new CategoryTree(await this.store.categories());
  }

  async getCategory(id: string): Promise<PlacedCategory> {
    const placed = (await this.categoryTree()).placed(id);
    if (!placed) throw new AppError('NOT_FOUND', `no category ${id}`);
    return placed;
  }

  async createCategory(caller: Principal | null, input: NewCategory): Promise<PlacedCategory> {
    requireAdmin(caller);
    const slug = input.slug ?? slugify(input.name);
    if (slug === undefined) throw fieldError('VALIDATION', 'body', 'slug', 'is required when the name has no letters a–z or digits to make one from');
    const parentId = input.parentId ?? null;
    const nowMs = this.clock.nowMs();
    const category: Category = { id: uuidv7(nowMs), parentId, name: input.name, slug, createdAtMs: nowMs, updatedAtMs: nowMs };
    return this.store.transaction(async (tx) => {
      const tree = new CategoryTree(await tx.lockTree());
      if (tree.size >= CATEGORY_COUNT_MAX) throw new AppError('CATEGORY_LIMIT_REACHED', `the tree holds ${CATEGORY_COUNT_MAX} categories, the most it may`);
      placementOrThrow(tree, { parentId, slug });
      if (!(await tx.insertCategory(category)).ok) throw slugTaken(slug);
      return new CategoryTree(await tx.categories()).placed(category.id)!;
    });
  }

  /** Renames and/or moves a category. Its slug stays unless a new one is given: paths are links. */
  async updateCategory(caller: Principal | null, id: string, patch: CategoryPatch): Promise<PlacedCategory> {
    requireAdmin(caller);
    return this.store.transaction(async (tx) => {
      const tree = new CategoryTree(await tx.lockTree());
      const current = tree.get(id);
      if (!current) throw new AppError('NOT_FOUND', `no category ${id}`);
      const next: Category = {
        ...current,
        name: patch.name ?? current.name,
        slug: patch.slug ?? current.slug,
        parentId: patch.parentId === undefined ? current.parentId : patch.parentId,
        updatedAtMs: this.clock.nowMs(),
      };
      placementOrThrow(tree, { id, parentId: next.parentId, slug: next.slug });
      if (!(await tx.updateCategory(next)).ok) throw slugTaken(next.slug);
      return new CategoryTree(await tx.categories()).placed(id)!;
    });
  }

  /** Only a category without subcategories and without lots may go: nothing is left unfiled. */
  async deleteCategory(caller: Principal | null, id: string): Promise<void> {
    requireAdmin(caller);
    await this.store.transaction(async (tx) => {
      const tree = new CategoryTree(await tx.lockTree());
      if (!tree.get(id)) throw new AppError('NOT_FOUND', `no category ${id}`);
      const children = tree.children(id).length;
      if (children > 0) throw new AppError('CATEGORY_NOT_EMPTY', `the category has ${children} subcategor${children === 1 ? 'y' : 'ies'}; move or delete them first`);
      if (await tx.hasLotsIn(id)) throw new AppError('CATEGORY_NOT_EMPTY', 'lots are filed under the category; move them first');
      if (await tx.hasProductsIn(id)) throw new AppError('CATEGORY_NOT_EMPTY', 'products are filed under the category; move them first');
      await tx.deleteCategory(id);
    });
  }

  // --- for other modules: categories --------------------------------------------------------

  /** The category's id and the ids of all its subcategories, for "this category and below" filters. NOT_FOUND when absent. */
  async descendantIds(categoryId: string): Promise<string[]> {
    const ids = await this.store.descendantIds(categoryId);
    if (ids.length === 0) throw new AppError('NOT_FOUND', `no category ${categoryId}`);
    return ids;
  }

  /** The category and its ancestors, from the top level down. NOT_FOUND when absent. */
  async categoryPath(categoryId: string): Promise<Category[]> {
    const path = await this.store.ancestry(categoryId);
    if (path.length === 0) throw new AppError('NOT_FOUND', `no category ${categoryId}`);
    return path;
  }

  // --- lots -----------------------------------------------------------------------------------

  async createLot(caller: Principal | null, input: NewLot): Promise<LotDetails> {
    const me = requirePrincipal(caller);
    if (!mayCreateLots(me)) throw new AppError('FORBIDDEN', 'listing lots needs the seller role (add it to your account with PUT /api/user)');
    const nowMs = this.clock.nowMs();
    const lot: Lot = { id: uuidv7(nowMs), sellerId: me.userId, ...input, lockedBy: null, createdAtMs: nowMs, updatedAtMs: nowMs };
    await this.store.transaction(async (tx) => {
      // Locked, so a concurrent delete of the category cannot leave the lot unfiled.
      if (!(await tx.lockCategory(input.categoryId))) throw categoryNotFound(input.categoryId);
      await tx.insertLot(lot);
    });
    return this.lotDetails(lot.id);
  }

  async lotDetails(lotId: string): Promise<LotDetails> {
    const lot = await this.getLot(lotId);
    const [categoryPath, images] = await Promise.all([this.store.ancestry(lot.categoryId), this.store.imagesOf([lot.id])]);
    return { lot, categoryPath, images };
  }

  /** A seller's lots, newest first: `sellerId` is the caller's own id unless they are an admin. */
  async listLots(caller: Principal | null, query: { sellerId: string; limit: number; cursor?: string }): Promise<Page<LotDetails>> {
    const me = requirePrincipal(caller);
    const sellerId = query.sellerId === 'me' ? me.userId : query.sellerId.toLowerCase();
    if (sellerId !== me.userId && !isAdmin(me)) throw fieldError('FORBIDDEN', 'query', 'sellerId', 'you can list only your own lots (sellerId=me)');
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isUuid);
    const page = pageOf(await this.store.lotsOfSeller(sellerId, beforeId, query.limit + 1), query.limit, (l) => l.id);
    const images = await this.store.imagesOf(page.items.map((l) => l.id));
    const paths = new Map<string, Category[]>();
    for (const categoryId of new Set(page.items.map((l) => l.categoryId))) paths.set(categoryId, await this.store.ancestry(categoryId));
    return {
      items: page.items.map((lot) => ({ lot, categoryPath: paths.get(lot.categoryId) ?? [], images: images.filter((i) => i.lotId === lot.id) })),
      nextCursor: page.nextCursor,
    };
  }

  async updateLot(caller: Principal | null, lotId: string, patch: LotPatch): Promise<LotDetails> {
    const me = requirePrincipal(caller);
    await this.store.transaction(async (tx) => {
      const lot = await this.editableLot(tx, me, lotId);
      if (patch.categoryId !== undefined && patch.categoryId !== lot.categoryId && !(await tx.lockCategory(patch.categoryId))) throw categoryNotFound(patch.categoryId);
      await tx.updateLot(applyLotPatch(lot, patch, this.clock.nowMs()));
    });
    return this.lotDetails(lotId);
  }

  /** Deletes a lot that no auction holds, with its images. */
  async deleteLot(caller: Principal | null, lotId: string): Promise<void> {
    const me = requirePrincipal(caller);
    await this.store.transaction(async (tx) => {
      await this.editableLot(tx, me, lotId);
      await tx.deleteLot(lotId);
    });
    // After the commit: the lot is gone whatever happens to its files; a leftover is only disk space.
    await this.files.removeLot(lotId).catch((error: unknown) => this.logger.warn({ err: error, lotId }, 'could not remove the images of a deleted lot'));
  }

  // --- for other modules: lots ------------------------------------------------------------------

  async getLot(lotId: string): Promise<Lot> {
    const lot = await this.store.findLot(lotId);
    if (!lot) throw new AppError('NOT_FOUND', `no lot ${lotId}`);
    return lot;
  }

  async lotSummary(lotId: string): Promise<LotSummary> {
    const { lot, categoryPath, images } = await this.lotDetails(lotId);
    return {
      id: lot.id,
      sellerId: lot.sellerId,
      title: lot.title,
      description: lot.description,
      categoryId: lot.categoryId,
      categoryPath: categoryPath.map(({ id, name, slug }) => ({ id, name, slug })),
      condition: lot.condition,
      imageUrls: images.map((i) => imageUrl(i.id)),
      locked: lot.lockedBy !== null,
    };
  }

  /**
   * Freezes a lot for `holder` (e.g. `auction:<id>`), called when an auction opens: from then
   * on the seller can neither edit nor delete it, nor change its images. Repeating the call for
   * the same holder is harmless; another holder gets LOT_LOCKED (a lot is in one auction at a time).
   */
  async lockLot(lotId: string, holder: string): Promise<Lot> {
    return this.store.transaction(async (tx) => {
      const lot = await tx.lockLot(lotId);
      if (!lot) throw new AppError('NOT_FOUND', `no lot ${lotId}`);
      if (lot.lockedBy === holder) return lot;
      if (lot.lockedBy !== null) throw new AppError('LOT_LOCKED', `lot ${lotId} is held by ${lot.lockedBy}`);
      const locked = { ...lot, lockedBy: holder, updatedAtMs: this.clock.nowMs() };
      await tx.updateLot(locked);
      return locked;
    });
  }

  /** Releases the lock `holder` took (an auction cancelled before it sold anything). */
  async unlockLot(lotId: string, holder: string): Promise<Lot> {
    return this.store.transaction(async (tx) => {
      const lot = await tx.lockLot(lotId);
      if (!lot) throw new AppError('NOT_FOUND', `no lot ${lotId}`);
      if (lot.lockedBy === null) return lot;
      if (lot.lockedBy !== holder) throw new AppError('LOT_LOCKED', `lot ${lotId} is held by ${lot.lockedBy}, not ${holder}`);
      const unlocked = { ...lot, lockedBy: null, updatedAtMs: this.clock.nowMs() };
      await tx.updateLot(unlocked);
      return unlocked;
    });
  }

  // --- for other modules: products (the purchase saga's port) -------------------------------

  /**
   * Holds units of every item back for a purchase: all or none, in one transaction; available
   * stock never goes negative. Idempotent by `reservationRef` (a refusal included); a ref
   * released first answers PRODUCT_UNAVAILABLE "reservation was cancelled".
   */
  reserveProducts(input: ReserveProductsInput): Promise<ReserveProductsResult> {
    return this.products.reserveProducts(input);
  }

  /** Compensation: gives reserved units back; idempotent; a ref never reserved is recorded as released. */
  releaseReservation(reservationRef: string): Promise<{ released: boolean }> {
    return this.products.releaseReservation(reservationRef);
  }

  /** The reserved units leave stock for good; idempotent; RESERVATION_NOT_ACTIVE after a release. */
  dispatchReservation(reservationRef: string): Promise<{ dispatched: boolean }> {
    return this.products.dispatchReservation(reservationRef);
  }

  /** The products that exist among `ids` (archived included), in the order asked. */
  productsByIds(ids: string[]): Promise<Product[]> {
    return this.products.productsByIds(ids);
  }

  // --- images ---------------------------------------------------------------------------------

  /**
   * Adds the uploaded files to the lot's gallery, after those it has, all or none: each file is
   * checked (type by its bytes, size) as it arrives, and only when every one passed are they
   * moved into place and recorded. Permission, the lock and the count are checked before
   * anything is read, and again when recording.
   */
  async addImages(caller: Principal | null, lotId: string, uploads: AsyncIterable<AsyncIterable<Buffer>>): Promise<LotImage[]> {
    const me = requirePrincipal(caller);
    const lot = await this.getLot(lotId);
    checkEditable(me, lot);
    const existing = (await this.store.imagesOf([lotId])).length;
    if (existing >= IMAGES_PER_LOT_MAX) throw imageLimit(existing);

    const received = await this.receiveAll(uploads, IMAGES_PER_LOT_MAX - existing);
    const nowMs = this.clock.nowMs();
    const placed: string[] = [];
    try {
      const images: LotImage[] = [];
      for (const file of received) {
        const id = uuidv7(nowMs);
        placed.push(await this.files.place(file, lotId, id));
        images.push({ id, lotId, position: 0, contentType: file.type.contentType, sizeBytes: file.sizeBytes, sha256: file.sha256, createdAtMs: nowMs });
      }
      return await this.store.transaction(async (tx) => {
        await this.editableLot(tx, me, lotId);
        const current = await tx.imagesOf([lotId]);
        if (current.length + images.length > IMAGES_PER_LOT_MAX) throw imageLimit(current.length);
        const first = current.reduce((max, i) => Math.max(max, i.position + 1), 0);
        const positioned = images.map((image, n) => ({ ...image, position: first + n }));
        await tx.insertImages(positioned);
        return positioned;
      });
    } catch (error) {
      await Promise.all([...placed, ...received.map((f) => f.tempPath)].map((path) => this.files.discard(path)));
      throw error;
    }
  }

  async deleteImage(caller: Principal | null, lotId: string, imageId: string): Promise<void> {
    const me = requirePrincipal(caller);
    const image = await this.store.transaction(async (tx) => {
      await this.editableLot(tx, me, lotId);
      const image = await tx.findImage(imageId);
      if (!image || image.lotId !== lotId) throw new AppError('NOT_FOUND', `lot ${lotId} has no image ${imageId}`);
      await tx.deleteImage(imageId);
      return image;
    });
    // After the commit: a crash in between leaves an unreferenced file, never a dangling row.
    const path = this.files.pathOf(lotId, imageId, imageTypeOf(image.contentType)!);
    await this.files.discard(path).catch((error: unknown) => this.logger.warn({ err: error, path }, 'could not remove the file of a deleted image'));
  }

  /** Puts the lot's images in the given order; the list names each of them exactly once. */
  async reorderImages(caller: Principal | null, lotId: string, imageIds: string[]): Promise<LotImage[]> {
    const me = requirePrincipal(caller);
    const wanted = imageIds.map((id) => id.toLowerCase());
    return this.store.transaction(async (tx) => {
      await this.editableLot(tx, me, lotId);
      const current = await tx.imagesOf([lotId]);
      if (!isPermutation(current.map((i) => i.id), wanted)) throw fieldError('VALIDATION', 'body', 'imageIds', `must list each of the lot's ${current.length} images exactly once`);
      await tx.setImageOrder(lotId, wanted);
      return (await tx.imagesOf([lotId]));
    });
  }

  /** An image's record (type, size, hash), to answer a conditional request before opening its file. */
  async getImage(imageId: string): Promise<LotImage> {
    const image = await this.store.findImage(imageId);
    if (!image) throw new AppError('NOT_FOUND', `no image ${imageId}`);
    return image;
  }

  /** The image's bytes, for serving. NOT_FOUND when its file has gone from disk. */
  async openImage(image: LotImage): Promise<NodeJS.ReadableStream> {
    const stream = await this.files.openForReading(image.lotId, image.id, imageTypeOf(image.contentType)!);
    if (stream) return stream;
    this.logger.error({ imageId: image.id, lotId: image.lotId }, 'an image is recorded but its file is missing from the data directory');
    throw new AppError('NOT_FOUND', `the file of image ${image.id} is missing`);
  }

  // --- internals ------------------------------------------------------------------------------

  /** Reads every upload to a temporary file; on any refusal, removes those already read. */
  private async receiveAll(uploads: AsyncIterable<AsyncIterable<Buffer>>, room: number): Promise<ReceivedFile[]> {
    const received: ReceivedFile[] = [];
    try {
      for await (const upload of uploads) {
        if (received.length >= room) throw imageLimit(IMAGES_PER_LOT_MAX - room);
        const result = await this.files.receive(upload, this.imageMaxBytes);
        if (!result.ok && result.code === 'IMAGE_TOO_LARGE') throw new AppError('IMAGE_TOO_LARGE', `file ${received.length + 1} is larger than ${this.imageMaxBytes} bytes`);
        if (!result.ok) throw new AppError('IMAGE_TYPE_UNSUPPORTED', `file ${received.length + 1} is not a JPEG, PNG or WebP image (judged by its content, not its name or declared type)`);
        received.push(result.file);
      }
    } catch (error) {
      await Promise.all(received.map((f) => this.files.discard(f.tempPath)));
      throw error;
    }
    if (received.length === 0) throw fieldError('VALIDATION', 'body', 'file', 'send at least one image as a multipart/form-data file part named "file"');
    return received;
  }

  /** The lot, locked in `tx`, if the caller may change it now. */
  private async editableLot(tx: CatalogStore, me: Principal, lotId: string): Promise<Lot> {
    const lot = await tx.lockLot(lotId);
    if (!lot) throw new AppError('NOT_FOUND', `no lot ${lotId}`);
    checkEditable(me, lot);
    return lot;
  }
}

function checkEditable(me: Principal, lot: Lot): void {
  if (!mayManageLot(me, lot)) throw new AppError('FORBIDDEN', 'only the lot\'s seller can change it');
  if (lot.lockedBy !== null) throw new AppError('LOT_LOCKED', 'an auction holds this lot: it can no longer be changed or deleted');
}

function placementOrThrow(tree: CategoryTree, input: { id?: string; parentId: string | null; slug: string }): void {
  const check = checkPlacement(tree, input);
  if (check.ok) return;
  switch (check.code) {
    case 'PARENT_NOT_FOUND':
      throw new AppError('NOT_FOUND', `no category ${input.parentId}`, { errors: [{ in: 'body', field: 'parentId', message: 'no such category' }] });
    case 'CATEGORY_CYCLE':
      throw new AppError('CATEGORY_CYCLE', 'a category cannot move under itself or one of its own subcategories', { errors: [{ in: 'body', field: 'parentId', message: 'is the category itself or below it' }] });
    case 'TOO_DEEP':
      throw fieldError('VALIDATION', 'body', 'parentId', `the tree may be at most ${CATEGORY_DEPTH_MAX} levels deep`);
    case 'SLUG_TAKEN':
      throw slugTaken(input.slug);
  }
}

function slugTaken(slug: string): AppError {
  return new AppError('SLUG_TAKEN', `a category with the same parent has the slug "${slug}"`, { errors: [{ in: 'body', field: 'slug', message: 'is taken by a category with the same parent' }] });
}

function categoryNotFound(id: string): AppError {
  return new AppError('NOT_FOUND', `no category ${id}`, { errors: [{ in: 'body', field: 'categoryId', message: 'no such category' }] });
}

function imageLimit(existing: number): AppError {
  return new AppError('IMAGE_LIMIT_REACHED', `a lot may have ${IMAGES_PER_LOT_MAX} images; this one has ${existing}`);
}
