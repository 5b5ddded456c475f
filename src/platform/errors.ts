// The error model. Domain code fails with a precise code; this file is the one place that
// turns a code into an HTTP status and an RFC 9457 problem document.

export interface FieldError {
  /** Where the field lives: body, query, params or headers. */
  in: 'body' | 'query' | 'params' | 'headers';
  /** The field's name; nested fields are joined with dots (`items.0.quantity`). */
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
}

/** Every code a caller can receive, with its status and a short, stable title. */
export const PROBLEM_CODES = {
  VALIDATION: { status: 400, title: 'The request is not valid' },
  MALFORMED_JSON: { status: 400, title: 'The body is not valid JSON' },
  INVALID_ENCODING: { status: 400, title: 'The body is not valid UTF-8' },
  UNAUTHENTICATED: { status: 401, title: 'Sign-in required' },
  INVALID_CREDENTIALS: { status: 401, title: 'Email or password is wrong' },
  FORBIDDEN: { status: 403, title: 'Not allowed' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  EMAIL_TAKEN: { status: 409, title: 'That email is already registered' },
  BODY_TOO_LARGE: { status: 413, title: 'The body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  RATE_LIMITED: { status: 429, title: 'Too many attempts' },
  // ledger
  UNKNOWN_CURRENCY: { status: 400, title: 'Unknown currency or asset' },
  CURRENCY_MISMATCH: { status: 400, title: 'The accounts are in different currencies' },
  SAME_ACCOUNT: { status: 400, title: 'A transfer needs two different accounts' },
  AMOUNT_INVALID: { status: 400, title: 'The amount is not valid' },
  ACCOUNT_NOT_FOUND: { status: 404, title: 'No such account' },
  HOLD_NOT_FOUND: { status: 404, title: 'No such hold' },
  INSUFFICIENT_FUNDS: { status: 409, title: 'Not enough available funds' },
  ACCOUNT_CLOSED: { status: 409, title: 'The account is closed' },
  HOLD_NOT_PENDING: { status: 409, title: 'The hold is no longer pending' },
  HOLD_EXPIRED: { status: 409, title: 'The hold has expired' },
  CAPTURE_EXCEEDS_HOLD: { status: 409, title: 'The capture is larger than the hold' },
  WALLET_NOT_EMPTY: { status: 409, title: 'The wallet is not empty' },
  ASSET_EXISTS: { status: 409, title: 'The asset exists already' },
  REF_EXISTS_WITH_DIFFERENT_DATA: { status: 422, title: 'That reference was used for a different operation' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'That Idempotency-Key was used with a different request' },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, title: 'A request with that Idempotency-Key is still in progress' },
  RATE_NOT_FOUND: { status: 404, title: 'No exchange rate for that pair' },
  EXCHANGE_TOO_SMALL: { status: 400, title: 'The amount is too small to exchange' },
  EXCHANGE_TOO_LARGE: { status: 400, title: 'The amount is too large to exchange' },
  EXCHANGE_BELOW_MINIMUM: { status: 409, title: 'The exchange would give less than the minimum asked' },
  // payments
  WEBHOOK_SIGNATURE_INVALID: { status: 400, title: 'The webhook signature is missing, malformed or wrong' },
  WEBHOOK_STALE: { status: 400, title: 'The webhook timestamp is too old or too far ahead' },
  WEBHOOK_REPLAYED: { status: 409, title: 'That webhook event was processed already' },
  WEBHOOK_EVENT_REJECTED: { status: 422, title: 'The webhook event does not match a payment' },
  PAYMENT_NOT_PENDING: { status: 409, title: 'The payment is settled already' },
  PAYMENT_PROVIDER_FAILED: { status: 502, title: 'The payment provider did not answer' },
  // catalog
  SLUG_TAKEN: { status: 409, title: 'A category beside it has that slug already' },
  CATEGORY_CYCLE: { status: 409, title: 'A category cannot move under itself or its subcategories' },
  CATEGORY_NOT_EMPTY: { status: 409, title: 'The category still has subcategories or lots' },
  CATEGORY_LIMIT_REACHED: { status: 409, title: 'The category tree has as many categories as it may' },
  LOT_LOCKED: { status: 409, title: 'The lot is in an auction and cannot change' },
  IMAGE_LIMIT_REACHED: { status: 409, title: 'The lot has as many images as it may' },
  IMAGE_TOO_LARGE: { status: 413, title: 'The image is too large' },
  IMAGE_TYPE_UNSUPPORTED: { status: 415, title: 'The file is not a JPEG, PNG or WebP image' },
  PRODUCT_ARCHIVED: { status: 409, title: 'The product is archived and can no longer change' },
  STOCK_BELOW_RESERVED: { status: 409, title: 'The stock cannot fall below the units reserved' },
  RESERVATION_NOT_ACTIVE: { status: 409, title: 'The reservation was released or refused' },
  // auctions
  AUCTION_EXISTS: { status: 409, title: 'The auction exists already' },
  AUCTION_NOT_OPEN: { status: 409, title: 'The auction is not open for bids yet' },
  AUCTION_NOT_DUE: { status: 409, title: 'The auction is not due to open or close yet' },
  AUCTION_CLOSED: { status: 409, title: 'The auction has ended' },
  AUCTION_HAMMERED: { status: 409, title: 'The hammer has fallen on this lot' },
  AUCTION_CANCELLED: { status: 409, title: 'The auction was cancelled' },
  AUCTION_PAUSED: { status: 409, title: 'The auctioneer has paused the sale' },
  WRONG_AUCTION_KIND: { status: 409, title: 'That action does not apply to this kind of auction' },
  NOT_AUCTIONEER: { status: 403, title: 'Only the auctioneer of the sale may do that' },
  OWN_AUCTION: { status: 403, title: 'You cannot bid in an auction you sell or run' },
  REPUTATION_TOO_LOW: { status: 403, title: 'Your reputation is below the minimum to join' },
  NOT_JOINED: { status: 403, title: 'Join the auction before bidding' },
  BID_TOO_LOW: { status: 409, title: 'The bid is below the minimum next bid' },
  ALREADY_LEADING: { status: 409, title: 'You lead already' },
  BUY_NOW_UNAVAILABLE: { status: 409, title: 'Buy-now is not available' },
  FAIR_WARNING_REQUIRED: { status: 409, title: 'Give fair warning before the hammer' },
  CANNOT_CANCEL: { status: 409, title: 'The auction can no longer be cancelled' },
  WATCHLIST_FULL: { status: 409, title: 'Your watchlist holds as many auctions as it may' },
  // exchange
  INSTRUMENT_INVALID: { status: 422, title: 'The instrument cannot be listed with those numbers' },
  INSTRUMENT_EXISTS: { status: 409, title: 'The instrument is listed already' },
  INSTRUMENT_HALTED: { status: 409, title: 'Trading in the instrument is halted' },
  PRICE_REQUIRED: { status: 422, title: 'A limit order needs a price' },
  PRICE_NOT_ALLOWED: { status: 422, title: 'A market order takes no price' },
  PRICE_INVALID: { status: 422, title: 'The price is not valid' },
  PRICE_NOT_ON_TICK: { status: 422, title: 'The price is not a multiple of the tick size' },
  QUANTITY_INVALID: { status: 422, title: 'The quantity is not valid' },
  QUANTITY_NOT_ON_LOT: { status: 422, title: 'The quantity is not a multiple of the lot size' },
  ORDER_TOO_SMALL: { status: 422, title: 'The order is below the minimum quantity' },
  ORDER_TOO_LARGE: { status: 422, title: 'The order is above the maximum quantity' },
  POST_ONLY_NOT_LIMIT: { status: 422, title: 'Post-only applies to limit orders' },
  POST_ONLY_NOT_GTC: { status: 422, title: 'A post-only order is good till cancelled' },
  MARKET_NOT_GTC: { status: 422, title: 'A market order is IOC or FOK' },
  NO_LIQUIDITY: { status: 409, title: 'The other side of the book is empty' },
  POST_ONLY_WOULD_CROSS: { status: 409, title: 'The post-only order would take liquidity' },
  FOK_NOT_FILLABLE: { status: 409, title: 'The fill-or-kill order cannot be filled whole' },
  ORDER_NOT_OPEN: { status: 409, title: 'The order is no longer open' },
  AMEND_NOTHING: { status: 422, title: 'The amendment changes nothing' },
  AMEND_NOT_SMALLER: { status: 422, title: 'An amendment may only lower the quantity' },
  CLIENT_ORDER_ID_REUSED: { status: 409, title: 'That client order id names a different order' },
  BID_ID_REUSED: { status: 409, title: 'That bid id names another bid' },
  // orders
  ORDER_STATE: { status: 409, title: 'The order is not in a state that allows this' },
  DEAD_LETTER_NOT_REDRIVABLE: { status: 409, title: 'The dead letter still cannot be used' },
  // notifications
  WEBHOOK_LIMIT_REACHED: { status: 409, title: 'You have as many webhooks as you may' },
  DELIVERY_NOT_DEAD: { status: 409, title: 'The delivery is not a dead letter' },
  WEBHOOK_ADDRESS_FORBIDDEN: { status: 422, title: 'Webhooks may not go to that address' },
  // bus
  DEAD_LETTER_NOT_PENDING: { status: 409, title: 'The dead letter was redriven or discarded already' },
  DEAD_LETTER_REDRIVE_FAILED: { status: 409, title: 'The consumer failed on the redriven event again' },
  NOT_READY: { status: 503, title: 'Not ready' },
  STORAGE_UNAVAILABLE: { status: 503, title: 'Storage is unavailable' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEM_CODES;

/** A failure the caller can act on. Thrown by services, answered by the HTTP layer. */
export class AppError extends Error {
  readonly code: ProblemCode;
  readonly errors: FieldError[] | undefined;
  /** Extra response headers, e.g. Retry-After for RATE_LIMITED. */
  readonly headers: Record<string, string>;

  constructor(code: ProblemCode, detail: string, options: { errors?: FieldError[]; headers?: Record<string, string> } = {}) {
    super(detail);
    this.name = 'AppError';
    this.code = code;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

export function fieldError(code: ProblemCode, where: FieldError['in'], field: string, message: string): AppError {
  return new AppError(code, `${field}: ${message}`, { errors: [{ in: where, field, message }] });
}

export function problemOf(code: ProblemCode, detail: string, extra: Partial<Problem> = {}): Problem {
  const { status, title } = PROBLEM_CODES[code];
  return { type: `/problems/${code.toLowerCase().replaceAll('_', '-')}`, title, status, detail, code, ...extra };
}
