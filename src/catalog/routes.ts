// HTTP for the catalog: the category tree under /api/categories, lots under /api/lots, lot
// images (multipart upload, served from /api/images/{id} with long-lived caching), and
// fixed-price products under /api/products (products-routes.ts).
import multipart from '@fastify/multipart';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { requireAdmin, requirePrincipal } from '../platform/auth/principal.js';
import { AppError } from '../platform/errors.js';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import { paramsValidator } from '../platform/http/validation.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../platform/pagination.js';
import {
  CATEGORY_NAME_MAX_LENGTH,
  CONDITION_MEANINGS,
  IMAGE_TYPES,
  imageUrl,
  IMAGES_PER_LOT_MAX,
  LOT_CONDITIONS,
  LOT_DESCRIPTION_MAX_LENGTH,
  LOT_TITLE_MAX_LENGTH,
  SLUG_MAX_LENGTH,
  SLUG_PATTERN,
  type Category,
  type LotImage,
  type PlacedCategory,
} from './model.js';
import { productRoutes } from './products-routes.js';
import type { CatalogService, LotDetails } from './service.js';

// One line of text: no control characters, no leading or trailing space.
const LINE_PATTERN = '^[^\\p{Cc}\\s](?:[^\\p{Cc}]*[^\\p{Cc}\\s])?$';
// Free text: line breaks and tabs, but no other control characters.
const TEXT_PATTERN = '^(?:[^\\p{Cc}]|[\\t\\n\\r])*$';

const CategoryName = Type.String({ minLength: 1, maxLength: CATEGORY_NAME_MAX_LENGTH, pattern: LINE_PATTERN });
const Slug = Type.String({ minLength: 1, maxLength: SLUG_MAX_LENGTH, pattern: SLUG_PATTERN, description: 'lower-case letters and digits in words joined by hyphens; unique among siblings', examples: ['film-cameras'] });
const Title = Type.String({ minLength: 1, maxLength: LOT_TITLE_MAX_LENGTH, pattern: LINE_PATTERN });
const Description = Type.String({ maxLength: LOT_DESCRIPTION_MAX_LENGTH, pattern: TEXT_PATTERN, description: 'plain text; line breaks kept' });
const Condition = Type.Union(
  LOT_CONDITIONS.map((c) => Type.Literal(c)),
  { description: LOT_CONDITIONS.map((c) => `${c}: ${CONDITION_MEANINGS[c]}`).join('; ') },
);

