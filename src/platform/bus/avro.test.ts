import { describe, expect, it } from 'vitest';
import { AvroDecodeError, AvroEncodeError, SchemaRegistry } from './avro.js';

const V1 = {
  type: 'record',
  name: 'Parcel',
  namespace: 'gavel.test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'weightGrams', type: 'long' },
    { name: 'tags', type: { type: 'array', items: 'string' } },
  ],
} as const;

// v2 adds a field with a default and drops none: a v2 reader reads what v1 wrote.
const V2 = {
  ...V1,
  fields: [...V1.fields, { name: 'fragile', type: 'boolean', default: false }, { name: 'note', type: ['null', 'string'], default: null }],
} as const;

const registry = () => new SchemaRegistry().register('gavel.test.Parcel', 1, V1 as never).register('gavel.test.Parcel', 2, V2 as never);

describe('the Avro schema registry', () => {
  it('encodes a value into an envelope naming schema and version, and decodes it back, longs as bigint', () => {
    const r = registry();
    const envelope = r.encode('gavel.test.Parcel', 1, { id: 'p1', weightGrams: 9_007_199_254_740_993n, tags: ['a', 'b'] });
    expect(envelope).toMatchObject({ schema: 'gavel.test.Parcel', version: 1, avro: expect.stringMatching(/^[A-Za-z0-9+/=]+$/) });
    const read = r.decode(JSON.parse(JSON.stringify(envelope)), { readerVersion: 1 });
    // 2^53 + 1 survives: no float on the way.
    expect(read).toMatchObject({ schema: 'gavel.test.Parcel', writerVersion: 1, readerVersion: 1, value: { id: 'p1', weightGrams: 9_007_199_254_740_993n, tags: ['a', 'b'] } });
  });

  it('a v2 reader reads a v1 message, filling the new fields with their defaults', () => {
    const r = registry();
    const v1Message = r.encode('gavel.test.Parcel', 1, { id: 'p2', weightGrams: 500n, tags: [] });
    const read = r.decode<Record<string, unknown>>(v1Message); // newest version by default
    expect(read.writerVersion).toBe(1);
    expect(read.readerVersion).toBe(2);
    expect({ ...read.value }).toEqual({ id: 'p2', weightGrams: 500n, tags: [], fragile: false, note: null });
  });

  it('a v1 reader reads a v2 message, leaving out the fields it does not know', () => {
    const r = registry();
    const v2Message = r.encode('gavel.test.Parcel', 2, { id: 'p3', weightGrams: 1n, tags: ['x'], fragile: true, note: 'glass' });
    const read = r.decode<Record<string, unknown>>(v2Message, { readerVersion: 1 });
    expect({ ...read.value }).toEqual({ id: 'p3', weightGrams: 1n, tags: ['x'] });
  });

  it('refuses to encode a value that does not fit the schema, naming the fields at fault', () => {
    const r = registry();
    const attempt = () => r.encode('gavel.test.Parcel', 1, { id: 7, weightGrams: 1.5, tags: ['ok'] });
    expect(attempt).toThrow(AvroEncodeError);
    try {
      attempt();
    } catch (error) {
      expect((error as AvroEncodeError).paths.sort()).toEqual(['id', 'weightGrams']);
    }
    // A number where a long (bigint) belongs is refused too: amounts never pass as floats.
    expect(() => r.encode('gavel.test.Parcel', 1, { id: 'x', weightGrams: 5, tags: [] })).toThrow(AvroEncodeError);
  });

  it.each([
    ['not an object', 'hello'],
    ['an unknown schema', { schema: 'gavel.test.Nope', version: 1, avro: '' }],
    ['an unknown version', { schema: 'gavel.test.Parcel', version: 3, avro: '' }],
    ['a version that is not a number', { schema: 'gavel.test.Parcel', version: '1', avro: '' }],
    ['bytes that are not base64', { schema: 'gavel.test.Parcel', version: 1, avro: 'not base64!' }],
    ['truncated bytes', { schema: 'gavel.test.Parcel', version: 1, avro: Buffer.from([4, 0x70]).toString('base64') }],
    ['trailing bytes', { schema: 'gavel.test.Parcel', version: 1, avro: Buffer.from([2, 0x70, 2, 0, 0, 9, 9]).toString('base64') }],
    ['a huge length prefix', { schema: 'gavel.test.Parcel', version: 1, avro: Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f]).toString('base64') }],
  ])('refuses a malformed message (%s) with an AvroDecodeError, never another exception', (_what, payload) => {
    expect(() => registry().decode(payload)).toThrow(AvroDecodeError);
  });

  it('refuses a message of another schema than the one expected', () => {
    const r = registry().register('gavel.test.Other', 1, { type: 'record', name: 'Other', namespace: 'gavel.test', fields: [{ name: 'n', type: 'int' }] } as never);
    const other = r.encode('gavel.test.Other', 1, { n: 1 });
    expect(() => r.decode(other, { schema: 'gavel.test.Parcel' })).toThrow(AvroDecodeError);
  });

  it('registers versions in order, under their own name, and only when they can read every earlier one', () => {
    const r = new SchemaRegistry();
    expect(() => r.register('gavel.test.Parcel', 2, V1 as never)).toThrow(/register v1 next/);
    expect(() => r.register('gavel.test.Other', 1, V1 as never)).toThrow(/named gavel.test.Parcel/);
    r.register('gavel.test.Parcel', 1, V1 as never);
    // A new field without a default cannot be read from v1 messages.
    const breaking = { ...V1, fields: [...V1.fields, { name: 'owner', type: 'string' }] };
    expect(() => r.register('gavel.test.Parcel', 2, breaking as never)).toThrow(/cannot read v1/);
    expect(r.latest('gavel.test.Parcel')).toBe(1);
  });

  it('wraps a message as an outbox event whose version column matches the envelope', () => {
    const event = registry().event('test.parcel.sent', 'p4', 'gavel.test.Parcel', 2, { id: 'p4', weightGrams: 3n, tags: [], fragile: false, note: null });
    expect(event).toMatchObject({ topic: 'test.parcel.sent', key: 'p4', version: 2, payload: { schema: 'gavel.test.Parcel', version: 2 } });
    expect(JSON.parse(JSON.stringify(event.payload))).toEqual(event.payload);
  });
});
