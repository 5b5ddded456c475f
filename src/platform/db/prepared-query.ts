// Queries built and compiled once, then run many times with new values (Kysely's recipe
// "splitting query building and execution"). Building a query and compiling it to SQL costs
// more CPU than SQLite takes to run a short one: for the statements a hot path runs per event
// or per delivery, that work is done once, when the store is made.
//
// The query is built with slots where the values go; each slot becomes a parameter of the
// compiled SQL, and running it puts the given values in the slots' places. The compiled SQL is
// the one dialect's, so a prepared query belongs to the database it was compiled for.
import type { CompiledQuery, Kysely, QueryResult } from 'kysely';

/** Stands for a value given when the query runs. */
class Slot {
  constructor(readonly name: string) {}
}

/** Names the value that goes here; typed `any` so that builders take it for any column. */
export type SlotOf<K extends string> = (name: K) => any;

/** A query builder, or raw SQL (`sql` compiles against the database it is given). */
export interface Buildable<R> {
  compile(db: Kysely<any>): CompiledQuery<R>;
}

export class PreparedQuery<K extends string, R> {
  private readonly compiled: CompiledQuery<R>;
  /** For each parameter of the compiled SQL: the slot it comes from, or the value built in. */
  private readonly sources: ReadonlyArray<Slot | { value: unknown }>;

  constructor(db: Kysely<any>, build: (db: Kysely<any>, slot: SlotOf<K>) => Buildable<R>) {
    const named = new Map<string, Slot>();
    const slot: SlotOf<K> = (name) => {
      let s = named.get(name);
      if (!s) named.set(name, (s = new Slot(name)));
      return s;
    };
    this.compiled = build(db, slot).compile(db);
    this.sources = this.compiled.parameters.map((p) => (p instanceof Slot ? p : { value: p }));
    const used = new Set(this.sources.flatMap((s) => (s instanceof Slot ? [s.name] : [])));
    const unused = [...named.keys()].filter((n) => !used.has(n));
    // A slot the compiler dropped or inlined would silently run with the wrong value.
    if (unused.length > 0) throw new Error(`prepared query: slot ${unused.join(', ')} is not a parameter of ${this.compiled.sql}`);
  }

  get sql(): string {
    return this.compiled.sql;
  }

  /** Runs on `db` (the database or a transaction of it) with `values` in the slots. */
  execute(db: Kysely<any>, values: Readonly<Record<K, unknown>>): Promise<QueryResult<R>> {
    const parameters = this.sources.map((s) => (s instanceof Slot ? values[s.name as K] : s.value));
    return db.executeQuery<R>({ ...this.compiled, parameters });
  }
}

/**
 * Prepared queries that differ by a size (rows inserted, items of an IN list), made on first
 * use for each size up to `maxSize` and kept; a larger size is built for that one use (as any
 * query is), so an unusual size never takes a place.
 */
export class PreparedBySize<K extends string, R> {
  private readonly bySize = new Map<number, PreparedQuery<K, R>>();

  constructor(
    private readonly db: Kysely<any>,
    private readonly maxSize: number,
    private readonly build: (db: Kysely<any>, slot: SlotOf<K>, size: number) => Buildable<R>,
  ) {}

  forSize(size: number): PreparedQuery<K, R> {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`prepared query: size ${size}: at least one row or item`);
    let query = this.bySize.get(size);
    if (!query) {
      query = new PreparedQuery<K, R>(this.db, (db, slot) => this.build(db, slot, size));
      if (size <= this.maxSize) this.bySize.set(size, query);
    }
    return query;
  }
}

/** Row `i` of a multi-row insert: each column a slot named `<column><i>` (values by `rowValues`). */
export function rowSlots<C extends string>(columns: readonly C[], slot: SlotOf<string>, i: number): Record<C, any> {
  return Object.fromEntries(columns.map((c) => [c, slot(`${c}${i}`)])) as Record<C, any>;
}

/** The values of `rowSlots`' slots for these rows. */
export function rowValues<C extends string>(rows: ReadonlyArray<Readonly<Record<C, unknown>>>, columns: readonly C[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  rows.forEach((row, i) => {
    for (const c of columns) values[`${c}${i}`] = row[c];
  });
  return values;
}

/** An IN list of `size` slots named `<name><i>` (values by `listValues`). */
export function listSlots(name: string, slot: SlotOf<string>, size: number): any[] {
  return Array.from({ length: size }, (_, i) => slot(`${name}${i}`));
}

/** The values of `listSlots`' slots. */
export function listValues(name: string, items: readonly unknown[]): Record<string, unknown> {
  return Object.fromEntries(items.map((item, i) => [`${name}${i}`, item]));
}