const CategoryView = Type.Object({
  id: Uuid,
  parentId: Type.Union([Uuid, Type.Null()]),
  name: Type.String(),
  slug: Type.String(),
  path: Type.String({ description: 'slugs from the top level down, joined by "/"; unique in the tree', examples: ['cameras/film-cameras'] }),
  depth: Type.Integer({ description: '0 for a top-level category' }),
});
type CategoryNodeView = Static<typeof CategoryView> & { children: CategoryNodeView[] };
const CategoryNodeSchema = Type.Recursive(
  (Self) => Type.Object({ ...CategoryView.properties, children: Type.Array(Self) }),
  { $id: 'CatalogCategoryNode' },
);
const PathStep = Type.Object({ id: Uuid, name: Type.String(), slug: Type.String() });
const ImageView = Type.Object({
  id: Uuid,
  url: Type.String({ description: 'where the bytes are served; never changes' }),
  contentType: Type.String(),
  sizeBytes: Type.Integer(),
  position: Type.Integer({ description: '0-based place in the gallery; 0 is the cover' }),
  createdAt: Type.String({ format: 'date-time' }),
});
const LotView = Type.Object({
  id: Uuid,
  sellerId: Uuid,
  title: Type.String(),
  description: Type.String(),
  categoryId: Uuid,
  categoryPath: Type.Array(PathStep, { description: 'from the top-level category down to the lot\'s own' }),
  condition: Type.String(),
  locked: Type.Boolean({ description: 'an auction holds the lot: it can no longer be changed or deleted' }),
  images: Type.Array(ImageView),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const IdParams = Type.Object({ id: Uuid });
const LotImageParams = Type.Object({ id: Uuid, imageId: Uuid });
const ImageParams = Type.Object({ imageId: Uuid });

function placedView(c: PlacedCategory): Static<typeof CategoryView> {
  return { id: c.id, parentId: c.parentId, name: c.name, slug: c.slug, path: c.path, depth: c.depth };
}

function imageView(i: LotImage): Static<typeof ImageView> {
  return { id: i.id, url: imageUrl(i.id), contentType: i.contentType, sizeBytes: i.sizeBytes, position: i.position, createdAt: new Date(i.createdAtMs).toISOString() };
}

function lotView({ lot, categoryPath, images }: LotDetails): Static<typeof LotView> {
  return {
    id: lot.id,
    sellerId: lot.sellerId,
    title: lot.title,
    description: lot.description,
    categoryId: lot.categoryId,
    categoryPath: categoryPath.map((c: Category) => ({ id: c.id, name: c.name, slug: c.slug })),
    condition: lot.condition,
    locked: lot.lockedBy !== null,
    images: images.map(imageView),
    createdAt: new Date(lot.createdAtMs).toISOString(),
    updatedAt: new Date(lot.updatedAtMs).toISOString(),
  };
}

const bearer = [{ bearerAuth: [] }];
/** Ids never change and neither do the bytes behind them. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

export interface CatalogRouteDeps {
  idempotency: Idempotency;
  imageMaxBytes: number;
}

export function catalogRoutes(app: HttpServer, catalog: CatalogService, deps: CatalogRouteDeps): void {
  categoryRoutes(app, catalog, deps);
  lotRoutes(app, catalog, deps);
  imageRoutes(app, catalog);
  imageLimitsRoute(app, deps);
  productRoutes(app, catalog.products, deps);
  // The upload route gets its own scope: the multipart parser is registered there alone, so
  // every other route keeps answering multipart bodies with 415.
  app.register(async (scope) => uploadRoute(scope as unknown as HttpServer, catalog, deps));
}

function categoryRoutes(app: HttpServer, catalog: CatalogService, { idempotency }: CatalogRouteDeps): void {
  const tags = ['categories'];
  const admin = { tags, security: bearer };

  app.get(
    '/api/categories',
    {
      schema: {
        tags,
        summary: 'The whole category tree (nested), or every category in a flat list with its parent and path',
        querystring: Type.Object({ format: Type.Union([Type.Literal('tree'), Type.Literal('flat')], { default: 'tree' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Union([Type.Array(CategoryNodeSchema), Type.Array(CategoryView)]) }), ...problemResponses(400) },
      },
    },
    async (req) => {
      const tree = await catalog.categoryTree();
      if (req.query.format === 'flat') return { items: tree.flat().map(placedView) };
      const nest = (parentId: string | null): CategoryNodeView[] =>
        tree.children(parentId).map((c) => ({ ...placedView(tree.placed(c.id)!), children: nest(c.id) }));
      return { items: nest(null) };
    },
  );

  app.get('/api/categories/:id', { schema: { tags, summary: 'One category with its path', params: IdParams, response: { 200: CategoryView, ...problemResponses(400, 404) } } }, async (req) =>
    placedView(await catalog.getCategory(req.params.id.toLowerCase())),
  );

  app.post(
    '/api/categories',
    {
      schema: {
        ...admin,
        summary: 'Create a category, at the top level or under a parent (admin; Idempotency-Key honoured)',
        body: Type.Object(
          { name: CategoryName, parentId: Type.Optional(Type.Union([Uuid, Type.Null()])), slug: Type.Optional(Slug) },
          { additionalProperties: false, description: 'the slug defaults to one made from the name' },
        ),
        response: { 201: CategoryView, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const me = requireAdmin(req.principal);
      const { name, parentId, slug } = req.body;
      reply.header('cache-control', 'no-store');
      return idempotency.handle(req, reply, me.userId, async () => {
        const created = await catalog.createCategory(me, { name, parentId: parentId?.toLowerCase() ?? null, ...(slug !== undefined && { slug }) });
        reply.header('location', `/api/categories/${created.id}`);
        return { status: 201, body: placedView(created) };
      });
    },
  );

  app.patch(
    '/api/categories/:id',
    {
      schema: {
        ...admin,
        summary: 'Rename a category, change its slug, or move it (parentId; null: to the top level). Moving it under itself or its subcategories is refused (admin)',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(CategoryName), slug: Type.Optional(Slug), parentId: Type.Optional(Type.Union([Uuid, Type.Null()])) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: CategoryView, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const { name, slug, parentId } = req.body;
      const patch = { ...(name !== undefined && { name }), ...(slug !== undefined && { slug }), ...(parentId !== undefined && { parentId: parentId?.toLowerCase() ?? null }) };
      return placedView(await catalog.updateCategory(req.principal, req.params.id.toLowerCase(), patch));
    },
  );

  app.delete(
    '/api/categories/:id',
    { schema: { ...admin, summary: 'Delete a category that has no subcategories and no lots (admin)', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409) } } },
    async (req, reply) => {
      await catalog.deleteCategory(req.principal, req.params.id.toLowerCase());
      return reply.code(204).send(null);
    },
  );
}

function lotRoutes(app: HttpServer, catalog: CatalogService, { idempotency }: CatalogRouteDeps): void {
  const tags = ['lots'];
  const seller = { tags, security: bearer };

  app.post(
    '/api/lots',
    {
      schema: {
        ...seller,
        summary: 'List a lot (seller role; Idempotency-Key honoured). Add images with POST /api/lots/{id}/images',
        body: Type.Object({ title: Title, description: Description, categoryId: Uuid, condition: Condition }, { additionalProperties: false }),
        response: { 201: LotView, ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return idempotency.handle(req, reply, me.userId, async () => {
        const details = await catalog.createLot(me, { ...req.body, categoryId: req.body.categoryId.toLowerCase() });
        reply.header('location', `/api/lots/${details.lot.id}`);
        return { status: 201, body: lotView(details) };
      });
    },
  );

  app.get('/api/lots/:id', { schema: { tags, summary: 'A lot with its category path and images (public)', params: IdParams, response: { 200: LotView, ...problemResponses(400, 404) } } }, async (req) =>
    lotView(await catalog.lotDetails(req.params.id.toLowerCase())),
  );

  app.get(
    '/api/lots',
    {
      schema: {
        ...seller,
        summary: 'Your lots, newest first, by cursor (sellerId=me; an admin may name any seller)',
        querystring: Type.Object(
          {
            sellerId: Type.Union([Type.Literal('me'), Uuid], { default: 'me' }),
            limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(LotView), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problemResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const { sellerId, limit, cursor } = req.query;
      const page = await catalog.listLots(req.principal, { sellerId, limit, ...(cursor !== undefined && { cursor }) });
      return { items: page.items.map(lotView), nextCursor: page.nextCursor };
    },
  );

  app.patch(
    '/api/lots/:id',
    {
      schema: {
        ...seller,
        summary: 'Change a lot: only the fields present change (its seller; refused with 409 once an auction holds it)',
        params: IdParams,
        body: Type.Object(
          { title: Type.Optional(Title), description: Type.Optional(Description), categoryId: Type.Optional(Uuid), condition: Type.Optional(Condition) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: LotView, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const { categoryId, ...rest } = req.body;
      return lotView(await catalog.updateLot(req.principal, req.params.id.toLowerCase(), { ...rest, ...(categoryId !== undefined && { categoryId: categoryId.toLowerCase() }) }));
    },
  );

  app.delete(
    '/api/lots/:id',
    { schema: { ...seller, summary: 'Delete a lot and its images (its seller; refused with 409 once an auction holds it)', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409) } } },
    async (req, reply) => {
      await catalog.deleteLot(req.principal, req.params.id.toLowerCase());
      return reply.code(204).send(null);
    },
  );
}

function imageRoutes(app: HttpServer, catalog: CatalogService): void {
  const tags = ['lot images'];

  app.get(
    '/api/images/:imageId',
    {
      schema: {
        tags,
        summary: 'The bytes of a lot image (public). Cached for a year: an id always names the same bytes. Honours If-None-Match (304)',
        params: ImageParams,
        response: {
          200: { description: 'the image', content: Object.fromEntries(IMAGE_TYPES.map((t) => [t.contentType, { schema: Type.String({ format: 'binary' }) }])) },
          304: { description: 'the copy the client holds is current' },
          ...problemResponses(400, 404),
        },
      },
    },
    async (req, reply) => {
      const image = await catalog.getImage(req.params.imageId.toLowerCase());
      const etag = `"${image.sha256}"`;
      if (etagMatches(req.headers['if-none-match'], etag)) return reply.code(304).header('etag', etag).header('cache-control', IMMUTABLE).send();
      // Opened before any caching header is set: a missing file must not be a 404 cached for a year.
      const stream = await catalog.openImage(image);
      return reply
        .header('etag', etag)
        .header('cache-control', IMMUTABLE)
        .type(image.contentType)
        .header('content-length', String(image.sizeBytes))
        // Served as exactly the type its bytes were checked to be; browsers must not guess.
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .send(stream);
    },
  );

  app.delete(
    '/api/lots/:id/images/:imageId',
    { schema: { tags, security: bearer, summary: "Remove an image from a lot (the lot's seller; not once an auction holds it)", params: LotImageParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409) } } },
    async (req, reply) => {
      await catalog.deleteImage(req.principal, req.params.id.toLowerCase(), req.params.imageId.toLowerCase());
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/api/lots/:id/images/order',
    {
      schema: {
        tags,
        security: bearer,
        summary: "Reorder a lot's images: list every image id once, the cover first (the lot's seller)",
        params: IdParams,
        body: Type.Object({ imageIds: Type.Array(Uuid, { maxItems: IMAGES_PER_LOT_MAX }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(ImageView) }), ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => ({ items: (await catalog.reorderImages(req.principal, req.params.id.toLowerCase(), req.body.imageIds)).map(imageView) }),
  );
}

/** What an upload may carry, so a client can say so before the upload (and check files first). */
function imageLimitsRoute(app: HttpServer, { imageMaxBytes }: CatalogRouteDeps): void {
  app.get(
    '/api/images/limits',
    {
      schema: {
        tags: ['lot images'],
        summary: 'What a lot image upload accepts: the types (judged by content), the largest file in bytes (GAVEL_IMAGE_MAX_BYTES) and the most images per lot (public)',
        response: { 200: Type.Object({ contentTypes: Type.Array(Type.String()), imageMaxBytes: Type.Integer(), imagesPerLotMax: Type.Integer() }) },
      },
    },
    async () => ({ contentTypes: IMAGE_TYPES.map((t) => t.contentType), imageMaxBytes, imagesPerLotMax: IMAGES_PER_LOT_MAX }),
  );
}

/** Whether an If-None-Match header names `etag` (weak comparison, RFC 9110 §13.1.2) or is `*`. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

async function uploadRoute(scope: HttpServer, catalog: CatalogService, { imageMaxBytes }: CatalogRouteDeps): Promise<void> {
  // Only multipart here: a JSON body to the upload route is 415 like any other unknown type.
  scope.removeAllContentTypeParsers();
  await scope.register(multipart, {
    // Every part is taken as a file, named or not, so its bytes are checked like any other.
    isPartAFile: () => true,
    throwFileSizeLimit: false,
    limits: {
      // One byte over the limit is enough to know a file is too large (the reader counts).
      fileSize: imageMaxBytes + 1,
      files: IMAGES_PER_LOT_MAX,
      parts: IMAGES_PER_LOT_MAX + 1,
      fields: 0,
      fieldNameSize: 100,
      headerPairs: 32,
    },
  });

  scope.post(
    '/api/lots/:id/images',
    {
      schema: {
        tags: ['lot images'],
        security: bearer,
        summary: `Add images to a lot: multipart/form-data with one or more file parts named "file" (JPEG, PNG or WebP by content; each at most GAVEL_IMAGE_MAX_BYTES; at most ${IMAGES_PER_LOT_MAX} per lot; all or none). The lot's seller only`,
        consumes: ['multipart/form-data'],
        params: IdParams,
        body: Type.Object({ file: Type.String({ format: 'binary', description: 'repeat the part for several files' }) }),
        response: { 201: Type.Object({ items: Type.Array(ImageView) }), ...problemResponses(400, 401, 403, 404, 409, 413, 415) },
      },
      // The body is a stream read in the handler; only the path is validated up front.
      validatorCompiler: ({ schema, httpPart }) => (httpPart === 'body' ? () => true : paramsValidator(schema)),
    },
    async (req, reply) => {
      try {
        const added = await catalog.addImages(req.principal, req.params.id.toLowerCase(), uploadedFiles(req));
        return reply.code(201).header('location', imageUrl(added[0]!.id)).send({ items: added.map(imageView) });
      } catch (error) {
        discardRestOfBody(req, IMAGES_PER_LOT_MAX * (imageMaxBytes + MULTIPART_OVERHEAD_BYTES));
        throw error;
      }
    },
  );
}

/** Room for a part's boundary and headers. */
const MULTIPART_OVERHEAD_BYTES = 16 * 1024;

/**
 * Reads and drops what is left of a refused upload. A client still sending gets to read the
 * answer and may reuse the connection; closing on unread bytes instead resets the connection,
 * and with it, often, the answer. Past `maxBytes` (more than any upload may be) the connection is cut.
 */
function discardRestOfBody(req: FastifyRequest, maxBytes: number): void {
  const raw = req.raw;
  if (raw.readableEnded || raw.destroyed) return;
  raw.unpipe();
  let discarded = 0;
  raw.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) raw.destroy();
  });
  raw.resume();
}

