// The purchase saga's messages on the bus: one Avro schema per command and per reply, each
// named gavel.purchases.<Name> and versioned (all v1 today), each on its own topic. A producer
// writes the newest version; a consumer reads with the newest version it knows, so adding a
// field with a default later (v2) needs no flag day. docs/purchases.md lists them.
//
// Amounts are Avro longs (bigint minor units); the currency travels beside them.
import type { Schema } from 'avsc';
import { AvroDecodeError, SchemaRegistry } from '../platform/bus/avro.js';
import type { NewEvent, OutboxEvent } from '../platform/outbox/outbox.js';
import type { SagaCommand, SagaCommandName, SagaReply, SagaReplyName } from './purchase-model.js';

export const SCHEMA_NAMESPACE = 'gavel.purchases';

const str = (name: string) => ({ name, type: 'string' });
const long = (name: string) => ({ name, type: 'long' });
const int = (name: string) => ({ name, type: 'int' });
const strings = (name: string) => ({ name, type: { type: 'array', items: 'string' } });
// Nested records are named per message (a name is defined once per schema).
const items = (owner: string) => ({ name: 'items', type: { type: 'array', items: { type: 'record', name: `${owner}Item`, fields: [str('productId'), int('quantity')] } } });
const lines = (owner: string) => ({
  name: 'lines',
  type: { type: 'array', items: { type: 'record', name: `${owner}Line`, fields: [str('productId'), str('sellerId'), str('title'), long('unitPriceMinor'), int('quantity')] } },
});
const refusal = [str('code'), str('productId'), str('detail')];

/** Fields after purchaseId, per message, version 1. */
const V1_FIELDS: Record<SagaCommandName | SagaReplyName, object[]> = {
  // commands
  ValidateInventory: [str('buyerId'), str('currency'), items('ValidateInventory')],
  ReserveProducts: [str('reservationRef'), str('buyerId'), str('currency'), items('ReserveProducts')],
  ChargeWallet: [
    str('buyerId'),
    str('currency'),
    { name: 'charges', type: { type: 'array', items: { type: 'record', name: 'ChargeWalletCharge', fields: [str('sellerId'), long('amountMinor'), str('holdRef')] } } },
  ],
  CreateOrder: [str('buyerId'), str('currency'), str('reservationRef'), lines('CreateOrder')],
  ReleaseStock: [str('reservationRef')],
  ReleaseFunds: [str('buyerId'), str('currency'), strings('holdRefs')],
  AbortCreateOrder: [],
  // replies
  InventoryValidated: [],
  InventoryRejected: refusal,
  ProductsReserved: [lines('ProductsReserved')],
  ReservationRefused: refusal,
  FundsHeld: [strings('holdRefs')],
  ChargeRefused: [str('code'), str('detail')],
  OrdersCreated: [strings('orderIds')],
  CreateOrderRefused: [str('detail')],
  StockReleased: [{ name: 'released', type: 'boolean' }],
  FundsReleased: [long('releasedMinor')],
  CreateOrderAborted: [],
};

const snake = (name: string) => name.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? '' : '_') + c.toLowerCase());

export const COMMAND_NAMES: readonly SagaCommandName[] = ['ValidateInventory', 'ReserveProducts', 'ChargeWallet', 'CreateOrder', 'ReleaseStock', 'ReleaseFunds', 'AbortCreateOrder'];
export const REPLY_NAMES: readonly SagaReplyName[] = [
  'InventoryValidated',
  'InventoryRejected',
  'ProductsReserved',
  'ReservationRefused',
  'FundsHeld',
  'ChargeRefused',
  'OrdersCreated',
  'CreateOrderRefused',
  'StockReleased',
  'FundsReleased',
  'CreateOrderAborted',
];

/** `purchases.command.reserve_products`, `purchases.reply.funds_held` … */
export const topicOf = (name: SagaCommandName | SagaReplyName): string => `purchases.${(COMMAND_NAMES as readonly string[]).includes(name) ? 'command' : 'reply'}.${snake(name)}`;
export const schemaOf = (name: SagaCommandName | SagaReplyName): string => `${SCHEMA_NAMESPACE}.${name}`;

/** The registry every producer and consumer of the saga shares. */
export function purchaseSchemas(): SchemaRegistry {
  const registry = new SchemaRegistry();
  for (const [name, fields] of Object.entries(V1_FIELDS)) {
    registry.register(schemaOf(name as SagaCommandName), 1, { type: 'record', name, namespace: SCHEMA_NAMESPACE, fields: [str('purchaseId'), ...fields] } as Schema);
  }
  return registry;
}

const NAME_BY_TOPIC = new Map<string, SagaCommandName | SagaReplyName>([...COMMAND_NAMES, ...REPLY_NAMES].map((n) => [topicOf(n), n]));

/** The outbox event carrying a command or reply, keyed by its purchase. */
export function messageEvent(registry: SchemaRegistry, message: SagaCommand | SagaReply): NewEvent {
  const { name, ...value } = message;
  return registry.event(topicOf(name), message.purchaseId, schemaOf(name), registry.latest(schemaOf(name)), value);
}

/** Reads a command or reply off the bus; AvroDecodeError when it cannot (the caller dead-letters it). */
export function decodeMessage<M extends SagaCommand | SagaReply>(registry: SchemaRegistry, event: Pick<OutboxEvent, 'topic' | 'payload'>): M {
  const name = NAME_BY_TOPIC.get(event.topic);
  if (name === undefined) throw new AvroDecodeError(`no purchase message on topic ${event.topic}`);
  const decoded = registry.decode<Record<string, unknown>>(event.payload, { schema: schemaOf(name) });
  return { ...plain(decoded.value), name } as unknown as M;
}

/** avsc gives records as instances of generated classes; the saga works with plain objects. */
function plain(value: unknown): Record<string, unknown> {
  const copy = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(copy);
    if (typeof v === 'object' && v !== null && !Buffer.isBuffer(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)]));
    return v;
  };
  return copy(value) as Record<string, unknown>;
}
