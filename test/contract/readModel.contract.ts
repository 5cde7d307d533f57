import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceQuery, Page, ProjectedDoc, ReadModel } from '../../src/ports/readModel.js';
import { randomId } from '../support/ids.js';

/**
 * The ReadModel contract, run against every adapter. One read model per suite; each test isolates
 * itself by its own random database names (only the database list needs `reset` first).
 */
export function describeReadModelContract(
  name: string,
  factory: () => Promise<{ readModel: ReadModel; cleanup: () => Promise<void> }>,
): void {
  describe(`ReadModel contract: ${name}`, () => {
    let rm: ReadModel;
    let cleanup: () => Promise<void> = async () => {};

    beforeAll(async () => {
      ({ readModel: rm, cleanup } = await factory());
    });
    afterAll(async () => {
      await cleanup();
    });

    const ids = (page: Page): string[] => page.docs.map((d) => d.id);
    const search = (q: Partial<InstanceQuery> & { database: string }): Promise<Page> =>
      rm.searchInstances({ where: [], orderBy: [], first: 100, ...q });
    const badInput = (field: string) => ({ code: 'BAD_USER_INPUT', extensions: { field } });

    it('answers a ping', async () => {
      await expect(rm.ping()).resolves.toBeUndefined();
    });

    describe('apply and getMany', () => {
      it('makes writes visible at once, keeps the asked order, null where absent', async () => {
        const db = randomId('db');
        await rm.apply([databaseDoc(db), classDoc(db, 'Person'), instanceDoc(db, 'p1', 'Person', { name: 'Ann' })]);
        const got = await rm.getMany('INSTANCE', [`${db}/missing`, `${db}/p1`, `${db}/p1`]);
        expect(got[0]).toBeNull();
        expect(got[1]).toEqual(instanceDoc(db, 'p1', 'Person', { name: 'Ann' }));
        expect(got[2]?.id).toBe('p1');
        expect(await rm.getMany('DATABASE', [db])).toEqual([databaseDoc(db)]);
        expect(await rm.getMany('ONTOLOGY_CLASS', [`${db}/Person`])).toEqual([classDoc(db, 'Person')]);
        // Types are separate: a class id is not an instance id.
        expect(await rm.getMany('INSTANCE', [`${db}/Person`])).toEqual([null]);
        expect(await rm.getMany('INSTANCE', [])).toEqual([]);
        // Visible to queries right after apply resolves.
        expect(ids(await search({ database: db }))).toEqual(['p1']);
      });

      it('writes only a higher seq; equal or lower seqs are ignored silently', async () => {
        const db = randomId('db');
        await rm.apply([instanceDoc(db, 'a', 'C', { v: 1 }, 1)]);
        await rm.apply([instanceDoc(db, 'a', 'C', { v: 2 }, 2)]);
        await rm.apply([instanceDoc(db, 'a', 'C', { v: 99 }, 2)]); // duplicate seq
        await rm.apply([instanceDoc(db, 'a', 'C', { v: 98 }, 1)]); // stale
        const [a] = await rm.getMany('INSTANCE', [`${db}/a`]);
        expect(a).toMatchObject({ seq: 2, data: { properties: { v: 2 } } });
        // Queries see the stored version only.
        expect(ids(await search({ database: db, where: [{ property: 'v', op: 'eq', value: 2 }] }))).toEqual(['a']);
        expect((await search({ database: db, where: [{ property: 'v', op: 'eq', value: 99 }] })).totalCount).toBe(0);
      });

      it('applies several versions of one aggregate in one batch, in order', async () => {
        const db = randomId('db');
        await rm.apply([
          instanceDoc(db, 'a', 'C', { v: 1 }, 1),
          instanceDoc(db, 'a', 'C', { v: 3 }, 3),
          instanceDoc(db, 'a', 'C', { v: 2 }, 2),
          instanceDoc(db, 'b', 'C', { v: 1 }, 1),
        ]);
        const docs = await rm.getMany('INSTANCE', [`${db}/a`, `${db}/b`]);
        expect(docs.map((d) => d?.seq)).toEqual([3, 1]);
        expect(docs[0]?.data).toEqual({ properties: { v: 3 } });
      });

      it('keeps tombstones: returned by getMany, hidden from queries, refusing stale writes', async () => {
        const db = randomId('db');
        await rm.apply([databaseDoc(db), classDoc(db, 'C'), instanceDoc(db, 'a', 'C', { v: 1 }, 1)]);
        await rm.apply([
          { ...instanceDoc(db, 'a', 'C', {}, 2), deleted: true },
          { ...classDoc(db, 'C', 2), deleted: true },
        ]);
        const [tomb] = await rm.getMany('INSTANCE', [`${db}/a`]);
        expect(tomb).toMatchObject({ seq: 2, deleted: true });
        expect((await search({ database: db })).totalCount).toBe(0);
        expect((await rm.list('ONTOLOGY_CLASS', { database: db, first: 10 })).totalCount).toBe(0);

        await rm.apply([instanceDoc(db, 'a', 'C', { v: 1 }, 1)]); // late duplicate of the creation
        expect((await rm.getMany('INSTANCE', [`${db}/a`]))[0]).toMatchObject({ seq: 2, deleted: true });
        expect((await search({ database: db })).totalCount).toBe(0);

        await rm.apply([instanceDoc(db, 'a', 'C', { v: 3 }, 3)]); // re-created after the tombstone
        expect((await rm.getMany('INSTANCE', [`${db}/a`]))[0]).toMatchObject({ seq: 3, deleted: false });
        expect(ids(await search({ database: db }))).toEqual(['a']);
      });

      it('ignores an empty batch', async () => {
        await expect(rm.apply([])).resolves.toBeUndefined();
      });

      it('keeps keys named like Object.prototype members as plain data, read by id and by search', async () => {
        const db = randomId('db');
        // JSON values may hold these keys (the domain reserves `__proto__` as a property name; the read model does not rely on it).
        const data = JSON.parse(
          '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "j": {"__proto__": 3}}',
        ) as Record<string, unknown>;
        const doc = instanceDoc(db, 'a', 'C', data);
        await rm.apply([doc]);
        const [got] = await rm.getMany('INSTANCE', [doc.aggregateId]);
        expect(got).toEqual(doc);
        const properties = (got!.data as { properties: Record<string, unknown> }).properties;
        expect(Object.keys(properties)).toEqual(['__proto__', 'constructor', 'j']);
        expect(Object.getPrototypeOf(properties)).toBe(Object.prototype);
        expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
        const page = await search({ database: db, where: [{ property: '__proto__', op: 'exists', value: true }] });
        expect(page.docs).toEqual([doc]);
      });
    });

    describe('list', () => {
      it('pages live databases by id with a cursor and counts them all', async () => {
        await rm.reset();
        await rm.apply(['d', 'b', 'e', 'a', 'c'].map((n) => databaseDoc(`${n}-db`)));
        await rm.apply([{ ...databaseDoc('c-db', 2), deleted: true }]);
        const p1 = await rm.list('DATABASE', { first: 2 });
        expect(ids(p1)).toEqual(['a-db', 'b-db']);
        expect(p1).toMatchObject({ hasNextPage: true, totalCount: 4 });
        expect(p1.cursors).toHaveLength(2);
        const p2 = await rm.list('DATABASE', { first: 2, after: p1.cursors[1] });
        expect(ids(p2)).toEqual(['d-db', 'e-db']);
        expect(p2).toMatchObject({ hasNextPage: false, totalCount: 4 });
        const p3 = await rm.list('DATABASE', { first: 2, after: p2.cursors[1] });
        expect(p3).toMatchObject({ docs: [], cursors: [], hasNextPage: false, totalCount: 4 });
      });

      it('lists the live classes of one database only', async () => {
        const db = randomId('db');
        const other = randomId('db');
        await rm.apply([
          classDoc(db, 'Zebra'),
          classDoc(db, 'Apple'),
          classDoc(db, 'Mango'),
          classDoc(other, 'Banana'),
          instanceDoc(db, 'Berry', 'Apple', {}),
        ]);
        await rm.apply([{ ...classDoc(db, 'Mango', 2), deleted: true }]);
        const page = await rm.list('ONTOLOGY_CLASS', { database: db, first: 10 });
        expect(ids(page)).toEqual(['Apple', 'Zebra']);
        expect(page).toMatchObject({ hasNextPage: false, totalCount: 2 });
        expect(page.docs[0]).toEqual(classDoc(db, 'Apple'));
        const p1 = await rm.list('ONTOLOGY_CLASS', { database: db, first: 1 });
        expect(p1).toMatchObject({ hasNextPage: true, totalCount: 2 });
        expect(ids(await rm.list('ONTOLOGY_CLASS', { database: db, first: 1, after: p1.cursors[0] }))).toEqual([
          'Zebra',
        ]);
      });

      it('refuses a malformed cursor', async () => {
        await expect(rm.list('DATABASE', { first: 2, after: 'not a cursor!' })).rejects.toMatchObject(
          badInput('after'),
        );
        await expect(rm.list('DATABASE', { first: 2, after: 'eyJ4IjoxfQ' })).rejects.toMatchObject(badInput('after'));
      });
    });

    describe('searchInstances', () => {
      /** Two classes share `age` with different types; a second database reuses the ids. */
      let db: string;
      let other: string;
      beforeAll(async () => {
        db = randomId('db');
        other = randomId('db');
        await rm.apply([
          instanceDoc(db, 'n1', 'Num', { age: 30, name: 'Ann Lee', active: true, tags: ['x'] }),
          instanceDoc(db, 'n2', 'Num', { age: 5, name: 'bob stone', active: false }),
          instanceDoc(db, 'n3', 'Num', { age: 30, name: 'Cy', meta: { a: 1 } }),
          instanceDoc(db, 'n4', 'Num', { age: -2.5, active: true }),
          instanceDoc(db, 'n5', 'Num', { name: 'No Age' }),
          instanceDoc(db, 's1', 'Str', { age: '30', name: 'Ann-Marie', note: 'likes Stone fruit' }),
          instanceDoc(db, 's2', 'Str', { age: 'old', name: 'Dee' }),
          instanceDoc(db, 's3', 'Str', { age: '100', note: 'ÉCOLE été 42' }),
          instanceDoc(db, 'b1', 'Bool', { age: true }),
          instanceDoc(db, 'gone', 'Num', { age: 30 }, 1),
          instanceDoc(other, 'n1', 'Num', { age: 30, name: 'Other Ann' }),
        ]);
        await rm.apply([{ ...instanceDoc(db, 'gone', 'Num', {}, 2), deleted: true }]);
      });

      const where = async (property: string, op: string, value: unknown, classId?: string): Promise<string[]> =>
        ids(
          await search({
            database: db,
            classId: classId ?? null,
            where: [{ property, op: op as InstanceQuery['where'][number]['op'], value }],
          }),
        ).sort();

      it('scopes to the database and the class, never returning tombstones', async () => {
        const all = await search({ database: db });
        expect(all.totalCount).toBe(9);
        expect(ids(all)).toEqual(['b1', 'n1', 'n2', 'n3', 'n4', 'n5', 's1', 's2', 's3']);
        expect(ids(await search({ database: db, classId: 'Str' }))).toEqual(['s1', 's2', 's3']);
        expect(ids(await search({ database: other }))).toEqual(['n1']);
        expect((await search({ database: other, classId: 'Str' })).totalCount).toBe(0);
        expect((await search({ database: randomId('db') })).totalCount).toBe(0);
        expect((await search({ database: other })).docs[0]).toEqual(
          instanceDoc(other, 'n1', 'Num', { age: 30, name: 'Other Ann' }),
        );
      });

      it('compares numbers numerically, and only with numbers', async () => {
        expect(await where('age', 'eq', 30)).toEqual(['n1', 'n3']);
        expect(await where('age', 'gt', 5)).toEqual(['n1', 'n3']);
        expect(await where('age', 'gte', 5)).toEqual(['n1', 'n2', 'n3']);
        expect(await where('age', 'lt', 5)).toEqual(['n4']);
        expect(await where('age', 'lte', 5)).toEqual(['n2', 'n4']);
        expect(await where('age', 'gt', -100)).toEqual(['n1', 'n2', 'n3', 'n4']);
        expect(await where('age', 'in', [5, -2.5, '30'])).toEqual(['n2', 'n4', 's1']);
        expect(await where('age', 'in', [])).toEqual([]);
      });

      it('compares strings lexicographically, and only with strings', async () => {
        expect(await where('age', 'eq', '30')).toEqual(['s1']);
        expect(await where('age', 'gt', '30')).toEqual(['s2']);
        expect(await where('age', 'lt', '30')).toEqual(['s3']); // "100" < "30"
        expect(await where('age', 'gte', '100')).toEqual(['s1', 's2', 's3']);
        expect(await where('name', 'eq', 'ann lee')).toEqual([]); // eq is exact
        expect(await where('name', 'eq', 'Ann Lee')).toEqual(['n1']);
        expect(await where('name', 'gte', 'a')).toEqual(['n2']); // lowercase after uppercase
      });

      it('compares booleans, false before true', async () => {
        expect(await where('active', 'eq', true)).toEqual(['n1', 'n4']);
        expect(await where('active', 'eq', false)).toEqual(['n2']);
        expect(await where('active', 'gt', false)).toEqual(['n1', 'n4']);
        expect(await where('active', 'lte', true)).toEqual(['n1', 'n2', 'n4']);
        expect(await where('active', 'lt', false)).toEqual([]);
        expect(await where('age', 'eq', true)).toEqual(['b1']);
      });

      it('treats a comparison with a missing property as false, and exists as presence', async () => {
        // ne: present and not equal (a value of another type is not equal).
        expect(await where('age', 'ne', 30)).toEqual(['b1', 'n2', 'n4', 's1', 's2', 's3']);
        expect(await where('active', 'ne', true)).toEqual(['n2']);
        expect(await where('age', 'exists', true)).toEqual(['b1', 'n1', 'n2', 'n3', 'n4', 's1', 's2', 's3']);
        expect(await where('age', 'exists', false)).toEqual(['n5']);
        expect(await where('nothing', 'exists', false)).toHaveLength(9);
        expect(await where('nothing', 'ne', 1)).toEqual([]);
        expect(await where('nothing', 'lt', 1)).toEqual([]);
      });

      it('lets objects and arrays exist but compare with nothing', async () => {
        expect(await where('meta', 'exists', true)).toEqual(['n3']);
        expect(await where('tags', 'exists', true)).toEqual(['n1']);
        expect(await where('tags', 'eq', 'x')).toEqual([]);
        expect(await where('meta', 'ne', 'x')).toEqual(['n3']);
      });

      it('ANDs conditions and combines them with classId', async () => {
        const page = await search({
          database: db,
          where: [
            { property: 'age', op: 'gte', value: 5 },
            { property: 'active', op: 'exists', value: true },
          ],
        });
        expect(ids(page).sort()).toEqual(['n1', 'n2']);
        expect(page.totalCount).toBe(2);
        expect(await where('name', 'exists', true, 'Str')).toEqual(['s1', 's2']);
      });

      it('refuses operands it cannot compare and invalid property names', async () => {
        const bad = (w: InstanceQuery['where'][number]) => search({ database: db, where: [w] });
        await expect(bad({ property: 'meta', op: 'eq', value: { a: 1 } })).rejects.toMatchObject(badInput('where'));
        await expect(bad({ property: 'tags', op: 'ne', value: ['x'] })).rejects.toMatchObject(badInput('where'));
        await expect(bad({ property: 'age', op: 'eq', value: null })).rejects.toMatchObject(badInput('where'));
        await expect(bad({ property: 'age', op: 'in', value: 30 })).rejects.toMatchObject(badInput('where'));
        await expect(bad({ property: 'age', op: 'in', value: [[1]] })).rejects.toMatchObject(badInput('where'));
        await expect(bad({ property: 'age', op: 'exists', value: 'yes' })).rejects.toMatchObject(badInput('where'));
        await expect(bad({ property: 'a.b', op: 'eq', value: 1 })).rejects.toMatchObject(badInput('where'));
        await expect(bad({ property: 'p_num.*', op: 'exists', value: true })).rejects.toMatchObject(badInput('where'));
        await expect(search({ database: db, orderBy: [{ property: 'x*', direction: 'ASC' }] })).rejects.toMatchObject(
          badInput('orderBy'),
        );
      });

      it('searches words of string values, case-insensitively, all words required', async () => {
        const s = async (text: string, extra: Partial<InstanceQuery> = {}) =>
          ids(await search({ database: db, search: text, ...extra })).sort();
        expect(await s('ann')).toEqual(['n1', 's1']);
        expect(await s('ANN marie')).toEqual(['s1']);
        expect(await s('stone')).toEqual(['n2', 's1']);
        expect(await s('stone fruit')).toEqual(['s1']);
        expect(await s('stone cy')).toEqual([]);
        expect(await s('école ÉTÉ')).toEqual(['s3']);
        expect(await s('42')).toEqual(['s3']); // a word inside a string
        expect(await s('30')).toEqual(['s1']); // the string "30", not the number 30
        expect(await s('sto')).toEqual([]); // whole words
        expect(await s('Ann', { classId: 'Num' })).toEqual(['n1']);
        expect(await s('ann', { where: [{ property: 'age', op: 'eq', value: '30' }] })).toEqual(['s1']);
        expect(await s(' -- ')).toHaveLength(9); // no words: no filter
        expect((await search({ database: other, search: 'ann' })).totalCount).toBe(1);
      });

      it('orders by a property: numbers, then strings, then booleans, missing last; ties by id', async () => {
        const order = async (direction: 'ASC' | 'DESC', classId?: string) =>
          ids(await search({ database: db, classId: classId ?? null, orderBy: [{ property: 'age', direction }] }));
        expect(await order('ASC')).toEqual(['n4', 'n2', 'n1', 'n3', 's3', 's1', 's2', 'b1', 'n5']);
        expect(await order('DESC')).toEqual(['n1', 'n3', 'n2', 'n4', 's2', 's1', 's3', 'b1', 'n5']);
        expect(await order('DESC', 'Num')).toEqual(['n1', 'n3', 'n2', 'n4', 'n5']);
        const two = await search({
          database: db,
          classId: 'Num',
          orderBy: [
            { property: 'age', direction: 'DESC' },
            { property: 'name', direction: 'DESC' },
          ],
        });
        expect(ids(two)).toEqual(['n3', 'n1', 'n2', 'n4', 'n5']);
        const bools = await search({ database: db, orderBy: [{ property: 'active', direction: 'DESC' }] });
        expect(ids(bools)).toEqual(['n1', 'n4', 'n2', 'b1', 'n3', 'n5', 's1', 's2', 's3']);
      });

      it('refuses a malformed cursor or one of another ordering', async () => {
        const orderBy = [{ property: 'age', direction: 'ASC' as const }];
        const p1 = await search({ database: db, orderBy, first: 2 });
        await expect(search({ database: db, orderBy, after: 'garbage!' })).rejects.toMatchObject(badInput('after'));
        await expect(search({ database: db, orderBy, after: 'e30' })).rejects.toMatchObject(badInput('after'));
        await expect(
          search({ database: db, orderBy: [{ property: 'age', direction: 'DESC' }], after: p1.cursors[1] }),
        ).rejects.toMatchObject(badInput('after'));
        await expect(search({ database: db, after: p1.cursors[1] })).rejects.toMatchObject(badInput('after'));
      });
    });

    describe('paging', () => {
      let db: string;
      beforeAll(async () => {
        db = randomId('db');
        // 25 instances: repeated scores (ties), some missing, one string among them.
        const docs = Array.from({ length: 25 }, (_, i) => {
          const id = `i${String((i * 7) % 25).padStart(2, '0')}`;
          const properties: Record<string, unknown> =
            i % 6 === 5
              ? { label: `item ${i}` }
              : { score: i % 4, label: `item ${i}`, group: i % 2 === 0 ? 'even' : 'odd' };
          if (i === 12) properties.score = 'high';
          return instanceDoc(db, id, 'Item', properties);
        });
        await rm.apply(docs);
      });

      const pageThrough = async (q: Partial<InstanceQuery>, first: number) => {
        const seen: string[] = [];
        const pages: Page[] = [];
        let after: string | null = null;
        for (let n = 0; n < 10; n++) {
          const page: Page = await search({ database: db, ...q, first, after });
          pages.push(page);
          seen.push(...ids(page));
          expect(page.cursors).toHaveLength(page.docs.length);
          if (!page.hasNextPage) break;
          after = page.cursors.at(-1)!;
        }
        return { seen, pages };
      };

      for (const direction of ['ASC', 'DESC'] as const) {
        it(`returns each of 25 docs once, 10 at a time, sorted by score ${direction}`, async () => {
          const orderBy = [{ property: 'score', direction }];
          const whole = ids(await search({ database: db, orderBy, first: 100 }));
          expect(whole).toHaveLength(25);
          const { seen, pages } = await pageThrough({ orderBy }, 10);
          expect(pages.map((p) => p.docs.length)).toEqual([10, 10, 5]);
          expect(pages.map((p) => p.hasNextPage)).toEqual([true, true, false]);
          expect(pages.every((p) => p.totalCount === 25)).toBe(true);
          expect(seen).toEqual(whole);
          expect(new Set(seen).size).toBe(25);
          // The order honours the sort: numbers (by direction), then the string, then missing, ties by id.
          const docs = (await search({ database: db, orderBy, first: 100 })).docs;
          const scores = docs.map((d) => (d.data.properties as Record<string, unknown>).score);
          const numbers = scores.filter((s): s is number => typeof s === 'number');
          expect(numbers).toEqual([...numbers].sort((a, b) => (direction === 'ASC' ? a - b : b - a)));
          expect(scores.slice(numbers.length)).toEqual(['high', undefined, undefined, undefined, undefined]);
        });
      }

      it('pages with two sort keys and a filter, counting all matches on every page', async () => {
        const q: Partial<InstanceQuery> = {
          where: [{ property: 'label', op: 'exists', value: true }],
          orderBy: [
            { property: 'group', direction: 'DESC' },
            { property: 'score', direction: 'ASC' },
          ],
        };
        const whole = ids(await search({ database: db, ...q, first: 100 }));
        const { seen, pages } = await pageThrough(q, 4);
        expect(seen).toEqual(whole);
        expect(new Set(seen).size).toBe(25);
        expect(pages).toHaveLength(7);
        expect(pages.every((p) => p.totalCount === 25)).toBe(true);
      });

      it('pages by id when no order is given', async () => {
        const { seen } = await pageThrough({}, 10);
        expect(seen).toEqual([...seen].sort());
        expect(seen).toHaveLength(25);
      });

      it('pages a search', async () => {
        const { seen, pages } = await pageThrough({ search: 'ITEM' }, 10);
        expect(seen).toHaveLength(25);
        expect(pages[0]?.totalCount).toBe(25);
      });
    });

    it('pages across type groups, a cursor landing in every group', async () => {
      const db = randomId('db');
      const values: unknown[] = [2, 'b', true, undefined, 1, 'a', false, undefined, 1, 'b', true, { o: 1 }];
      await rm.apply(
        values.map((v, i) => instanceDoc(db, `d${String(i).padStart(2, '0')}`, 'C', v === undefined ? {} : { v })),
      );
      for (const [direction, expected] of [
        ['ASC', 'd04 d08 d00 d05 d01 d09 d06 d02 d10 d03 d07 d11'],
        ['DESC', 'd00 d04 d08 d01 d09 d05 d02 d10 d06 d03 d07 d11'],
      ] as const) {
        const orderBy = [{ property: 'v', direction }];
        const seen: string[] = [];
        let after: string | null = null;
        for (let n = 0; n < 20; n++) {
          const page: Page = await search({ database: db, orderBy, first: 2, after });
          expect(page.totalCount).toBe(12);
          seen.push(...ids(page));
          if (!page.hasNextPage) break;
          after = page.cursors.at(-1)!;
        }
        expect(seen.join(' ')).toBe(expected);
      }
    });

    it('agrees with a reference model on random data, filters and orderings', async () => {
      const scalar = fc.oneof(
        fc.integer({ min: -2, max: 2 }),
        fc.constantFrom('a', 'b', 'B', 'é', 'a b'),
        fc.boolean(),
      );
      const value = fc.oneof(scalar, fc.constant(undefined), fc.constant(undefined), fc.constant([1]));
      const ops = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'exists'] as const;
      const condition = fc.record({
        property: fc.constantFrom('x', 'y'),
        op: fc.constantFrom(...ops),
        value: scalar,
        list: fc.array(scalar, { maxLength: 3 }),
      });
      const order = fc.record({ property: fc.constantFrom('x', 'y'), direction: fc.constantFrom('ASC', 'DESC') });
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ x: value, y: value }), { maxLength: 14 }),
          fc.array(condition, { maxLength: 2 }),
          fc.array(order, { maxLength: 2 }),
          fc.integer({ min: 1, max: 5 }),
          async (rows, conditions, orderBy, first) => {
            const db = randomId('db');
            const props = rows.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
            await rm.apply(props.map((p, i) => instanceDoc(db, `d${String(i).padStart(2, '0')}`, 'C', p)));
            const where = conditions.map((c) => ({
              property: c.property,
              op: c.op,
              value: c.op === 'in' ? c.list : c.op === 'exists' ? typeof c.value === 'boolean' && c.value : c.value,
            }));
            const expected = props
              .map((p, i) => ({ id: `d${String(i).padStart(2, '0')}`, p }))
              .filter(({ p }) => where.every((w) => oracleMatch(p[w.property], w.op, w.value)))
              .sort((a, b) => oracleCompare(orderBy, a, b))
              .map((r) => r.id);
            const seen: string[] = [];
            let after: string | null = null;
            for (let n = 0; n <= 15; n++) {
              const page: Page = await search({ database: db, where, orderBy, first, after });
              expect(page.totalCount).toBe(expected.length);
              seen.push(...ids(page));
              if (!page.hasNextPage) break;
              after = page.cursors.at(-1)!;
            }
            expect(seen).toEqual(expected);
          },
        ),
        { numRuns: 25 },
      );
    });

    it('does not compare or sort by strings too long to index, but they exist', async () => {
      const db = randomId('db');
      const long = 'x'.repeat(9000);
      await rm.apply([instanceDoc(db, 'long', 'C', { s: long }), instanceDoc(db, 'short', 'C', { s: 'y' })]);
      expect(ids(await search({ database: db, where: [{ property: 's', op: 'eq', value: long }] }))).toEqual([]);
      expect(ids(await search({ database: db, where: [{ property: 's', op: 'ne', value: 'y' }] }))).toEqual(['long']);
      expect(ids(await search({ database: db, where: [{ property: 's', op: 'exists', value: true }] }))).toHaveLength(
        2,
      );
      const sorted = await search({ database: db, orderBy: [{ property: 's', direction: 'DESC' }] });
      expect(ids(sorted)).toEqual(['short', 'long']);
    });

    it('reset drops every doc, tombstones included', async () => {
      const db = randomId('db');
      await rm.apply([databaseDoc(db), instanceDoc(db, 'a', 'C', { v: 1 }, 1)]);
      await rm.apply([{ ...instanceDoc(db, 'a', 'C', {}, 2), deleted: true }]);
      await rm.reset();
      expect(await rm.getMany('INSTANCE', [`${db}/a`])).toEqual([null]);
      expect(await rm.getMany('DATABASE', [db])).toEqual([null]);
      expect((await rm.list('DATABASE', { first: 10 })).totalCount).toBe(0);
      await rm.apply([instanceDoc(db, 'a', 'C', { v: 1 }, 1)]); // seq 1 is new again after a reset
      expect((await rm.getMany('INSTANCE', [`${db}/a`]))[0]).toMatchObject({ seq: 1, deleted: false });
      expect(ids(await search({ database: db }))).toEqual(['a']);
    });

    it('a rebuild fills a generation queries do not see, then swaps it in for every type at once', async () => {
      const db = randomId('db');
      await rm.apply([databaseDoc(db), classDoc(db, 'Old'), instanceDoc(db, 'old', 'Old', { v: 1 }, 3)]);
      const rebuild = await rm.beginRebuild();
      await rebuild.apply([databaseDoc(db, 2), classDoc(db, 'C'), instanceDoc(db, 'a', 'C', { v: 1 }, 1)]);
      await rebuild.apply([instanceDoc(db, 'a', 'C', { v: 2 }, 2), instanceDoc(db, 'a', 'C', { v: 0 }, 1)]);
      // Meanwhile the current generation still answers, and takes writes (a projector).
      expect(ids(await search({ database: db }))).toEqual(['old']);
      await rm.apply([instanceDoc(db, 'late', 'Old', {}, 1)]);
      expect(ids(await search({ database: db }))).toEqual(['late', 'old']);

      await rebuild.publish();
      expect(ids(await search({ database: db }))).toEqual(['a']);
      expect((await rm.getMany('INSTANCE', [`${db}/a`, `${db}/old`, `${db}/late`]))[0]).toMatchObject({
        seq: 2,
        data: { properties: { v: 2 } },
      });
      expect((await rm.getMany('INSTANCE', [`${db}/old`, `${db}/late`])).every((d) => d === null)).toBe(true);
      expect((await rm.getMany('DATABASE', [db]))[0]).toMatchObject({ seq: 2 });
      expect(ids(await rm.list('ONTOLOGY_CLASS', { database: db, first: 10 }))).toEqual(['C']);
      // The swapped-in generation is the read model now: external versioning as ever.
      await rm.apply([instanceDoc(db, 'a', 'C', { v: 9 }, 2), instanceDoc(db, 'b', 'C', {}, 1)]);
      expect((await rm.getMany('INSTANCE', [`${db}/a`]))[0]).toMatchObject({ data: { properties: { v: 2 } } });
      expect(ids(await search({ database: db }))).toEqual(['a', 'b']);
      await expect(rebuild.apply([instanceDoc(db, 'c', 'C', {}, 1)])).rejects.toThrow();
    });

    it('a discarded rebuild leaves the read model as it was', async () => {
      const db = randomId('db');
      await rm.apply([databaseDoc(db), instanceDoc(db, 'kept', 'C', {}, 1)]);
      const rebuild = await rm.beginRebuild();
      await rebuild.apply([databaseDoc(db, 2), instanceDoc(db, 'new', 'C', {}, 1)]);
      await rebuild.discard();
      await rebuild.discard(); // idempotent
      await expect(rebuild.publish()).rejects.toThrow();
      expect(ids(await search({ database: db }))).toEqual(['kept']);
      expect((await rm.getMany('DATABASE', [db]))[0]).toMatchObject({ seq: 1 });
    });
  });
}

