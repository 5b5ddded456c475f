// HTTP for fixed-price products under /api/products: sellers offer and manage them, anyone
// browses them. Reservations have no route: the purchase saga calls the service.
import { Type, type Static } from '@sinclair/typebox';
import { requirePrincipal } from '../platform/auth/principal.js';
import type { HttpServer } from '../platform/http/server.js';
import { problemResponses, Uuid } from '../platform/http/schemas.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../platform/pagination.js';
import { PRODUCT_DESCRIPTION_MAX_LENGTH, PRODUCT_TITLE_MAX_LENGTH, STOCK_MAX, type StockChange } from './products.js';
import type { ProductDetails, ProductsService } from './products-service.js';

// One line of text: no control characters, no leading or trailing space (as lots' titles).
const LINE_PATTERN = '^[^\\p{Cc}\\s](?:[^\\p{Cc}]*[^\\p{Cc}\\s])?$';
// Free text: line breaks and tabs, but no other control characters.
const TEXT_PATTERN = '^(?:[^\\p{Cc}]|[\\t\\n\\r])*$';

const Title = Type.String({ minLength: 1, maxLength: PRODUCT_TITLE_MAX_LENGTH, pattern: LINE_PATTERN });
const Description = Type.String({ maxLength: PRODUCT_DESCRIPTION_MAX_LENGTH, pattern: TEXT_PATTERN, description: 'plain text; line breaks kept' });
// As the ledger's API: the currency's code, and an amount as a decimal string in major units.
const CurrencyCode = Type.String({ pattern: '^[A-Z][A-Z0-9]{1,11}$', description: 'ISO 4217 code (USD) or ledger asset code', examples: ['USD'] });
const Price = Type.String({
  pattern: '^(0|[1-9][0-9]*)(\\.[0-9]+)?$',
  maxLength: 60,
  description: 'unit price, a decimal string in major units with at most the currency\'s decimals ("12.50" USD, "1500" JPY); greater than zero',
  examples: ['12.50'],
});
const Stock = Type.Integer({ minimum: 0, maximum: STOCK_MAX, description: 'units on the shelf' });

