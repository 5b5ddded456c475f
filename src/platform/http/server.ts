// The HTTP edge every module's routes plug into: strict validation, problem+json errors,
// request ids, one log line per request, metrics, OpenAPI and health endpoints.
import { TextDecoder } from 'node:util';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import secureJson from 'secure-json-parse';
import type { Logger } from '../logging.js';
import { AppError, fieldError, problemOf, type FieldError, type Problem, type ProblemCode } from '../errors.js';
import type { Authenticator, Principal } from '../auth/principal.js';
import type { Clock } from '../clock.js';
import { uuidv7 } from '../ids.js';
import type { Metrics } from '../metrics.js';
import { bodyValidator, paramsValidator } from './validation.js';
import { fieldWithNul, nestsDeeperThan } from '../json-checks.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in caller, or null. Routes check it through the guards in auth/principal. */
    principal: Principal | null;
  }
}

export type HttpServer = FastifyInstance<any, any, any, Logger, TypeBoxTypeProvider>;

export interface HttpServerOptions {
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  bodyLimitBytes: number;
  authenticator: Authenticator | undefined;
  /** Answers /ready: resolves when storage (and later the bus) answers. */
  readiness: () => Promise<void>;
  version: string;
}

const REQUEST_ID_PATTERN = /^[\w.:-]{1,64}$/;
const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';
const utf8 = new TextDecoder('utf-8', { fatal: true });
/** No Gavel body nests deeper; deeper ones are refused before parsing (deep-equality checks recurse). */
export const JSON_DEPTH_MAX = 64;

export async function createHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const app = Fastify({
    loggerInstance: options.logger,
    // One line per request, written in onResponse below, instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : uuidv7(options.clock.nowMs());
    },
    return503OnClosing: true,
    // Requests refused before routing (a malformed URL, an over-long path parameter) are
    // answered as problems too; the onRequest hook does not run for them.
    frameworkErrors: (error, req, reply) => {
      reply.header('x-request-id', req.id);
      return sendProblem(req, reply, toProblem(error, req));
    },
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyValidator(schema) : paramsValidator(schema)));
  installJsonParser(app);
  app.decorateRequest('principal', null);

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    const token = bearerToken(req.headers.authorization);
    if (options.authenticator && token) req.principal = await options.authenticator.authenticate(token, options.clock.nowMs());
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    options.metrics.observeHttp(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
    const level = reply.statusCode >= 500 ? 'error' : 'info';
    req.log[level]({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
  });

  // Responses sent while closing end their connection: server.close() only reaps connections
  // idle at that moment, so a keep-alive one busy then would hold shutdown open for its timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  app.setErrorHandler((error: FastifyError | AppError, req, reply) => {
    if (error instanceof AppError) for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
    return sendProblem(req, reply, toProblem(error, req));
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(req, reply, problemOf('ROUTE_NOT_FOUND', `no route for ${req.method} ${req.url.split('?')[0]}`)),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gavel API',
        version: options.version,
        description: 'Auctions, wallets, purchases and an exchange. Errors are RFC 9457 problem documents.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'token from POST /api/auth/login' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
  registerOperationalRoutes(app, options);
  return app;
}

/** The token of an `Authorization: Bearer …` header (the scheme is case-insensitive, RFC 9110). */
function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

function registerOperationalRoutes(app: HttpServer, options: HttpServerOptions): void {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get(
    '/up',
    { schema: { tags: ['operations'], summary: 'Liveness: the process is running', response: { 200: Type.Object({ status: Type.Literal('up') }) } } },
    async () => ({ status: 'up' as const }),
  );
  app.get(
    '/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: storage answers',
        response: { 200: Type.Object({ status: Type.Literal('ready') }) },
      },
    },
    async () => {
      try {
        await options.readiness();
      } catch (error) {
        throw new AppError('NOT_READY', `storage is not reachable: ${(error as Error).message}`);
      }
      return { status: 'ready' as const };
    },
  );
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics', hide: false } }, async (_req, reply) => {
    reply.type(options.metrics.contentType);
    return options.metrics.render();
  });
}