const AT = '2024-01-02T03:04:05.000Z';

export const databaseDoc = (name: string, seq = 1): ProjectedDoc => ({
  aggregateType: 'DATABASE',
  aggregateId: name,
  database: name,
  id: name,
  classId: null,
  seq,
  deleted: false,
  createdAt: AT,
  updatedAt: AT,
  data: { label: `Label of ${name}`, description: null },
});

export const classDoc = (database: string, id: string, seq = 1): ProjectedDoc => ({
  aggregateType: 'ONTOLOGY_CLASS',
  aggregateId: `${database}/${id}`,
  database,
  id,
  classId: null,
  seq,
  deleted: false,
  createdAt: AT,
  updatedAt: AT,
  data: { label: id, description: null, properties: [{ name: 'age', type: 'INT', required: false, target: null }] },
});

export const instanceDoc = (
  database: string,
  id: string,
  classId: string,
  properties: Record<string, unknown>,
  seq = 1,
): ProjectedDoc => ({
  aggregateType: 'INSTANCE',
  aggregateId: `${database}/${id}`,
  database,
  id,
  classId,
  seq,
  deleted: false,
  createdAt: AT,
  updatedAt: AT,
  data: { properties },
});

/** The documented semantics, written independently of the adapters (API.md "Queries", the port). */
type Json = string | number | boolean;
const isJson = (v: unknown): v is Json => ['string', 'number', 'boolean'].includes(typeof v);
const sameType = (a: unknown, b: unknown): boolean => typeof a === typeof b;
const cmp = (a: Json, b: Json): number => (a < b ? -1 : a > b ? 1 : 0); // ASCII fixtures: unit order = code points

