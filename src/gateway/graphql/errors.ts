// How GraphQL answers failures. A service's AppError becomes a GraphQL error whose extensions
// carry what the REST problem document carries: { code, status, errors? } (status is the HTTP
// status REST would answer; errors lists the fields at fault), plus the request id. A query
// that cannot run (syntax, schema validation, bad variables, over a limit) is VALIDATION and
// the HTTP status is 400; once a query runs, the HTTP status is 200 and each failed field has
// its error beside the data that could be read, as GraphQL over HTTP has it. Anything else is
// our bug: logged, and answered as INTERNAL without its details.
import type { ExecutionResult, GraphQLError as GraphQLErrorType } from 'graphql';
import { graphqlJs } from './graphql-js.js';
import type { FastifyError, FastifyReply } from 'fastify';
import { AppError, PROBLEM_CODES, type FieldError, type ProblemCode } from '../../platform/errors.js';
import { toProblem } from '../../platform/http/server.js';

const { GraphQLError } = graphqlJs;
type GraphQLError = GraphQLErrorType;

/** A request refused before anything ran: its errors are reported one by one. */
export class RequestRefused extends Error {
  readonly statusCode: number;
  constructor(
    message: string,
    readonly errors: readonly Error[],
    statusCode = 400,
  ) {
    super(message);
    this.statusCode = statusCode;
  }
}

export interface GraphqlErrorJson {
  message: string;
  locations?: ReadonlyArray<{ line: number; column: number }>;
  path?: ReadonlyArray<string | number>;
  extensions: { code: ProblemCode; status: number; errors?: FieldError[]; requestId?: string; [key: string]: unknown };
}

interface Described {
  json: GraphqlErrorJson;
  /** The HTTP status when this error stops the whole request. */
  httpStatus: number;
}

interface Flat {
  error: GraphQLError;
  refused: boolean;
  requestStatus: number | undefined;
}

/**
 * Errors that carry a list of errors (mercurius' validation error, RequestRefused) stand for
 * those errors, each one something wrong with the request (a syntax error, a mutation sent with
 * GET, a variable of the wrong type): they are flattened and marked `refused`.
 */
function flatten(errors: readonly GraphQLError[]): Flat[] {
  return errors.flatMap((error): Flat[] => {
    const original = error.originalError as (Error & { errors?: unknown; statusCode?: unknown }) | undefined;
    const requestStatus = typeof original?.statusCode === 'number' && !(original instanceof AppError) ? original.statusCode : undefined;
    if (original && !(original instanceof AppError) && Array.isArray(original.errors) && original.errors.length > 0) {
      return (original.errors as Error[]).map((inner) => ({ error: inner instanceof GraphQLError ? inner : new GraphQLError(inner.message), refused: true, requestStatus }));
    }
    return [{ error, refused: false, requestStatus }];
  });
}

function describe(error: GraphQLError, refused: boolean, requestStatus: number | undefined, reply: FastifyReply): Described {
  const base = { message: error.message, ...(error.locations && { locations: error.locations }), ...(error.path && { path: error.path }) };
  const original = error.originalError;
  if (original instanceof AppError) {
    const status = PROBLEM_CODES[original.code].status;
    return { json: { ...base, extensions: { code: original.code, status, ...(original.errors && { errors: original.errors }) } }, httpStatus: status };
  }
  // Written by graphql-js (syntax, validation, variable values) or by our limits and scalars,
  // before anything ran. (At a field, with a path, such an error is ours: a value the schema
  // cannot represent.)
  if (refused || (error.path === undefined && (original === undefined || original instanceof GraphQLError))) {
    const extra = error.extensions?.limit === undefined ? {} : { limit: error.extensions.limit };
    return { json: { ...base, extensions: { code: 'VALIDATION', status: requestStatus ?? 400, ...extra } }, httpStatus: requestStatus ?? 400 };
  }
  // An error fastify or mercurius raised about the request itself (body too large, method).
  const status = (original as { statusCode?: unknown } | undefined)?.statusCode;
  if (original && error.path === undefined && (requestStatus !== undefined || (typeof status === 'number' && status >= 400 && status < 500))) {
    const problem = toProblem(original as FastifyError, reply.request);
    const httpStatus = requestStatus ?? (status as number);
    return { json: { ...base, message: original.message, extensions: { code: problem.code, status: httpStatus, ...(problem.errors && { errors: problem.errors }) } }, httpStatus };
  }
  reply.request.log.error({ err: original ?? error, path: error.path }, 'GraphQL resolver failed');
  const message = 'something went wrong on our side; the request id identifies it in our logs';
  return { json: { ...base, message, extensions: { code: 'INTERNAL', status: 500 } }, httpStatus: 500 };
}

/** mercurius' errorFormatter: the errors in Gavel's terms, and the HTTP status of the answer. */
export function formatGraphqlErrors(execution: ExecutionResult & { statusCode?: number }, context: { reply?: FastifyReply }): { statusCode: number; response: ExecutionResult } {
  const reply = context.reply!;
  const described = flatten(execution.errors ?? []).map(({ error, refused, requestStatus }) => describe(error, refused, requestStatus, reply));
  for (const d of described) d.json.extensions.requestId = String(reply.request.id);
  // A query that ran answers 200 with its data beside the errors. One that did not run answers
  // the status of its (first) error: 400 for anything invalid, 413/415 for the body.
  const ran = execution.data !== undefined && execution.data !== null;
  const statusCode = ran ? 200 : (execution.statusCode ?? described[0]?.httpStatus ?? 400);
  return {
    statusCode,
    response: { data: execution.data ?? null, errors: described.map((d) => d.json) as unknown as GraphQLError[] },
  };
}
