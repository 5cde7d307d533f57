import { beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../support/ids.js';
import { expectData, expectError } from './client.js';
import { TEST_SETTINGS } from './harness.js';
import { profiles, useCluster } from './suite.js';
import type { Connection, Instance, InstanceOrder, InstanceWhere, JsonObject } from './types.js';

/**
 * A fixed data set for `where` / `orderBy` / `search`. `rank` and `tag` are missing on some items;
 * `rank` has ties (broken by id).
 */
const ITEMS: { id: string; props: JsonObject }[] = [
  {
    id: 'a01',
    props: {
      name: 'alpha',
      at: '2024-01-05T00:00:00.000Z',
      n: 1,
      score: 0.5,
      active: true,
      rank: 2,
      tag: 'red',
      note: 'the quick brown fox',
    },
  },
  {
    id: 'a02',
    props: {
      name: 'bravo',
      at: '2023-12-31T23:59:59.000Z',
      n: 2,
      score: 1.5,
      active: false,
      rank: 1,
      note: 'lazy dog sleeps',
    },
  },
  { id: 'a03', props: { name: 'charlie', n: 3, score: 2.5, active: true, tag: 'blue', note: 'quick thinking' } },
  {
    id: 'a04',
    props: { name: 'delta', at: '2024-06-01T12:00:00.000Z', n: 4, score: 3.5, active: false, rank: 2, tag: 'red' },
  },
  {
    id: 'a05',
    props: {
      name: 'echo',
      at: '2024-01-05T00:00:00.001Z',
      n: 5,
      score: 4.5,
      active: true,
      rank: 3,
      tag: 'green',
      note: 'an echo of a fox',
    },
  },
  { id: 'a06', props: { name: 'golf', at: '2022-02-02T00:00:00.000Z', n: 6, active: false, rank: 1 } },
];

const ids = (...n: number[]) => n.map((i) => `a0${i}`);

describe.each(profiles)('queries (%s)', (profile) => {
  const { api } = useCluster(profile);
  let db = '';

  beforeAll(async () => {
    db = (await api().newDatabase()).database.name;
    await api().newClass(db, 'item', [
      { name: 'name', type: 'STRING', required: true },
      { name: 'n', type: 'INT' },
      { name: 'score', type: 'FLOAT' },
      { name: 'active', type: 'BOOLEAN' },
      { name: 'rank', type: 'INT' },
      { name: 'tag', type: 'STRING' },
      { name: 'note', type: 'STRING' },
      { name: 'at', type: 'DATETIME' },
    ]);
    await api().newClass(db, 'other', [{ name: 'name', type: 'STRING' }]);
    for (const item of ITEMS) await api().newInstance(db, 'item', item.props, item.id);
    await api().newInstance(db, 'other', { name: 'not an item' }, 'z99');
    await api().settle(db, [...ITEMS.map((i) => ({ id: i.id, seq: 1 })), { id: 'z99', seq: 1 }]);
  });

  const itemIds = (args: { where?: InstanceWhere[]; orderBy?: InstanceOrder[]; search?: string }) =>
    api().ids({ database: db, classId: 'item', ...args });
  const sorted = async (args: { where?: InstanceWhere[]; search?: string }) => (await itemIds(args)).sort();

  describe('minSeq (read-your-writes)', () => {
    it('a query with minSeq = the returned seq sees the write immediately', async () => {
      const d = await api().newDatabase({ label: 'ryw' });
      expect(expectData(await api().database(d.database.name, d.seq)).database).toMatchObject({ seq: 1, label: 'ryw' });
      const c = await api().newClass(d.database.name, 'k', [{ name: 'v', type: 'INT' }]);
      expect(expectData(await api().ontologyClass(d.database.name, 'k', c.seq)).ontologyClass).toMatchObject({
        seq: 1,
      });
      const i = await api().newInstance(d.database.name, 'k', { v: 1 }, 'i');
      expect(expectData(await api().instance(d.database.name, 'i', i.seq)).instance).toMatchObject({
        seq: 1,
        properties: { v: 1 },
      });
      for (let v = 2; v <= 5; v++) {
        const u = await api().update(d.database.name, 'i', v - 1, { set: { v } });
        const read = expectData(await api().instance(d.database.name, 'i', u.seq)).instance;
        expect(read).toMatchObject({ seq: v, properties: { v } });
      }
      const cu = expectData(
        await api().updateOntologyClass({ database: d.database.name, id: 'k', expectedSeq: 1, label: 'K' }),
      ).updateOntologyClass;
      expect(expectData(await api().ontologyClass(d.database.name, 'k', cu.seq)).ontologyClass).toMatchObject({
        label: 'K',
      });
    });

    it('once a minSeq read has returned a change, instances lists and search include it', async () => {
      const word = `zq${randomId('')}`;
      const id = randomId('i');
      const c = await api().newInstance(db, 'other', { name: `hello ${word}` }, id);
      expectData(await api().instance(db, id, c.seq));
      expect(await api().ids({ database: db, search: word })).toEqual([id]);
      expect(await api().ids({ database: db, where: [{ property: 'name', eq: `hello ${word}` }] })).toEqual([id]);

      const u = await api().update(db, id, 1, { set: { name: `bye ${word}` } });
      expectData(await api().instance(db, id, u.seq));
      expect(await api().ids({ database: db, where: [{ property: 'name', eq: `bye ${word}` }] })).toEqual([id]);
      expect(await api().ids({ database: db, where: [{ property: 'name', eq: `hello ${word}` }] })).toEqual([]);

      const del = expectData(await api().deleteInstance({ database: db, id, expectedSeq: 2 })).deleteInstance;
      expect(expectData(await api().instance(db, id, del.seq)).instance).toBeNull();
      expect(await api().ids({ database: db, search: word })).toEqual([]);
      expect(await api().ids({ database: db, classId: 'other' })).not.toContain(id);
    });

    it('minSeq far ahead gives STALE_READ with aggregateId, minSeq and seq after the bounded wait', async () => {
      const started = Date.now();
      const err = expectError(await api().instance(db, 'a01', 1_000), 'STALE_READ');
      const elapsed = Date.now() - started;
      expect(err.extensions).toMatchObject({ aggregateId: `${db}/a01`, minSeq: 1_000, seq: 1 });
      expect(elapsed).toBeGreaterThanOrEqual(TEST_SETTINGS.CAIRN_MIN_SEQ_TIMEOUT_MS - 100);
      expect(elapsed).toBeLessThan(TEST_SETTINGS.CAIRN_MIN_SEQ_TIMEOUT_MS + 4_000);

      const dbErr = expectError(await api().database(db, 50), 'STALE_READ');
      expect(dbErr.extensions).toMatchObject({ aggregateId: db, minSeq: 50, seq: 1 });
      const clsErr = expectError(await api().ontologyClass(db, 'item', 50), 'STALE_READ');
      expect(clsErr.extensions).toMatchObject({ aggregateId: `${db}/item`, minSeq: 50, seq: 1 });
    });

    it('minSeq on an aggregate that never existed is STALE_READ with seq 0', async () => {
      const err = expectError(await api().instance(db, 'never-was', 1), 'STALE_READ');
      expect(err.extensions).toMatchObject({ aggregateId: `${db}/never-was`, minSeq: 1, seq: 0 });
    });

    it('minSeq on a deleted aggregate returns null once the projection holds the deletion', async () => {
      const id = randomId('i');
      await api().newInstance(db, 'other', { name: 'short-lived' }, id);
      const del = expectData(await api().deleteInstance({ database: db, id, expectedSeq: 1 })).deleteInstance;
      const res = await api().instance(db, id, del.seq);
      expect(expectData(res).instance).toBeNull();
      // An older minSeq than the deletion also answers null (the projection is past it).
      expect(expectData(await api().instance(db, id, 1)).instance).toBeNull();
    });

    it('a negative minSeq is BAD_USER_INPUT', async () => {
      expectError(await api().instance(db, 'a01', -1), 'BAD_USER_INPUT');
    });
  });

  describe('connections', () => {
    it('first/after over 25 items visits each once, with totalCount and pageInfo', async () => {
      const d = (await api().newDatabase()).database.name;
      await api().newClass(d, 'row', [{ name: 'i', type: 'INT' }]);
      const written: { id: string; seq: number }[] = [];
      for (let i = 0; i < 25; i++) {
        const r = await api().newInstance(d, 'row', { i }, `r${String(i).padStart(2, '0')}`);
        written.push({ id: r.instance.id, seq: r.seq });
      }
      await api().settle(d, written);

      for (const size of [10, 7, 1, 25, 30]) {
        const seen: string[] = [];
        let after: string | null = null;
        let pages = 0;
        for (;;) {
          const conn = await api().list({ database: d, first: size, after });
          pages++;
          expect(conn.totalCount).toBe(25);
          expect(conn.edges.length).toBeLessThanOrEqual(size);
          seen.push(...conn.edges.map((e) => e.node.id));
          if (conn.edges.length > 0) expect(conn.pageInfo.endCursor).toBe(conn.edges.at(-1)!.cursor);
          if (!conn.pageInfo.hasNextPage) break;
          expect(conn.edges.length).toBe(size);
          after = conn.pageInfo.endCursor;
          expect(pages).toBeLessThan(30);
        }
        expect(seen).toHaveLength(25);
        expect(new Set(seen).size).toBe(25);
        expect(pages).toBe(Math.ceil(25 / size));
      }
    });

    it('pagination follows orderBy and where', async () => {
      const seen: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 10; page++) {
        const conn = await api().list({
          database: db,
          classId: 'item',
          where: [{ property: 'n', gte: 2 }],
          orderBy: [{ property: 'n', direction: 'DESC' }],
          first: 2,
          after,
        });
        expect(conn.totalCount).toBe(5);
        seen.push(...conn.edges.map((e) => e.node.id));
        if (!conn.pageInfo.hasNextPage) break;
        after = conn.pageInfo.endCursor;
      }
      expect(seen).toEqual(ids(6, 5, 4, 3, 2));
    });

    it('a malformed cursor is BAD_USER_INPUT', async () => {
      expectError(await api().instances({ database: db, first: 2, after: 'not-a-cursor' }), 'BAD_USER_INPUT');
    });

    it('first: 0 returns no edges but the totalCount', async () => {
      const conn = await api().list({ database: db, classId: 'item', first: 0 });
      expect(conn.edges).toEqual([]);
      expect(conn.totalCount).toBe(6);
    });

    it('classId narrows the list; without it every class of the database is listed', async () => {
      expect((await api().list({ database: db, classId: 'item', first: 100 })).totalCount).toBe(6);
      const all = await api().ids({ database: db });
      expect(all).toEqual(expect.arrayContaining([...ids(1, 2, 3, 4, 5, 6), 'z99']));
    });

    it('instances of another (or a missing) database are not listed', async () => {
      expect((await api().list({ database: randomId('db') })).totalCount).toBe(0);
      const d = (await api().newDatabase()).database.name;
      expect((await api().list({ database: d })).edges).toEqual([]);
    });
  });

  describe('where', () => {
    it.each<[string, InstanceWhere[], string[]]>([
      ['eq on INT', [{ property: 'n', eq: 3 }], ids(3)],
      ['eq on STRING', [{ property: 'name', eq: 'delta' }], ids(4)],
      ['eq on BOOLEAN', [{ property: 'active', eq: true }], ids(1, 3, 5)],
      ['ne (missing property is not a match)', [{ property: 'tag', ne: 'red' }], ids(3, 5)],
      ['ne on INT', [{ property: 'n', ne: 1 }], ids(2, 3, 4, 5, 6)],
      ['gt', [{ property: 'n', gt: 4 }], ids(5, 6)],
      ['gte', [{ property: 'n', gte: 4 }], ids(4, 5, 6)],
      ['lt', [{ property: 'n', lt: 3 }], ids(1, 2)],
      ['lte', [{ property: 'n', lte: 3 }], ids(1, 2, 3)],
      ['gt on FLOAT (missing property is not a match)', [{ property: 'score', gt: 2 }], ids(3, 4, 5)],
      ['lt with a missing property is not a match', [{ property: 'rank', lt: 100 }], ids(1, 2, 4, 5, 6)],
      ['gt on STRING', [{ property: 'name', gt: 'delta' }], ids(5, 6)],
      ['in', [{ property: 'n', in: [1, 4, 6, 99] }], ids(1, 4, 6)],
      ['in on STRING (missing is not a match)', [{ property: 'tag', in: ['red', 'green'] }], ids(1, 4, 5)],
      ['exists: true', [{ property: 'tag', exists: true }], ids(1, 3, 4, 5)],
      ['exists: false matches the missing property', [{ property: 'tag', exists: false }], ids(2, 6)],
      [
        'conditions are ANDed',
        [
          { property: 'n', gte: 2 },
          { property: 'active', eq: false },
        ],
        ids(2, 4, 6),
      ],
      [
        'AND with exists: false',
        [
          { property: 'rank', exists: false },
          { property: 'n', gt: 1 },
        ],
        ids(3),
      ],
      ['eq on a property no instance has', [{ property: 'nothere', eq: 1 }], []],
      ['ne on a property no instance has', [{ property: 'nothere', ne: 1 }], []],
      ['exists: false on a property no instance has', [{ property: 'nothere', exists: false }], ids(1, 2, 3, 4, 5, 6)],
      ['in with an empty list matches nothing', [{ property: 'n', in: [] }], []],
      ['exists on a name every JS object inherits (constructor)', [{ property: 'constructor', exists: true }], []],
      ['exists on a name every JS object inherits (toString)', [{ property: 'toString', exists: true }], []],
      [
        'exists: false on an inherited JS name matches all',
        [{ property: 'hasOwnProperty', exists: false }],
        ids(1, 2, 3, 4, 5, 6),
      ],
      ['gt on DATETIME is chronological', [{ property: 'at', gt: '2024-01-05T00:00:00.000Z' }], ids(4, 5)],
      ['lte on DATETIME (missing is not a match)', [{ property: 'at', lte: '2024-01-05T00:00:00.000Z' }], ids(1, 2, 6)],
      ['eq on DATETIME', [{ property: 'at', eq: '2023-12-31T23:59:59.000Z' }], ids(2)],
      ['eq on FLOAT', [{ property: 'score', eq: 2.5 }], ids(3)],
      ['ne on BOOLEAN', [{ property: 'active', ne: true }], ids(2, 4, 6)],
    ])('%s', async (_, where, expected) => {
      expect(await sorted({ where })).toEqual(expected);
      expect((await api().list({ database: db, classId: 'item', where })).totalCount).toBe(expected.length);
    });

    it('a condition with no operator or with two operators is BAD_USER_INPUT', async () => {
      expectError(await api().instances({ database: db, where: [{ property: 'n' }] }), 'BAD_USER_INPUT');
      expectError(await api().instances({ database: db, where: [{ property: 'n', eq: 1, gt: 0 }] }), 'BAD_USER_INPUT');
    });
  });

  describe('orderBy', () => {
    it.each<[string, InstanceOrder[], string[]]>([
      ['INT ascending', [{ property: 'n', direction: 'ASC' }], ids(1, 2, 3, 4, 5, 6)],
      ['INT descending', [{ property: 'n', direction: 'DESC' }], ids(6, 5, 4, 3, 2, 1)],
      ['direction defaults to ASC', [{ property: 'n' }], ids(1, 2, 3, 4, 5, 6)],
      ['STRING descending', [{ property: 'name', direction: 'DESC' }], ids(6, 5, 4, 3, 2, 1)],
      ['missing values last, ties by id (ASC)', [{ property: 'rank', direction: 'ASC' }], ids(2, 6, 1, 4, 5, 3)],
      ['missing values last, ties by id (DESC)', [{ property: 'rank', direction: 'DESC' }], ids(5, 1, 4, 2, 6, 3)],
      ['missing STRING last (ASC)', [{ property: 'tag', direction: 'ASC' }], ids(3, 5, 1, 4, 2, 6)],
      ['missing STRING last (DESC)', [{ property: 'tag', direction: 'DESC' }], ids(1, 4, 5, 3, 2, 6)],
      ['missing FLOAT last (DESC)', [{ property: 'score', direction: 'DESC' }], ids(5, 4, 3, 2, 1, 6)],
      [
        'two keys',
        [
          { property: 'active', direction: 'DESC' },
          { property: 'n', direction: 'DESC' },
        ],
        ids(5, 3, 1, 6, 4, 2),
      ],
      [
        'two keys with missing values',
        [
          { property: 'tag', direction: 'ASC' },
          { property: 'n', direction: 'DESC' },
        ],
        ids(3, 5, 4, 1, 6, 2),
      ],
      ['no orderBy is by id', [], ids(1, 2, 3, 4, 5, 6)],
      [
        'a property no instance has: all ties, by id',
        [{ property: 'nothere', direction: 'DESC' }],
        ids(1, 2, 3, 4, 5, 6),
      ],
    ])('%s', async (_, orderBy, expected) => {
      expect(await itemIds({ orderBy })).toEqual(expected);
    });

    it('DATETIME sorts chronologically, missing last', async () => {
      expect(await itemIds({ orderBy: [{ property: 'at', direction: 'ASC' }] })).toEqual(ids(6, 2, 1, 5, 4, 3));
      expect(await itemIds({ orderBy: [{ property: 'at', direction: 'DESC' }] })).toEqual(ids(4, 5, 1, 2, 6, 3));
    });

    it.each<[string, InstanceOrder[], string[]]>([
      ['rank ASC', [{ property: 'rank', direction: 'ASC' }], ids(2, 6, 1, 4, 5, 3)],
      ['rank DESC', [{ property: 'rank', direction: 'DESC' }], ids(5, 1, 4, 2, 6, 3)],
      ['tag DESC', [{ property: 'tag', direction: 'DESC' }], ids(1, 4, 5, 3, 2, 6)],
    ])(
      'paging one at a time through %s (ties and missing values) visits the same order',
      async (_, orderBy, expected) => {
        const seen: string[] = [];
        let after: string | null = null;
        for (let page = 0; page < 10; page++) {
          const conn: Connection<Instance> = await api().list({
            database: db,
            classId: 'item',
            orderBy,
            first: 1,
            after,
          });
          seen.push(...conn.edges.map((e) => e.node.id));
          if (!conn.pageInfo.hasNextPage) break;
          after = conn.pageInfo.endCursor;
        }
        expect(seen).toEqual(expected);
      },
    );

    it('orderBy combines with where', async () => {
      expect(
        await itemIds({
          where: [{ property: 'tag', exists: true }],
          orderBy: [{ property: 'score', direction: 'DESC' }],
        }),
      ).toEqual(ids(5, 4, 3, 1));
    });
  });

  describe('search', () => {
    it('is full text over string properties', async () => {
      expect(await sorted({ search: 'fox' })).toEqual(ids(1, 5));
      expect(await sorted({ search: 'quick' })).toEqual(ids(1, 3));
      expect(await sorted({ search: 'charlie' })).toEqual(ids(3));
      expect(await sorted({ search: 'nomatchwhatsoever' })).toEqual([]);
    });

    it.each(['fox)', '"unterminated', 'note:fox', 'fox AND (', '*', '\\', '[]{}~^!', '/regex/', 'a OR', '-', '   '])(
      'arbitrary user text %j is searched, never a server error',
      async (text) => {
        const res = await api().instances({ database: db, classId: 'item', search: text });
        expectData(res);
      },
    );

    it('is case-insensitive', async () => {
      expect(await sorted({ search: 'FOX' })).toEqual(ids(1, 5));
      expect(await sorted({ search: 'Charlie' })).toEqual(ids(3));
    });

    it('combines with where and classId, and reports totalCount', async () => {
      expect(
        await sorted({
          search: 'quick',
          where: [
            { property: 'active', eq: true },
            { property: 'n', gt: 1 },
          ],
        }),
      ).toEqual(ids(3));
      const conn = await api().list({ database: db, classId: 'item', search: 'fox' });
      expect(conn.totalCount).toBe(2);
      expect(await api().ids({ database: db, classId: 'other', search: 'fox' })).toEqual([]);
    });
  });

  it('deleted instances are not returned by instance, instances or search', async () => {
    const d = (await api().newDatabase()).database.name;
    await api().newClass(d, 'k', [{ name: 's', type: 'STRING' }]);
    await api().newInstance(d, 'k', { s: 'keep vanishing' }, 'keep');
    await api().newInstance(d, 'k', { s: 'gone vanishing' }, 'gone');
    const del = expectData(await api().deleteInstance({ database: d, id: 'gone', expectedSeq: 1 })).deleteInstance;
    await api().settle(d, [{ id: 'keep', seq: 1 }]);
    expect(expectData(await api().instance(d, 'gone', del.seq)).instance).toBeNull();
    expect(await api().ids({ database: d })).toEqual(['keep']);
    expect(await api().ids({ database: d, search: 'vanishing' })).toEqual(['keep']);
    expect(await api().ids({ database: d, where: [{ property: 's', exists: true }] })).toEqual(['keep']);
    expect((await api().list({ database: d })).totalCount).toBe(1);
  });
});
