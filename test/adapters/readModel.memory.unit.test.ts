import { describe, expect, it } from 'vitest';
import { createMemoryReadModel } from '../../src/adapters/readModel/memory.js';
import { comparePositions, compareStrings, positionOf, words } from '../../src/adapters/readModel/query.js';
import type { OrderKey } from '../../src/ports/readModel.js';
import { describeReadModelContract, instanceDoc } from '../contract/readModel.contract.js';

describeReadModelContract('memory', async () => ({ readModel: createMemoryReadModel(), cleanup: async () => {} }));

describe('memory read model', () => {
  it('pages through many hits in order, none missed or repeated (hits are cut to a page while gathered)', async () => {
    const rm = createMemoryReadModel();
    // Ties, mixed types and missing values: 1,500 hits, far more than twice a page before a cut.
    const value = (i: number) => (i % 7 === 0 ? undefined : i % 5 === 0 ? `s${i % 13}` : i % 40);
    const docs = Array.from({ length: 1_500 }, (_, i) =>
      instanceDoc('db', `i${i}`, 'C', value(i) === undefined ? { w: i } : { v: value(i), w: i }),
    );
    await rm.apply([...docs, instanceDoc('db', 'other', 'D', { v: 1 })]);
    const orderBy: OrderKey[] = [{ property: 'v', direction: 'DESC' }];
    const where = [{ property: 'w', op: 'gte' as const, value: 100 }];
    const expected = docs
      .filter((d) => (d.data.properties as { w: number }).w >= 100)
      .map((d) => positionOf(orderBy, d.id, d.data))
      .sort((a, b) => comparePositions(orderBy, a, b))
      .map((p) => p.id);
    for (const first of [1, 7, 300]) {
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await rm.searchInstances({ database: 'db', classId: 'C', where, orderBy, first, after });
        expect(page.totalCount).toBe(expected.length);
        seen.push(...page.docs.map((d) => d.id));
        if (!page.hasNextPage) break;
        after = page.cursors[page.cursors.length - 1];
      }
      expect(seen).toEqual(expected);
    }
  });

  it('hands out copies: mutating a written or a returned doc changes nothing stored', async () => {
    const rm = createMemoryReadModel();
    const doc = instanceDoc('db', 'a', 'C', { v: 1 });
    await rm.apply([doc]);
    (doc.data.properties as Record<string, unknown>).v = 2;
    const [got] = await rm.getMany('INSTANCE', ['db/a']);
    (got!.data.properties as Record<string, unknown>).v = 3;
    expect((await rm.getMany('INSTANCE', ['db/a']))[0]?.data).toEqual({ properties: { v: 1 } });
  });

  it('moves an instance re-created under another class', async () => {
    const rm = createMemoryReadModel();
    await rm.apply([instanceDoc('db', 'a', 'C', {}, 1)]);
    await rm.apply([{ ...instanceDoc('db', 'a', 'C', {}, 2), deleted: true }, instanceDoc('db', 'a', 'D', {}, 3)]);
    const q = { database: 'db', where: [], orderBy: [], first: 10 };
    expect((await rm.searchInstances({ ...q, classId: 'C' })).totalCount).toBe(0);
    expect((await rm.searchInstances({ ...q, classId: 'D' })).totalCount).toBe(1);
  });

  it('reads own properties only, never the prototype', async () => {
    const rm = createMemoryReadModel();
    await rm.apply([instanceDoc('db', 'a', 'C', JSON.parse('{"__proto__": 5}') as Record<string, unknown>)]);
    const q = { database: 'db', orderBy: [], first: 10 };
    const found = await rm.searchInstances({ ...q, where: [{ property: '__proto__', op: 'eq', value: 5 }] });
    expect(found.totalCount).toBe(1);
    const none = await rm.searchInstances({ ...q, where: [{ property: 'constructor', op: 'exists', value: true }] });
    expect(none.totalCount).toBe(0);
  });

  it('orders strings by code point, as Elasticsearch keywords do', () => {
    const astral = '\u{1F600}'; // a surrogate pair in UTF-16
    expect(compareStrings('\uFF5E', astral)).toBeLessThan(0);
    expect(compareStrings('a', 'b')).toBeLessThan(0);
    expect(compareStrings('ab', 'a')).toBeGreaterThan(0);
    expect(compareStrings('Z', 'a')).toBeLessThan(0);
  });

  it('splits words on anything but letters, marks and digits, lowercased', () => {
    expect(words("Don't stop—Ünïcode_x 3.14")).toEqual(['don', 't', 'stop', 'ünïcode', 'x', '3', '14']);
    expect(words(`${'a'.repeat(256)} b`)).toEqual(['b']);
  });

  it('queries 20,000 instances of one database among others quickly', async () => {
    const rm = createMemoryReadModel();
    const docs = Array.from({ length: 20_000 }, (_, i) =>
      instanceDoc(i % 10 === 0 ? 'other' : 'db', `i${i}`, 'C', { n: i % 97, s: `w${i % 13}` }),
    );
    await rm.apply(docs);
    const started = performance.now();
    const page = await rm.searchInstances({
      database: 'db',
      where: [{ property: 'n', op: 'gt', value: 10 }],
      search: 'w3',
      orderBy: [{ property: 'n', direction: 'DESC' }],
      first: 50,
    });
    expect(page.docs).toHaveLength(50);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
