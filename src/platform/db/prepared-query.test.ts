// Prepared queries: built once, run with new values each time, on each dialect this run has.
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, scratchStorage, type ScratchStorage } from '../../../test/support/databases.js';
import { openDatabase, toNumber, type Database } from './database.js';
import { listSlots, listValues, PreparedBySize, PreparedQuery, rowSlots, rowValues } from './prepared-query.js';

interface Tables {
  prepared_items: { id: string; owner: string; note: string | null; amount: bigint | number };
}

for (const dialect of DIALECTS) {
  describe(`prepared queries on ${dialect}`, () => {
    let storage: ScratchStorage;
    let database: Database;
    let db: Kysely<Tables>;

    beforeAll(async () => {
      storage = await scratchStorage(dialect);
      database = await openDatabase(storage);
      db = database.kysely as Kysely<Tables>;
      await db.schema
        .createTable('prepared_items')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('note', 'text')
        .addColumn('amount', 'bigint', (c) => c.notNull())
        .execute();
    });

    afterAll(async () => {
      await database?.close().catch(() => {});
      await storage?.drop();
    });

    it('runs the same compiled SQL with each call’s values, in and out of transactions', async () => {
      const insert = new PreparedQuery<'id' | 'owner' | 'note' | 'amount', unknown>(db, (q, slot) =>
        q.insertInto('prepared_items').values({ id: slot('id'), owner: slot('owner'), note: slot('note'), amount: slot('amount') }).onConflict((oc) => oc.column('id').doNothing()),
      );
      const byOwner = new PreparedQuery<'owner' | 'min', { id: string; amount: bigint | number }>(db, (q, slot) =>
        q.selectFrom('prepared_items').select(['id', 'amount']).where('owner', '=', slot('owner')).where('amount', '>=', slot('min')).orderBy('id'),
      );
      const awkward = `a'b"c\\d ${'%'} -- ; drop table prepared_items`;
      await insert.execute(db, { id: 'p1', owner: 'ann', note: awkward, amount: '10' });
      await db.transaction().execute(async (tx) => {
        await insert.execute(tx, { id: 'p2', owner: 'ann', note: null, amount: '9007199254740993' });
        await insert.execute(tx, { id: 'p3', owner: 'bob', note: 'x', amount: '5' });
      });
      // A repeat is left alone by the conflict clause: one row, the first values.
      const repeat = await insert.execute(db, { id: 'p1', owner: 'bob', note: 'changed', amount: '1' });
      expect(Number(repeat.numAffectedRows ?? 0n)).toBe(0);

      const ann = await byOwner.execute(db, { owner: 'ann', min: 0 });
      expect(ann.rows.map((r) => [r.id, String(r.amount)])).toEqual([
        ['p1', '10'],
        ['p2', '9007199254740993'],
      ]);
      expect((await byOwner.execute(db, { owner: 'ann', min: 11 })).rows.map((r) => r.id)).toEqual(['p2']);
      expect((await byOwner.execute(db, { owner: 'bob', min: 0 })).rows.map((r) => r.id)).toEqual(['p3']);
      const notes = await db.selectFrom('prepared_items').select(['id', 'note']).orderBy('id').execute();
      expect(notes).toEqual([
        { id: 'p1', note: awkward },
        { id: 'p2', note: null },
        { id: 'p3', note: 'x' },
      ]);
      // The same SQL text every time: one statement to prepare, whatever the values.
      expect(byOwner.sql).not.toContain('ann');
    });

    it('keeps values built into the query, and raw SQL slots work too', async () => {
      const capped = new PreparedQuery<'owner' | 'limit', { n: unknown }>(db, (q, slot) =>
        q.selectFrom('prepared_items').select((eb) => eb.fn.countAll().as('n')).where('owner', '=', slot('owner')).where('amount', '<', 1_000_000),
      );
      expect(toNumber((await capped.execute(db, { owner: 'ann', limit: 1 })).rows[0]!.n as number)).toBe(1);
      const raw = new PreparedQuery<'owner' | 'limit', { id: string }>(db, (q, slot) => sql<{ id: string }>`select id from prepared_items where owner = ${slot('owner')} order by id limit ${slot('limit')}`);
      expect((await raw.execute(db, { owner: 'ann', limit: 1 })).rows.map((r) => r.id)).toEqual(['p1']);
    });

    it('makes one query per size and keeps it; past the largest, one for each use', async () => {
      const inList = new PreparedBySize<string, { id: string }>(db, 3, (q, slot, size) => q.selectFrom('prepared_items').select('id').where('id', 'in', listSlots('id', slot, size)).orderBy('id'));
      expect(() => inList.forSize(0)).toThrow(RangeError);
      expect(inList.forSize(2)).toBe(inList.forSize(2));
      expect(inList.forSize(4)).not.toBe(inList.forSize(4));
      expect((await inList.forSize(4).execute(db, listValues('id', ['p1', 'p2', 'p3', 'p9']))).rows.map((r) => r.id)).toEqual(['p1', 'p2', 'p3']);
      const rows = await inList.forSize(2).execute(db, listValues('id', ['p3', 'p1']));
      expect(rows.rows.map((r) => r.id)).toEqual(['p1', 'p3']);
      expect((await inList.forSize(3).execute(db, listValues('id', ['p2', 'nope', 'p2']))).rows.map((r) => r.id)).toEqual(['p2']);

      const columns = ['id', 'owner', 'note', 'amount'] as const;
      const insertRows = new PreparedBySize<string, unknown>(db, 4, (q, slot, size) => q.insertInto('prepared_items').values(Array.from({ length: size }, (_, i) => rowSlots(columns, slot, i))));
      const added = [
        { id: 'r1', owner: 'cy', note: 'first', amount: 1 },
        { id: 'r2', owner: 'cy', note: null, amount: 2 },
      ];
      await insertRows.forSize(2).execute(db, rowValues(added, columns));
      const back = await db.selectFrom('prepared_items').select(['id', 'owner', 'note', 'amount']).where('owner', '=', 'cy').orderBy('id').execute();
      expect(back.map((r) => ({ ...r, amount: Number(r.amount) }))).toEqual(added);
    });

    it('refuses a slot that does not end up a parameter', () => {
      expect(() => new PreparedQuery<'owner', unknown>(db, (q, slot) => (slot('owner'), q.selectFrom('prepared_items').select('id')))).toThrow(/slot owner is not a parameter/);
    });
  });
}