/**
 * JSON bodies are decoded strictly: invalid UTF-8 is refused rather than silently turned
 * into U+FFFD, and `__proto__` / `constructor.prototype` keys are refused outright.
 * Everything else (text/plain, forms) gets 415 until a module registers a parser for it.
 */
function installJsonParser(app: HttpServer): void {
  app.removeAllContentTypeParsers();
  const parse = (_req: FastifyRequest, body: Buffer, done: (error: Error | null, value?: unknown) => void) => {
    if (body.length === 0) return done(null, undefined);
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      return done(new AppError('INVALID_ENCODING', 'the request body must be UTF-8'), undefined);
    }
    if (nestsDeeperThan(text, JSON_DEPTH_MAX)) {
      return done(new AppError('VALIDATION', `the request body nests arrays and objects deeper than ${JSON_DEPTH_MAX} levels`), undefined);
    }
    let value: unknown;
    try {
      value = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch (error) {
      return done(new AppError('MALFORMED_JSON', `the request body is not valid JSON: ${(error as Error).message}`), undefined);
    }
    // PostgreSQL text cannot hold U+0000: refused here rather than failing in storage.
    const field = fieldWithNul(value);
    if (field !== undefined) return done(fieldError('VALIDATION', 'body', field, 'must not contain the NUL character (U+0000)'), undefined);
    done(null, value);
  };
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => parse(req, body as Buffer, done));
  app.addContentTypeParser(/^application\/[\w.-]+\+json$/, { parseAs: 'buffer' }, (req, body, done) => parse(req, body as Buffer, done));
}


const FASTIFY_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
};

export function toProblem(error: FastifyError | AppError, req: FastifyRequest): Problem {
  if (error instanceof AppError) {
    return problemOf(error.code, error.message, error.errors ? { errors: error.errors } : {});
  }
  if (error.validation) {
    const where = contextOf(error.validationContext);
    const errors = error.validation.map((v) => describeValidationError(where, v));
    return problemOf('VALIDATION', errors.map((e) => `${e.in}.${e.field || '(root)'}: ${e.message}`).join('; '), { errors });
  }
  const known = error.code ? FASTIFY_CODES[error.code] : undefined;
  if (known) return problemOf(known, error.message);
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const code: ProblemCode = status === 404 || status === 405 ? 'ROUTE_NOT_FOUND' : status === 413 ? 'BODY_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'VALIDATION';
    return problemOf(code, error.message);
  }
  req.log.error({ err: error }, 'unhandled error');
  return problemOf('INTERNAL', 'something went wrong on our side; the request id identifies it in our logs');
}

function contextOf(context: string | undefined): FieldError['in'] {
  if (context === 'querystring') return 'query';
  if (context === 'params' || context === 'headers') return context;
  return 'body';
}

interface ValidationItem {
  instancePath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
}

function describeValidationError(where: FieldError['in'], v: ValidationItem): FieldError {
  const path = (v.instancePath ?? '').split('/').filter(Boolean).map(decodePointer);
  const params = v.params ?? {};
  if (v.keyword === 'required' && typeof params.missingProperty === 'string') {
    return { in: where, field: [...path, params.missingProperty].join('.'), message: 'is required' };
  }
  if (v.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return { in: where, field: [...path, params.additionalProperty].join('.'), message: 'is not a known field' };
  }
  return { in: where, field: path.join('.'), message: v.message ?? 'is not valid' };
}

function decodePointer(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}

function sendProblem(req: FastifyRequest, reply: FastifyReply, problem: Problem): FastifyReply {
  const withIds: Problem = { ...problem, instance: req.url.split('?')[0], requestId: req.id };
  if (problem.code === 'RATE_LIMITED' || problem.code === 'NOT_READY') reply.header('cache-control', 'no-store');
  return reply.code(problem.status).type(PROBLEM_TYPE).send(withIds);
}
