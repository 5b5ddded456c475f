// Avro messages on the bus: a registry of named, versioned schemas (avsc). A producer names the
// schema and version it writes, the value is checked against that schema and encoded; the bytes
// travel in the outbox payload as base64 beside the schema's name and version (the envelope).
// A consumer decodes with its own reader version: avsc's resolver maps what the writer wrote
// onto what the reader expects (a field added with a default, a field dropped), so producers
// and consumers can move from v1 to v2 at different times.
//
// Rules the registry enforces when a schema is registered, not when a message is late:
// - a schema's full name (namespace.name) is the name it is registered under;
// - versions count 1, 2, 3 … without gaps;
// - every version can read what every earlier version wrote (backward compatible).
//
// Avro `long` is a JavaScript `bigint` here (money is integers, DESIGN rule 1): no amount
// passes through a float on the way in or out.
import assert from 'node:assert/strict';
import avro from 'avsc';
import type { NewEvent } from '../outbox/outbox.js';

/** What an outbox payload holds for an Avro message. */
export interface AvroEnvelope {
  [key: string]: string | number;
  /** The schema's full name, e.g. `gavel.purchases.ReserveProducts`. */
  schema: string;
  /** The version of that schema the producer wrote with. */
  version: number;
  /** The Avro binary encoding, base64. */
  avro: string;
}

/** A value does not fit the schema it is sent with: a producer's bug. Nothing is sent. */
export class AvroEncodeError extends Error {
  constructor(
    readonly schema: string,
    readonly version: number,
    readonly paths: string[],
  ) {
    super(`value does not match ${schema} v${version} at ${paths.join(', ') || '(root)'}`);
    this.name = 'AvroEncodeError';
  }
}

/** A message that cannot be read: not an envelope, an unknown schema or version, or bytes that do not decode. */
export class AvroDecodeError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'AvroDecodeError';
  }
}

/** 64-bit Avro longs as bigint, both ways (avsc's default is a JavaScript number). */
const BigLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  fromJSON: (v: unknown) => BigInt(v as string),
  toJSON: (n: bigint) => n.toString(),
  isValid: (n: unknown) => typeof n === 'bigint' && n >= -(2n ** 63n) && n < 2n ** 63n,
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/;
/** Bigger than any message the bus carries (the outbox caps payloads at 64 KiB). */
const ENCODED_BYTES_MAX = 48 * 1024;

export interface Decoded<T = unknown> {
  schema: string;
  /** The version the producer wrote. */
  writerVersion: number;
  /** The version the value now has the shape of. */
  readerVersion: number;
  value: T;
}

export class SchemaRegistry {
  private readonly versions = new Map<string, avro.Type[]>();
  /** Resolvers by `name writer reader`, built once. */
  private readonly resolvers = new Map<string, unknown>();

  /** Registers `schema` as version `version` of `name`; the next version in line, and able to read every earlier one. */
  register(name: string, version: number, schema: avro.Schema): this {
    assert.match(name, NAME, 'schema names are namespaced: gavel.<module>.<Name>');
    const known = this.versions.get(name) ?? [];
    assert.equal(version, known.length + 1, `${name}: register v${known.length + 1} next, not v${version}`);
    const type = avro.Type.forSchema(schema, { registry: { long: BigLong } as Record<string, avro.Type> });
    assert.equal(type.name, name, `the schema registered as ${name} is named ${String(type.name)}`);
    for (const [i, earlier] of known.entries()) {
      try {
        type.createResolver(earlier);
      } catch (error) {
        throw new Error(`${name} v${version} cannot read v${i + 1}: ${(error as Error).message}`);
      }
    }
    known.push(type);
    this.versions.set(name, known);
    return this;
  }

  /** The newest version of `name`; what a consumer reads with unless it says otherwise. */
  latest(name: string): number {
    const known = this.versions.get(name);
    assert(known, `no schema ${name}`);
    return known.length;
  }

  has(name: string, version?: number): boolean {
    const known = this.versions.get(name);
    return known !== undefined && (version === undefined || (Number.isInteger(version) && version >= 1 && version <= known.length));
  }

  /** Checks `value` against `name` v`version` and encodes it; throws AvroEncodeError naming the fields at fault. */
  encode(name: string, version: number, value: unknown): AvroEnvelope {
    const type = this.type(name, version);
    const paths: string[] = [];
    if (!type.isValid(value, { errorHook: (path) => paths.push(path.join('.')) })) throw new AvroEncodeError(name, version, paths);
    const bytes = type.toBuffer(value);
    assert(bytes.length <= ENCODED_BYTES_MAX, `${name} v${version}: ${bytes.length} bytes is too big for the bus`);
    return { schema: name, version, avro: bytes.toString('base64') };
  }

  /**
   * Reads an envelope with reader version `readerVersion` of its schema (default: the newest
   * registered here). Throws AvroDecodeError for anything that is not a readable message:
   * the caller dead-letters it rather than crash or retry it forever.
   */
  decode<T = unknown>(payload: unknown, expected?: { schema?: string; readerVersion?: number }): Decoded<T> {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new AvroDecodeError('the payload is not an Avro envelope object');
    const { schema, version, avro: text } = payload as Partial<Record<keyof AvroEnvelope, unknown>>;
    if (typeof schema !== 'string') throw new AvroDecodeError('the payload is not an Avro envelope: it names no schema');
    if (!this.versions.has(schema)) throw new AvroDecodeError(`unknown schema ${JSON.stringify(schema)}`);
    if (expected?.schema !== undefined && schema !== expected.schema) throw new AvroDecodeError(`expected ${expected.schema}, got ${schema}`);
    if (typeof version !== 'number' || !this.has(schema, version)) throw new AvroDecodeError(`${schema} has no version ${JSON.stringify(version)} here`);
    if (typeof text !== 'string' || !BASE64.test(text)) throw new AvroDecodeError(`${schema} v${version}: the bytes are not base64`);
    const readerVersion = expected?.readerVersion ?? this.latest(schema);
    if (!this.has(schema, readerVersion)) throw new AvroDecodeError(`${schema} has no reader version ${readerVersion} here`);
    const writer = this.type(schema, version);
    const reader = this.type(schema, readerVersion);
    try {
      const bytes = Buffer.from(text, 'base64');
      const value = readerVersion === version ? reader.fromBuffer(bytes) : reader.fromBuffer(bytes, this.resolver(schema, version, readerVersion, reader, writer) as never);
      return { schema, writerVersion: version, readerVersion, value: value as T };
    } catch (error) {
      throw new AvroDecodeError(`${schema} v${version}: ${(error as Error).message}`);
    }
  }

  /** An outbox event carrying `value` as `name` v`version` (the outbox's version column says the same). */
  event(topic: string, key: string, name: string, version: number, value: unknown): NewEvent {
    return { topic, key, version, payload: this.encode(name, version, value) };
  }

  private type(name: string, version: number): avro.Type {
    const type = this.versions.get(name)?.[version - 1];
    assert(type, `no schema ${name} v${version}`);
    return type;
  }

  private resolver(name: string, writerVersion: number, readerVersion: number, reader: avro.Type, writer: avro.Type): unknown {
    const key = `${name} ${writerVersion} ${readerVersion}`;
    let resolver = this.resolvers.get(key);
    if (resolver === undefined) {
      resolver = reader.createResolver(writer);
      this.resolvers.set(key, resolver);
    }
    return resolver;
  }
}
