// The GraphQL schema of the BFF at /graphql, in SDL. Enum values come from the modules' own
// constants, so a new order status or lot condition reaches the schema without anyone copying
// it; docs/schema.graphql is this schema printed, and a test keeps the two equal.
import type { GraphQLScalarType, GraphQLSchema, ValueNode } from 'graphql';
import { graphqlJs } from './graphql-js.js';
import { USER_ROLES } from '../../platform/auth/principal.js';
import { LOT_CONDITIONS } from '../../catalog/model.js';
import { AUCTION_STATUSES, DISCOVERY_SORTS } from '../../auctions/discovery.js';
import { ORDER_SOURCES, ORDER_STATUSES } from '../../orders/model.js';
import { FAILURE_CODES, PURCHASE_STATUSES, PURCHASE_STEPS, STEP_STATUSES } from '../../orders/purchase-model.js';
import { AmountText } from '../../ledger/routes.js';

const enumOf = (name: string, description: string, values: readonly string[]) => `"${description}"\nenum ${name} {\n${values.map((v) => `  ${v}`).join('\n')}\n}`;

export const SCHEMA_SDL = /* GraphQL */ `
"""
Gavel's GraphQL API for the web client: the same services, rules and authorization as the
REST API under /api. Send "Authorization: Bearer <token>" (POST /api/auth/login gives one).
A failure carries extensions { code, status, errors? }: code is the REST problem code.
"""
schema {
  query: Query
  mutation: Mutation
}

"""
An amount in major units as a decimal string, e.g. "12.50": never a float. Amounts you send
have no sign, no exponent and at most as many decimals as their currency has.
"""
scalar Decimal

"An ISO 8601 date-time, e.g. 2030-01-31T18:00:00.000Z (UTC when Gavel answers)."
scalar DateTime

"An amount with its currency (ISO 4217 code, or an asset code)."
type Money {
  amount: Decimal!
  currency: String!
}

type Query {
  "The signed-in user (UNAUTHENTICATED without a token)."
  me: User
  "The category tree: top-level categories, each with its children."
  categories: [Category!]
  "One category with its place in the tree."
  category(id: ID!): Category
  "A lot with its category path and images (public)."
  lot(id: ID!): Lot
  "Lots of a seller, newest first: yours when sellerId is left out (an admin may name any seller)."
  lots(sellerId: ID, limit: Int = 20, cursor: String): LotPage
  """
  Find auctions, with the filters of GET /api/auctions: words in the title or description (all
  must occur, the last may be the start of a word), a category with its subcategories, status
  (default scheduled and open), kind, start window, and price in a currency (prices need
  currency). Sorted ending_soonest by default (newest when only closed or cancelled are asked for).
  """
  auctions(
    q: String
    category: ID
    status: [AuctionStatus!]
    kind: AuctionKind
    currency: String
    startsAfter: DateTime
    startsBefore: DateTime
    minPrice: Decimal
    maxPrice: Decimal
    sort: AuctionSort
    limit: Int = 20
    cursor: String
  ): AuctionSearchPage
  "An auction's page: the auction, its lot, the live state the room sees, and your own standing."
  auction(id: ID!): AuctionPage
  """
  Fixed-price products on offer, newest first (public), with the filters of GET /api/products:
  a category and everything below it, a seller (an id, or "me"), a currency, in stock or not.
  archived: true lists your own withdrawn products instead (sellerId "me").
  """
  products(category: ID, sellerId: ID, currency: String, inStock: Boolean, archived: Boolean = false, limit: Int = 20, cursor: String): ProductPage
  "One product with its category path and stock (public; archived ones too)."
  product(id: ID!): Product
  "Your open wallets with posted, held and available balances."
  wallets: [Wallet!]
  "Your open wallet in a currency, or null when you have none open."
  wallet(currency: String!): Wallet
  "Your orders, newest first: those you bought, sold, or both."
  orders(role: OrderRole, status: OrderStatus, limit: Int = 20, cursor: String): OrderPage
  "One order: its buyer, its seller or an admin (anyone else: NOT_FOUND)."
  order(id: ID!): Order
  "Your purchases of fixed-price products, newest first."
  purchases(limit: Int = 20, cursor: String): PurchasePage
  "One purchase with each step and the outcome: its buyer or an admin (anyone else: NOT_FOUND)."
  purchase(id: ID!): Purchase
}

type Mutation {
  "Join an auction (your reputation must meet its minimum). Needed before bidding."
  joinAuction(auctionId: ID!): BidderStanding
  """
  Bid in an auction you joined, optionally with a proxy maximum (the engine bids for you by the
  increment up to it). Accepted once journaled and your funds held. idempotencyKey (1-200
  visible ASCII characters) makes a retry answer the first result instead of bidding again.
  """
  placeBid(auctionId: ID!, amount: Decimal!, max: Decimal, currency: String!, idempotencyKey: String): BidReceipt
  "Open your wallet in a currency; created is false when it was open already."
  openWallet(currency: String!): WalletOpening
  "Mark a paid order shipped (its seller), with the carrier and tracking number if known."
  shipOrder(orderId: ID!, carrier: String, trackingNumber: String, idempotencyKey: String): Order
  "Confirm a shipped order arrived and rate the seller 1-5 (its buyer, once); the rating moves the seller's reputation."
  confirmDelivery(orderId: ID!, rating: Int!, comment: String, idempotencyKey: String): Order
  "Cancel an order before it ships (its seller or an admin); a paid order pays the buyer back."
  cancelOrder(orderId: ID!, reason: String!, idempotencyKey: String): Order
  """
  Buy products at their listed price, each product once with how many units, all in one
  currency. The purchase runs as a saga (validate inventory, reserve, charge your wallet,
  create one order per seller; undone step by step on a failure). Answers once it has ended,
  or after a short wait with status running: follow it with purchase(id). idempotencyKey is
  required: a retried purchase must not buy twice.
  """
  buyProducts(items: [PurchaseItemInput!]!, currency: String!, idempotencyKey: String!): Purchase
}

${enumOf('Role', 'What a user may do.', USER_ROLES)}

type User {
  id: ID!
  name: String!
  email: String!
  group: Int!
  roles: [Role!]!
  "0-100."
  reputation: Int!
  createdAt: DateTime!
  updatedAt: DateTime!
}

type Category {
  id: ID!
  parentId: ID
  name: String!
  slug: String!
  "Slugs from the top level down, joined by /; unique in the tree."
  path: String!
  "0 for a top-level category."
  depth: Int!
  children: [Category!]!
}

"A category on the way from the top level down to a lot's own."
type CategoryStep {
  id: ID!
  name: String!
  slug: String!
}

${enumOf('LotCondition', 'The state a lot is in, as its seller describes it.', LOT_CONDITIONS)}

type LotImage {
  id: ID!
  "Where the bytes are served; never changes."
  url: String!
  contentType: String!
  sizeBytes: Int!
  "0-based place in the gallery; 0 is the cover."
  position: Int!
  createdAt: DateTime!
}

type Lot {
  id: ID!
  sellerId: ID!
  title: String!
  description: String!
  categoryId: ID!
  categoryPath: [CategoryStep!]!
  condition: LotCondition!
  "An auction holds the lot: it can no longer be changed or deleted."
  locked: Boolean!
  images: [LotImage!]!
  createdAt: DateTime!
  updatedAt: DateTime!
}

type LotPage {
  items: [Lot!]!
  "Pass back as cursor for the next page; null on the last page."
  nextCursor: String
}

"The lot as an auction page shows it."
type AuctionLot {
  id: ID!
  sellerId: ID!
  title: String!
  description: String!
  categoryId: ID!
  categoryPath: [CategoryStep!]!
  condition: LotCondition!
  "In gallery order; the first is the cover."
  imageUrls: [String!]!
  locked: Boolean!
}

type Product {
  id: ID!
  sellerId: ID!
  title: String!
  description: String!
  categoryId: ID!
  categoryPath: [CategoryStep!]!
  "The unit price."
  price: Money!
  "Units on the shelf, reserved ones included."
  stock: Int!
  "Units held for purchases in progress."
  reserved: Int!
  "stock - reserved: what a purchase may take now."
  available: Int!
  "Withdrawn by its seller: no longer listed or sold."
  archived: Boolean!
  archivedAt: DateTime
  createdAt: DateTime!
  updatedAt: DateTime!
}

type ProductPage {
  items: [Product!]!
  nextCursor: String
}

enum AuctionKind {
  timed
  live
}

${enumOf('AuctionStatus', 'Where an auction is in its life.', AUCTION_STATUSES)}

${enumOf('AuctionSort', 'ending_soonest (auctions without an end last), newest, most_bids.', DISCOVERY_SORTS)}

enum AuctionOutcome {
  sold
  unsold
}

enum ClosedVia {
  timer
  hammer
  buyNow
}

"A live sale's phase, set by the auctioneer."
enum LivePhase {
  asking
  fairWarning
  paused
}

enum BidderSource {
  online
  floor
}

"How a bid ended: leads (it took the lead), raisedMax (the leader raised their own maximum), outbid (the leader's proxy maximum beat it at once)."
enum BidOutcome {
  leads
  raisedMax
  outbid
}

"An auction as listed: what GET /api/auctions and the auction field of GET /api/auctions/{id} show."
type Auction {
  id: ID!
  lotId: ID!
  sellerId: ID!
  kind: AuctionKind!
  currency: String!
  categoryId: ID
  categoryPath: [CategoryStep!]!
  title: String!
  status: AuctionStatus!
  outcome: AuctionOutcome
  startingPrice: Money!
  "The starting price until the first bid."
  currentPrice: Money!
  bidCount: Int!
  participantCount: Int!
  reserveMet: Boolean!
  startsAt: DateTime!
  endsAt: DateTime
  closedAt: DateTime
  settled: Boolean!
  "Once the auction is over: the hash of its journal's last entry."
  journalHash: String
  recordingUrl: String
  createdAt: DateTime!
}

type AuctionSearchPage {
  items: [Auction!]!
  nextCursor: String
  "The server's clock: count down to endsAt from this, not from the browser's clock."
  serverTime: DateTime!
}

"What the room sees: bidders appear only as labels (\\"bidder 3\\", \\"paddle 12\\")."
type LiveAuction {
  seq: Int!
  status: AuctionStatus!
  outcome: AuctionOutcome
  closedVia: ClosedVia
  phase: LivePhase
  startingPrice: Money!
  "The visible price; null until the first bid."
  price: Money
  "While open: the smallest bid accepted (live: the asking price)."
  minimumNextBid: Money
  "The leader's label in the room, never their id."
  leader: String
  leaderSource: BidderSource
  bidCount: Int!
  participantCount: Int!
  hasReserve: Boolean!
  reserveMet: Boolean!
  "Null once buy-now is gone (first bid, close) or when there is none."
  buyNow: Money
  startsAt: DateTime!
  endsAt: DateTime
  "While open with an end: whole milliseconds to it, by the server's clock (Float: it may pass 2^31)."
  timeLeftMs: Float
}

"Your own standing in an auction."
type BidderStanding {
  joined: Boolean!
  "Your number in the room (you are \\"bidder <number>\\")."
  number: Int
  leading: Boolean!
  "Your proxy maximum while you lead."
  maxBid: Money
  "What the auction holds of your funds."
  held: Money!
}

type AuctionPage {
  auction: Auction!
  lot: AuctionLot!
  live: LiveAuction!
  "The next one-tap bid amounts."
  nextBids: [Money!]!
  "Null when not signed in."
  me: BidderStanding
  serverTime: DateTime!
}

type BidReceipt {
  bidId: ID!
  result: BidOutcome
  auction: LiveAuction!
  me: BidderStanding!
}

type Wallet {
  id: ID!
  currency: String!
  kind: String!
  "Posted credits minus posted debits."
  posted: Money!
  "Pending debits (holds)."
  held: Money!
  "Posted minus held."
  available: Money!
  closed: Boolean!
  "The wallet's statement, newest first."
  statement(limit: Int = 20, cursor: String): StatementPage
}

type WalletOpening {
  wallet: Wallet!
  "False when the wallet was open already."
  created: Boolean!
}

enum TransferKind {
  posted
  hold
  capture
  release
  expire
}

enum TransferDirection {
  in
  out
}

enum HoldStatus {
  pending
  captured
  released
  expired
}

type StatementEntry {
  id: ID!
  kind: TransferKind!
  direction: TransferDirection!
  amount: Money!
  "What the money is for: topup:..., auction:..., order:..."
  owner: String!
  holdStatus: HoldStatus
  memo: String!
  createdAt: DateTime!
}

type StatementPage {
  items: [StatementEntry!]!
  nextCursor: String
}

${enumOf('OrderStatus', 'created -> paid -> shipped -> delivered; or cancelled (before shipping) / refunded.', ORDER_STATUSES)}

${enumOf('OrderSource', 'auction: a won auction; purchase: a fixed-price purchase.', ORDER_SOURCES)}

enum OrderRole {
  buyer
  seller
}

enum OrderItemKind {
  lot
  product
}

enum CancelledBy {
  seller
  admin
  system
}

type OrderItem {
  kind: OrderItemKind!
  "The lot or product id."
  refId: ID!
  title: String!
  quantity: Int!
  unitPrice: Money!
  amount: Money!
}

type Shipment {
  shippedAt: DateTime!
  carrier: String
  trackingNumber: String
}

type Delivery {
  deliveredAt: DateTime!
  rating: Int!
  comment: String
}

type Cancellation {
  cancelledAt: DateTime!
  by: CancelledBy!
  reason: String!
}

"Money returned to the buyer: by a refund, or by cancelling a paid order."
type Refund {
  refundedAt: DateTime!
  reason: String!
  "The ledger reference of the transfer that paid the buyer back."
  transferRef: String!
}

type Order {
  id: ID!
  source: OrderSource!
  "The auction (or purchase) id the order comes from."
  sourceRef: String!
  status: OrderStatus!
  buyerId: ID!
  sellerId: ID!
  title: String!
  amount: Money!
  "The ledger reference of the payment."
  paymentRef: String
  items: [OrderItem!]!
  createdAt: DateTime!
  updatedAt: DateTime!
  paidAt: DateTime
  shipment: Shipment
  delivery: Delivery
  cancellation: Cancellation
  refund: Refund
}

type OrderPage {
  items: [Order!]!
  nextCursor: String
}

input PurchaseItemInput {
  productId: ID!
  quantity: Int!
}

${enumOf('PurchaseStatus', 'running -> completed; or compensating -> compensated (nothing taken, nothing held).', PURCHASE_STATUSES)}

${enumOf('PurchaseStepName', 'The steps of a purchase, in order.', PURCHASE_STEPS)}

${enumOf('PurchaseStepStatus', 'pending -> running -> succeeded | failed | timed_out; compensating -> compensated when undone.', STEP_STATUSES)}

${enumOf('PurchaseFailureReason', "Why a purchase was compensated: a participant's refusal, or STEP_TIMEOUT.", FAILURE_CODES)}

type PurchaseItem {
  productId: ID!
  quantity: Int!
  "Null until the products are reserved."
  title: String
  sellerId: ID
  "The price when reserved."
  unitPrice: Money
  amount: Money
}

type StepError {
  code: String!
  detail: String!
}

type PurchaseStep {
  name: PurchaseStepName!
  status: PurchaseStepStatus!
  startedAt: DateTime
  finishedAt: DateTime
  compensatedAt: DateTime
  "Times its command (or, while compensating, its undo) was sent."
  attempts: Int!
  error: StepError
}

type PurchaseFailure {
  step: PurchaseStepName!
  reason: PurchaseFailureReason!
  detail: String!
}

type Purchase {
  id: ID!
  status: PurchaseStatus!
  buyerId: ID!
  currency: String!
  "Null until the products are reserved and priced."
  total: Money
  items: [PurchaseItem!]!
  steps: [PurchaseStep!]!
  "Why the purchase was compensated."
  failure: PurchaseFailure
  "The orders it made, one per seller."
  orderIds: [ID!]!
  createdAt: DateTime!
  updatedAt: DateTime!
  finishedAt: DateTime
}

type PurchasePage {
  items: [Purchase!]!
  nextCursor: String
}
`;