const PathStep = Type.Object({ id: Uuid, name: Type.String(), slug: Type.String() });
const ProductView = Type.Object({
  id: Uuid,
  sellerId: Uuid,
  title: Type.String(),
  description: Type.String(),
  categoryId: Uuid,
  categoryPath: Type.Array(PathStep, { description: 'from the top-level category down to the product\'s own' }),
  price: Type.String({ description: 'unit price in major units of the currency' }),
  currency: Type.String(),
  stock: Type.Integer({ description: 'units on the shelf, reserved ones included' }),
  reserved: Type.Integer({ description: 'units held for purchases in progress' }),
  available: Type.Integer({ description: 'stock − reserved: what a purchase may take now' }),
  archived: Type.Boolean({ description: 'withdrawn by its seller: no longer listed or sold' }),
  archivedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const IdParams = Type.Object({ id: Uuid });
const bearer = [{ bearerAuth: [] }];

function productView({ product: p, price, categoryPath }: ProductDetails): Static<typeof ProductView> {
  return {
    id: p.id,
    sellerId: p.sellerId,
    title: p.title,
    description: p.description,
    categoryId: p.categoryId,
    categoryPath: categoryPath.map((c) => ({ id: c.id, name: c.name, slug: c.slug })),
    price,
    currency: p.currency,
    stock: p.stock,
    reserved: p.reserved,
    available: p.available,
    archived: p.archivedAtMs !== null,
    archivedAt: p.archivedAtMs === null ? null : new Date(p.archivedAtMs).toISOString(),
    createdAt: new Date(p.createdAtMs).toISOString(),
    updatedAt: new Date(p.updatedAtMs).toISOString(),
  };
}

export function productRoutes(app: HttpServer, products: ProductsService, { idempotency }: { idempotency: Idempotency }): void {
  const tags = ['products'];
  const seller = { tags, security: bearer };

  app.post(
    '/api/products',
    {
      schema: {
        ...seller,
        summary: 'Offer a fixed-price product (seller role; Idempotency-Key honoured)',
        body: Type.Object({ title: Title, description: Description, categoryId: Uuid, price: Price, currency: CurrencyCode, stock: Stock }, { additionalProperties: false }),
        response: { 201: ProductView, ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      return idempotency.handle(req, reply, me.userId, async () => {
        const details = await products.createProduct(me, { ...req.body, categoryId: req.body.categoryId.toLowerCase() });
        reply.header('location', `/api/products/${details.product.id}`);
        return { status: 201, body: productView(details) };
      });
    },
  );

  app.get(
    '/api/products',
    {
      schema: {
        tags,
        summary: 'Products on offer, newest first, by cursor (public). Filters: a category and everything below it, a seller, a currency, in stock. archived=true lists your own archived products (sellerId=me)',
        querystring: Type.Object(
          {
            categoryId: Type.Optional(Uuid),
            sellerId: Type.Optional(Type.Union([Type.Literal('me'), Uuid])),
            currency: Type.Optional(CurrencyCode),
            inStock: Type.Optional(Type.Boolean({ description: 'true: only products with units available; false: only those without' })),
            archived: Type.Boolean({ default: false }),
            limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT }),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(ProductView), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const { categoryId, sellerId, currency, inStock, archived, limit, cursor } = req.query;
      const page = await products.listProducts(req.principal, {
        archived,
        limit,
        ...(categoryId !== undefined && { categoryId }),
        ...(sellerId !== undefined && { sellerId }),
        ...(currency !== undefined && { currency }),
        ...(inStock !== undefined && { inStock }),
        ...(cursor !== undefined && { cursor }),
      });
      return { items: page.items.map(productView), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/api/products/:id',
    { schema: { tags, summary: 'One product with its category path and stock (public; archived ones too)', params: IdParams, response: { 200: ProductView, ...problemResponses(400, 404) } } },
    async (req) => productView(await products.productDetails(req.params.id)),
  );

  app.patch(
    '/api/products/:id',
    {
      schema: {
        ...seller,
        summary: "Change a product: only the fields present change; a new currency needs its price too (the product's seller or an admin; not once archived). Stock has its own route",
        params: IdParams,
        body: Type.Object(
          { title: Type.Optional(Title), description: Type.Optional(Description), categoryId: Type.Optional(Uuid), price: Type.Optional(Price), currency: Type.Optional(CurrencyCode) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: ProductView, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const { categoryId, ...rest } = req.body;
      return productView(await products.updateProduct(req.principal, req.params.id, { ...rest, ...(categoryId !== undefined && { categoryId: categoryId.toLowerCase() }) }));
    },
  );

  app.post(
    '/api/products/:id/stock',
    {
      schema: {
        ...seller,
        summary: 'Set the stock ({"set": 40}) or move it ({"add": 5}, {"add": -3}); never below the units reserved (409). Idempotency-Key honoured: send one with "add"',
        params: IdParams,
        body: Type.Object(
          {
            set: Type.Optional(Type.Integer({ minimum: 0, maximum: STOCK_MAX, description: 'the new stock' })),
            add: Type.Optional(Type.Integer({ minimum: -STOCK_MAX, maximum: STOCK_MAX, description: 'units to add (negative: to remove)' })),
          },
          { additionalProperties: false, minProperties: 1, maxProperties: 1, description: 'exactly one of set or add' },
        ),
        response: { 200: ProductView, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const me = requirePrincipal(req.principal);
      const change: StockChange = req.body.set !== undefined ? { set: req.body.set } : { add: req.body.add ?? 0 };
      return idempotency.handle(req, reply, me.userId, async () => ({ status: 200, body: productView(await products.adjustStock(me, req.params.id, change)) }));
    },
  );

  app.post(
    '/api/products/:id/archive',
    {
      schema: {
        ...seller,
        summary: "Withdraw a product: it leaves the list and is never sold again; purchases in progress still complete or are released (the product's seller or an admin; repeating is harmless)",
        params: IdParams,
        response: { 200: ProductView, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (req) => productView(await products.archiveProduct(req.principal, req.params.id)),
  );
}
