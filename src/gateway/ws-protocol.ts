// The WebSocket protocol of /ws: what a client may send, what the server answers, and the
// codes both use. JSON text frames only; docs/realtime.md describes every message.
import secureJson from 'secure-json-parse';
import type { FieldError, Problem, ProblemCode } from '../platform/errors.js';
import { fieldWithNul, nestsDeeperThan } from '../platform/json-checks.js';

// --- client → server ---------------------------------------------------------------------

/** Echoed back on the answer to a message, so a client can match them. */
export type MessageId = string | number;

export type ClientMessage =
  | { type: 'auth'; token: string; id?: MessageId }
  | { type: 'subscribe'; topic: string; fromSeq?: number; id?: MessageId }
  | { type: 'unsubscribe'; topic: string; id?: MessageId }
  | { type: 'ping'; id?: MessageId }
  | { type: 'command'; id: MessageId; name: string; topic?: string; args: unknown };

// --- server → client ---------------------------------------------------------------------

export type ServerMessage =
  | { type: 'hello'; serverTimeMs: number; heartbeatMs: number; messageBytesMax: number }
  | { type: 'authenticated'; userId: string; roles: readonly string[]; id?: MessageId }
  | { type: 'subscribed'; topic: string; seq: number; snapshot?: unknown; id?: MessageId }
  | { type: 'unsubscribed'; topic: string; id?: MessageId }
  | { type: 'event'; topic: string; seq: number; event: unknown }
  | { type: 'push'; event: unknown }
  | { type: 'pong'; serverTimeMs: number; id?: MessageId }
  | { type: 'result'; id: MessageId; ok: true; result: unknown }
  | { type: 'result'; id: MessageId; ok: false; problem: Problem }
  | { type: 'error'; code: ErrorFrameCode; detail: string; id?: MessageId; topic?: string; errors?: FieldError[] };

/**
 * Codes of `error` frames that are about the protocol itself. A refused subscription carries
 * the source's problem code instead (NOT_FOUND, FORBIDDEN, …), so the union is wider.
 */
export const PROTOCOL_ERROR_CODES = [
  'MALFORMED_JSON',
  'VALIDATION',
  'UNKNOWN_TYPE',
  'MESSAGE_TOO_LARGE',
  'INVALID_TOPIC',
  'TOO_MANY_SUBSCRIPTIONS',
  'RATE_LIMITED',
  'INVALID_CREDENTIALS',
  'ALREADY_AUTHENTICATED',
] as const;
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];
export type ErrorFrameCode = ProtocolErrorCode | ProblemCode;

/** Close codes the gateway uses (RFC 6455 §7.4 and the 4000–4999 private range). */
export const CLOSE_CODES = {
  /** The server is shutting down (or restarting): reconnect and resume with fromSeq. */
  GOING_AWAY: 1001,
  /** A binary frame: the protocol is JSON text only. */
  UNSUPPORTED_DATA: 1003,
  /** Too many protocol errors on this socket. */
  POLICY_VIOLATION: 1008,
  /** A frame over the hard payload limit (sent by `ws` itself). */
  MESSAGE_TOO_BIG: 1009,
  /** The gateway holds as many sockets as it may: try another node or later. */
  TRY_AGAIN_LATER: 1013,
  /** The socket fell too far behind its feed: reconnect and resume with fromSeq. */
  TOO_SLOW: 4000,
  /** The session behind the socket's token ended (signed out or expired). */
  SESSION_ENDED: 4001,
} as const;

// --- topics ------------------------------------------------------------------------------

/** `<kind>:<id>`, e.g. `auction:0190…`; ids are UUIDs or instrument symbols like BTC-EUR. */
const TOPIC_PATTERN = /^([a-z][a-z0-9-]{0,31}):([A-Za-z0-9._~-]{1,128})$/;
export const TOPIC_LENGTH_MAX = 161;

export function parseTopic(topic: string): { kind: string; id: string } | undefined {
  const match = TOPIC_PATTERN.exec(topic);
  return match ? { kind: match[1]!, id: match[2]! } : undefined;
}

// --- parsing -----------------------------------------------------------------------------

export type ParseResult =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: ProtocolErrorCode; detail: string; id?: MessageId; errors?: FieldError[] };