// --- scalars: inputs checked while the query is validated, so a bad one is a 400 ------------

const { buildSchema, Kind, printSchema } = graphqlJs;

const DECIMAL_PATTERN = new RegExp(AmountText.pattern!);
const DECIMAL_MAX_LENGTH = AmountText.maxLength!;
// RFC 3339 date-time with a zone, what the REST API's "format: date-time" accepts.
const DATE_TIME_PATTERN = /^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)$/;
const DATE_TIME_MAX_LENGTH = 40;

function stringScalar(name: string, check: (text: string) => string | undefined): Pick<GraphQLScalarType, 'serialize' | 'parseValue' | 'parseLiteral'> {
  // Plain errors: graphql-js wraps them into "Expected value of type …" with the location.
  const parse = (value: unknown): string => {
    if (typeof value !== 'string') throw new TypeError(`${name} is a string`);
    const fault = check(value);
    if (fault !== undefined) throw new TypeError(`${name} ${fault}`);
    return value;
  };
  return {
    serialize: (value: unknown) => {
      if (typeof value !== 'string') throw new TypeError(`${name} cannot represent ${typeof value}`);
      return value;
    },
    parseValue: parse,
    parseLiteral: (node: ValueNode) => {
      if (node.kind !== Kind.STRING) throw new TypeError(`${name} is written as a string, e.g. ${name === 'Decimal' ? '"12.50"' : '"2030-01-31T18:00:00Z"'}`);
      return parse(node.value);
    },
  };
}

const decimal = stringScalar('Decimal', (text) =>
  text.length > DECIMAL_MAX_LENGTH || !DECIMAL_PATTERN.test(text) ? 'must be a decimal string such as "12.50", without sign or exponent' : undefined,
);
const dateTime = stringScalar('DateTime', (text) =>
  text.length > DATE_TIME_MAX_LENGTH || !DATE_TIME_PATTERN.test(text) || !Number.isFinite(Date.parse(text)) ? 'must be an ISO 8601 date-time with a zone, e.g. 2030-01-31T18:00:00Z' : undefined,
);

/** The executable schema (scalars wired); resolvers are added by mercurius. */
export function buildGatewaySchema(): GraphQLSchema {
  const schema = buildSchema(SCHEMA_SDL);
  Object.assign(schema.getType('Decimal') as GraphQLScalarType, decimal);
  Object.assign(schema.getType('DateTime') as GraphQLScalarType, dateTime);
  return schema;
}

/** The schema as published at GET /graphql/schema.graphql and committed as docs/schema.graphql. */
export function schemaText(): string {
  return `${printSchema(buildSchema(SCHEMA_SDL))}\n`;
}
