// GraphQL at /graphql (mercurius): the web client's BFF over accounts, the catalog (lots and
// products), auctions, wallets, orders and purchases. It is another door to the same
// services: the HTTP edge has already resolved the bearer token into req.principal
// (src/platform/http/server.ts), and every resolver hands that Principal to the same service
// method the REST route calls, so each authorization rule lives once, in the service.
//
// GET and POST work as mercurius has them (GET for queries only). One operation per request
// (no batching), limits checked before anything runs (graphql/limits.ts), GraphiQL at
// /graphiql unless the node runs in production, the schema published at
// /graphql/schema.graphql (and committed as docs/schema.graphql). See docs/graphql.md.
import mercurius from 'mercurius';
import type { AccountsService } from '../accounts/service.js';
import type { AuctionsService } from '../auctions/service.js';
import { AuctionsStore } from '../auctions/store.js';
import type { CatalogService } from '../catalog/service.js';
import type { LedgerService } from '../ledger/service.js';
import type { OrdersService } from '../orders/service.js';
import type { PurchaseSaga } from '../orders/purchase-saga.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/database.js';
import type { HttpServer } from '../platform/http/server.js';
import type { Idempotency } from '../platform/idempotency/idempotency.js';
import { formatGraphqlErrors, RequestRefused } from './graphql/errors.js';
import { QUERY_LIMITS, queryLimitsRule } from './graphql/limits.js';
import { gatewayResolvers, type GraphqlContext } from './graphql/resolvers.js';
import { buildGatewaySchema } from './graphql/schema.js';
import { graphqlJs } from './graphql/graphql-js.js';

const { GraphQLError, parse, printSchema } = graphqlJs;

export const GRAPHQL_PATH = '/graphql';
export const GRAPHQL_SCHEMA_PATH = '/graphql/schema.graphql';

export interface GraphqlOptions {
  database: Database;
  clock: Clock;
  idempotency: Idempotency;
  accounts: AccountsService;
  catalog: CatalogService;
  auctions: AuctionsService;
  ledger: LedgerService;
  orders: OrdersService;
  purchases: PurchaseSaga;
  /** Serve GraphiQL at /graphiql (off in production). */
  graphiql: boolean;
}

/** Adds /graphql, /graphql/schema.graphql and (when asked) /graphiql to the HTTP edge. */
export function registerGraphql(app: HttpServer, options: GraphqlOptions): void {
  const resolvers = gatewayResolvers({
    ...options,
    discovery: { store: new AuctionsStore(options.database), clock: options.clock, catalog: options.catalog, ledger: options.ledger },
  });

  // Its own scope: mercurius' decorators and error handler stay off the REST routes.
  void app.register(async (scope) => {
    scope.addHook('onRoute', describeRoute);
    await scope.register(mercurius, {
      schema: buildGatewaySchema(),
      resolvers: resolvers as unknown as mercurius.IResolvers,
      path: GRAPHQL_PATH,
      graphiql: options.graphiql,
      context: (req): Omit<GraphqlContext, 'reply'> => ({ principal: req.principal, memo: new Map() }),
      validationRules: [queryLimitsRule(QUERY_LIMITS)],
      graphql: { parseOptions: { maxTokens: QUERY_LIMITS.maxTokens } },
      errorFormatter: (execution, context) => formatGraphqlErrors(execution, context),
      allowBatchedQueries: false,
    });
    // mercurius reads a text it cannot parse as a JSON syntax tree instead; Gavel takes only
    // GraphQL text, so such a request is refused as the syntax error it is.
    scope.graphql.addHook('preParsing', async (_schema, source) => {
      try {
        parse(source, { maxTokens: QUERY_LIMITS.maxTokens });
      } catch (error) {
        throw new RequestRefused('the query is not valid GraphQL', [error instanceof GraphQLError ? error : new GraphQLError((error as Error).message)]);
      }
    });
    // The schema mercurius runs, printed: schemaText() prints the same SDL for docs/schema.graphql.
    const published = `${printSchema(scope.graphql.schema)}\n`;
    scope.get(
      GRAPHQL_SCHEMA_PATH,
      { schema: { tags: ['graphql'], summary: 'The GraphQL schema (SDL) served at /graphql; the same text as docs/schema.graphql' } },
      async (_req, reply) => reply.type('text/plain; charset=utf-8').header('cache-control', 'no-cache').send(published),
    );
  });
}

/**
 * mercurius' routes as the OpenAPI document shows them: /graphql with a summary, GraphiQL's
 * files hidden. Its response schema types an error's path as strings; list indexes in it are
 * integers (GraphQL's own rule), so they are let through as such.
 */
function describeRoute(route: { url: string; schema?: Record<string, any> }): void {
  if (route.url.startsWith('/graphiql')) {
    route.schema = { ...route.schema, hide: true };
    return;
  }
  if (route.url !== GRAPHQL_PATH || !route.schema) return;
  const schema = structuredClone(route.schema);
  const path = schema.response?.['2xx']?.properties?.errors?.items?.properties?.path;
  if (path) path.items = { type: ['string', 'integer'] };
  route.schema = { ...schema, tags: ['graphql'], summary: 'GraphQL: queries by GET or POST, mutations by POST (docs/graphql.md; schema at /graphql/schema.graphql)' };
}
