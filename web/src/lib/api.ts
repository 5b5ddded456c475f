// Every REST call of the app: JSON in and out, the bearer token, problem documents (RFC 9457)
// turned into ApiError, and one retry with the same Idempotency-Key when the network failed
// mid-request (safe: the server answers a repeated key with the first result).

export interface FieldProblem {
  in: string;
  field: string;
  message: string;
}

export interface Problem {
  status: number;
  code: string;
  title?: string;
  detail?: string;
  errors?: FieldProblem[];
  [key: string]: unknown;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? problem.code);
    this.name = 'ApiError';
  }
  get code(): string {
    return this.problem.code;
  }
  get status(): number {
    return this.problem.status;
  }
  /** The message for one field (`amount`, `email`), when the server named it. */
  fieldMessage(field: string): string | undefined {
    return this.problem.errors?.find((e) => e.field === field)?.message;
  }
}

/** A message a person can read for any failure. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

type QueryValue = string | number | boolean | null | undefined | readonly string[];

export interface CallOptions {
  body?: unknown;
  query?: Record<string, QueryValue>;
  idempotencyKey?: string;
  signal?: AbortSignal;
  /** A token other than the session's (right after sign-in, before the session holds it). */
  token?: string;
}

let tokenOf: () => string | null = () => null;
let onUnauthorized: () => void = () => {};

/** The session module tells the API client where the token is and what to do when it is refused. */
export function configureApi(options: { token: () => string | null; unauthorized: () => void }): void {
  tokenOf = options.token;
  onUnauthorized = options.unauthorized;
}

/** Listeners for the server's clock, read from responses that carry serverTimeMs. */
const serverTimeListeners = new Set<(serverTimeMs: number, receivedAtMs: number) => void>();
export function onServerTime(listener: (serverTimeMs: number, receivedAtMs: number) => void): () => void {
  serverTimeListeners.add(listener);
  return () => serverTimeListeners.delete(listener);
}

export function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, v);
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

export async function api<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, options: CallOptions = {}): Promise<T> {
  const attempts = options.idempotencyKey || method === 'GET' ? 2 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await once<T>(method, path, options);
    } catch (error) {
      const network = error instanceof ApiError && error.code === 'NETWORK';
      if (!network || attempt >= attempts || options.signal?.aborted) throw error;
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
  }
}

async function once<T>(method: string, path: string, options: CallOptions): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = options.token ?? tokenOf();
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  let res: Response;
  try {
    res = await fetch(path + queryString(options.query), {
      method,
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      signal: options.signal ?? null,
      credentials: 'omit',
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiError({ status: 0, code: 'NETWORK', detail: 'Gavel could not be reached. Check your connection and try again.' });
  }
  const receivedAtMs = Date.now();
  const text = await res.text();
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (!res.ok) {
    const problem: Problem =
      body && typeof body === 'object' && 'code' in body
        ? (body as Problem)
        : { status: res.status, code: res.status === 404 ? 'NOT_FOUND' : 'INTERNAL', detail: `The server answered ${res.status}.` };
    if (res.status === 401 && token) onUnauthorized();
    throw new ApiError(problem);
  }
  if (body && typeof body === 'object' && typeof (body as { serverTimeMs?: unknown }).serverTimeMs === 'number') {
    for (const listener of serverTimeListeners) listener((body as { serverTimeMs: number }).serverTimeMs, receivedAtMs);
  }
  return body as T;
}

/**
 * A multipart upload (lot images): the token and problem documents as in api(), the body a
 * FormData the browser encodes with its boundary. Not retried: an upload has no Idempotency-Key.
 */
export async function apiUpload<T = unknown>(path: string, form: FormData, options: { signal?: AbortSignal } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = tokenOf();
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(path, { method: 'POST', headers, body: form, signal: options.signal ?? null, credentials: 'omit' });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiError({ status: 0, code: 'NETWORK', detail: 'The upload did not reach Gavel. Check your connection and try again.' });
  }
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    if (res.status === 401 && token) onUnauthorized();
    throw new ApiError(body && typeof body === 'object' && 'code' in body ? (body as Problem) : { status: res.status, code: 'INTERNAL', detail: `The server answered ${res.status}.` });
  }
  return body as T;
}