/** The request's file streams, with the multipart parser's complaints turned into problems. */
async function* uploadedFiles(req: FastifyRequest): AsyncIterable<AsyncIterable<Buffer>> {
  const parts = req.parts();
  for (;;) {
    let next: IteratorResult<Awaited<ReturnType<typeof parts.next>>['value']>;
    try {
      next = await parts.next();
    } catch (error) {
      throw multipartProblem(error);
    }
    if (next.done) return;
    const part = next.value;
    if (part.type !== 'file') throw new AppError('VALIDATION', 'send images as file parts', { errors: [{ in: 'body', field: part.fieldname, message: 'is not a file part' }] });
    if (part.fieldname !== 'file') {
      throw new AppError('VALIDATION', `unknown part "${part.fieldname}": send images as parts named "file"`, { errors: [{ in: 'body', field: part.fieldname, message: 'is not a known field' }] });
    }
    yield readGuarded(part.file);
  }
}

async function* readGuarded(stream: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  try {
    for await (const chunk of stream) yield chunk;
  } catch (error) {
    throw multipartProblem(error);
  }
}

function multipartProblem(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const code = (error as { code?: string }).code;
  if (code === 'FST_FILES_LIMIT') return new AppError('IMAGE_LIMIT_REACHED', `one upload carries at most ${IMAGES_PER_LOT_MAX} images`);
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') return new AppError('VALIDATION', `send at most ${IMAGES_PER_LOT_MAX} parts, each a file named "file"`);
  // Everything else the parser raises is a malformed body (no boundary, a truncated part).
  return new AppError('VALIDATION', `the multipart body is malformed: ${(error as Error).message}`);
}
