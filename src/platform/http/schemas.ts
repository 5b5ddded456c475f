// Schemas shared by every module's routes.
import { Type, type TSchema } from '@sinclair/typebox';
import { PROBLEM_CODES } from '../errors.js';

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: `one of ${Object.keys(PROBLEM_CODES).join(', ')}` }),
    instance: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          in: Type.String({ description: 'body, query, params or headers' }),
          field: Type.String(),
          message: Type.String(),
        }),
      ),
    ),
  },
  { description: 'RFC 9457 problem details (application/problem+json)' },
);

/** Adds the problem document (as application/problem+json) for each listed status to a route's responses. */
export function problemResponses(...statuses: number[]): Record<number, { description: string; content: Record<string, { schema: TSchema }> }> {
  const out: Record<number, { description: string; content: Record<string, { schema: TSchema }> }> = {};
  for (const s of statuses) out[s] = { description: 'problem details', content: { 'application/problem+json': { schema: ProblemSchema } } };
  return out;
}

export const Uuid = Type.String({ format: 'uuid', description: 'a UUID', examples: ['01933b6e-7f4a-7c3e-9d2b-5f0a1c2d3e4f'] });