const oracleMatch = (v: unknown, op: string, operand: unknown): boolean => {
  if (op === 'exists') return (v !== undefined) === operand;
  if (v === undefined) return false;
  const eq = (o: unknown) => isJson(v) && sameType(v, o) && v === o;
  if (op === 'eq') return eq(operand);
  if (op === 'ne') return !eq(operand);
  if (op === 'in') return (operand as unknown[]).some(eq);
  if (!isJson(v) || !sameType(v, operand)) return false;
  const d = cmp(v, operand as Json);
  return op === 'gt' ? d > 0 : op === 'gte' ? d >= 0 : op === 'lt' ? d < 0 : d <= 0;
};

const group = (v: unknown): number =>
  typeof v === 'number' ? 0 : typeof v === 'string' ? 1 : typeof v === 'boolean' ? 2 : 3;

const oracleCompare = (
  orderBy: { property: string; direction: string }[],
  a: { id: string; p: Record<string, unknown> },
  b: { id: string; p: Record<string, unknown> },
): number => {
  for (const o of orderBy) {
    const va = a.p[o.property];
    const vb = b.p[o.property];
    if (group(va) !== group(vb)) return group(va) - group(vb);
    if (group(va) === 3) continue;
    const d = cmp(va as Json, vb as Json);
    if (d !== 0) return o.direction === 'ASC' ? d : -d;
  }
  return cmp(a.id, b.id);
};