/** Nesting deeper than this is refused before parsing, as on the REST edge. */
const JSON_DEPTH_MAX = 64;
const ID_LENGTH_MAX = 64;
const NAME_PATTERN = /^[a-z][a-zA-Z0-9_.-]{0,63}$/;
const TOKEN_LENGTH_MAX = 512;

const FIELDS: Record<ClientMessage['type'], { required: readonly string[]; optional: readonly string[] }> = {
  auth: { required: ['token'], optional: ['id'] },
  subscribe: { required: ['topic'], optional: ['fromSeq', 'id'] },
  unsubscribe: { required: ['topic'], optional: ['id'] },
  ping: { required: [], optional: ['id'] },
  command: { required: ['id', 'name', 'args'], optional: ['topic'] },
};

/** One client text frame → a message, or the error frame that answers it. */
export function parseClientMessage(text: string): ParseResult {
  if (nestsDeeperThan(text, JSON_DEPTH_MAX)) return { ok: false, code: 'VALIDATION', detail: `the message nests arrays and objects deeper than ${JSON_DEPTH_MAX} levels` };
  let value: unknown;
  try {
    value = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    return { ok: false, code: 'MALFORMED_JSON', detail: `the message is not valid JSON: ${(error as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, code: 'VALIDATION', detail: 'a message is a JSON object with a "type"' };
  const fields = value as Record<string, unknown>;
  const id = validId(fields.id) ? fields.id : undefined;
  const fail = (code: ProtocolErrorCode, field: string, message: string): ParseResult => ({
    ok: false,
    code,
    detail: `${field}: ${message}`,
    ...(id !== undefined && { id }),
    ...(code === 'VALIDATION' && { errors: [{ in: 'body', field, message }] }),
  });
  const type = fields.type;
  if (typeof type !== 'string') return fail('VALIDATION', 'type', 'is required and must be a string');
  const shape = FIELDS[type as ClientMessage['type']];
  if (!Object.hasOwn(FIELDS, type) || !shape) return fail('UNKNOWN_TYPE', 'type', `"${type.slice(0, 40)}" is not a message type (auth, subscribe, unsubscribe, ping, command)`);
  for (const key of Object.keys(fields)) {
    if (key !== 'type' && !shape.required.includes(key) && !shape.optional.includes(key)) return fail('VALIDATION', key, 'is not a known field');
  }
  for (const key of shape.required) if (!(key in fields)) return fail('VALIDATION', key, 'is required');
  if ('id' in fields && !validId(fields.id)) return fail('VALIDATION', 'id', `must be a string of 1–${ID_LENGTH_MAX} characters or a non-negative integer`);
  const nulField = fieldWithNul(fields);
  if (nulField !== undefined) return fail('VALIDATION', nulField, 'must not contain the NUL character (U+0000)');
  const fault = fieldFault(fields);
  return fault ? fail('VALIDATION', fault.field, fault.message) : { ok: true, message: fields as ClientMessage };
}

/** The first field of a known message type whose value is wrong, if any. */
function fieldFault(fields: Record<string, unknown>): { field: string; message: string } | undefined {
  if ('token' in fields && (typeof fields.token !== 'string' || fields.token.length === 0 || fields.token.length > TOKEN_LENGTH_MAX)) {
    return { field: 'token', message: `must be a string of 1–${TOKEN_LENGTH_MAX} characters` };
  }
  if ('topic' in fields && (typeof fields.topic !== 'string' || fields.topic.length > TOPIC_LENGTH_MAX)) {
    return { field: 'topic', message: 'must be a string like "auction:<id>"' };
  }
  if ('fromSeq' in fields && !(Number.isSafeInteger(fields.fromSeq) && (fields.fromSeq as number) >= 0)) {
    return { field: 'fromSeq', message: 'must be a non-negative integer: the last seq you received on this topic' };
  }
  if ('name' in fields && (typeof fields.name !== 'string' || !NAME_PATTERN.test(fields.name))) {
    return { field: 'name', message: 'must be a command name like "placeBid"' };
  }
  return undefined;
}

/** The id of a message that is refused before it is parsed in full (too large), if it has one. */
export function messageIdOf(text: string): MessageId | undefined {
  try {
    const value: unknown = secureJson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' });
    const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
    return validId(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

function validId(id: unknown): id is MessageId {
  return (typeof id === 'string' && id.length > 0 && id.length <= ID_LENGTH_MAX) || (Number.isSafeInteger(id) && (id as number) >= 0);
}

