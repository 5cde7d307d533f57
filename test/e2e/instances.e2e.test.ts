import { beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../support/ids.js';
import { INSTANCE_FIELDS, ISO_DATE_TIME } from './api.js';
import { errorCodes, expectData, expectError } from './client.js';
import { profiles, useCluster } from './suite.js';
import type { Instance, JsonObject, OntologyClass } from './types.js';

type InstanceWithLinks = Instance & {
  class: Pick<OntologyClass, 'id' | 'database' | 'label'> | null;
  friend: Pick<Instance, 'id' | 'properties'> | null;
  employer: Pick<Instance, 'id' | 'classId'> | null;
};

const WITH_LINKS = `query Linked($database: ID!, $id: ID!, $minSeq: Int) {
  instance(database: $database, id: $id, minSeq: $minSeq) {
    ${INSTANCE_FIELDS}
    class { id database label }
    friend: ref(property: "friend") { id properties }
    employer: ref(property: "employer") { id classId }
  }
}`;

describe.each(profiles)('instances (%s)', (profile) => {
  const { api } = useCluster(profile);
  let db = '';

  // One database with a self-referencing class and a second class, shared by the tests of this file.
  beforeAll(async () => {
    db = (await api().newDatabase()).database.name;
    await api().newClass(db, 'company', [{ name: 'name', type: 'STRING', required: true }], { label: 'Company' });
    await api().newClass(
      db,
      'person',
      [
        { name: 'name', type: 'STRING', required: true },
        { name: 'age', type: 'INT' },
        { name: 'score', type: 'FLOAT' },
        { name: 'active', type: 'BOOLEAN' },
        { name: 'born', type: 'DATETIME' },
        { name: 'meta', type: 'JSON' },
        { name: 'friend', type: 'REFERENCE', target: 'person' },
        { name: 'employer', type: 'REFERENCE', target: 'company' },
      ],
      { label: 'Person' },
    );
  });

  const person = (props: JsonObject, id?: string) => api().newInstance(db, 'person', props, id);

  it('createInstance returns the write-side state with every property type', async () => {
    const company = await api().newInstance(db, 'company', { name: 'Acme' }, randomId('co'));
    const friend = await person({ name: 'Bob' }, randomId('p'));
    const id = randomId('p');
    const properties: JsonObject = {
      name: 'Ann',
      age: 41,
      score: 9.5,
      active: true,
      born: '1984-03-01T10:00:00.000Z',
      meta: { tags: ['a', 'b'], nested: { x: 1 }, nothing: null },
      friend: friend.instance.id,
      employer: company.instance.id,
    };
    const res = await person(properties, id);
    expect(res.seq).toBe(1);
    expect(res.eventId).toMatch(/\S/);
    expect(res.instance).toMatchObject({ database: db, id, classId: 'person', seq: 1, properties });
    expect(res.instance.createdAt).toMatch(ISO_DATE_TIME);
    expect(res.instance.updatedAt).toMatch(ISO_DATE_TIME);
    const read = expectData(await api().instance(db, id, 1)).instance;
    expect(read).toEqual(res.instance);
  });

  it('JSON keys named like Object.prototype members are plain data, read back by id and by search', async () => {
    // Elasticsearch's client refused whole answers holding such keys: the instance could not be read.
    const cls = randomId('proto');
    await api().newClass(db, cls, [
      { name: 'name', type: 'STRING' },
      { name: 'meta', type: 'JSON' },
    ]);
    const properties = JSON.parse(
      '{"name": "p", "meta": {"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}}',
    ) as JsonObject;
    const res = await api().newInstance(db, cls, properties, randomId('p'));
    const read = expectData(await api().instance(db, res.instance.id, res.seq)).instance;
    expect(read?.properties).toEqual(properties);
    // Read by id at its seq above: the read model holds it, and a search sees what it holds.
    const found = expectData(
      await api().instances({ database: db, classId: cls, where: [{ property: 'name', eq: 'p' }] }),
    ).instances;
    expect(found.edges.map((e) => e.node.properties)).toEqual([properties]);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('an instance without an id gets a generated one', async () => {
    const res = expectData(
      await api().createInstance({ database: db, classId: 'person', properties: { name: 'Gen' } }),
    ).createInstance;
    expect(res.instance.id).toMatch(/\S/);
    const read = expectData(await api().instance(db, res.instance.id, res.seq)).instance;
    expect(read).toMatchObject({ id: res.instance.id, properties: { name: 'Gen' } });
    const other = await person({ name: 'Gen' });
    expect(other.instance.id).not.toBe(res.instance.id);
  });

  it('an INT property accepts an integral number; FLOAT accepts an integer', async () => {
    const res = await person({ name: 'Num', age: 3, score: 2 });
    expect(res.instance.properties).toMatchObject({ age: 3, score: 2 });
  });

  it.each<[string, JsonObject]>([
    ['unknown property', { name: 'x', nickname: 'y' }],
    ['missing required property', { age: 3 }],
    ['required property null', { name: null }],
    ['STRING given a number', { name: 12 }],
    ['INT given a fraction', { name: 'x', age: 1.5 }],
    ['INT given a string', { name: 'x', age: '1' }],
    ['FLOAT given a string', { name: 'x', score: 'high' }],
    ['BOOLEAN given a string', { name: 'x', active: 'true' }],
    ['DATETIME not ISO-8601', { name: 'x', born: 'yesterday' }],
    ['DATETIME given a number', { name: 'x', born: 1700000000 }],
    ['DATETIME with month 13', { name: 'x', born: '2024-13-01T00:00:00.000Z' }],
    ['DATETIME on February 30', { name: 'x', born: '2024-02-30T00:00:00.000Z' }],
    ['an unknown property named like an Object method (constructor)', { name: 'x', constructor: 'y' }],
    ['an unknown property named like an Object method (toString)', { name: 'x', toString: 'y' }],
    ['REFERENCE given a number', { name: 'x', friend: 5 }],
    ['REFERENCE to a missing instance', { name: 'x', friend: 'nobody-here' }],
  ])('%s is BAD_USER_INPUT with field and reason; nothing appended', async (_, properties) => {
    const id = randomId('bad');
    const err = expectError(
      await api().createInstance({ database: db, classId: 'person', id, properties }),
      'BAD_USER_INPUT',
    );
    expect(err.extensions).toMatchObject({ field: expect.any(String), reason: expect.any(String) });
    expect(await api().eventsOf('INSTANCE', `${db}/${id}`)).toEqual([]);
  });

  it('properties must be a JSON object', async () => {
    for (const properties of [[1, 2], 'text', 3]) {
      const res = await api().createInstance({ database: db, classId: 'person', properties });
      expect(errorCodes(res)[0]).toBe('BAD_USER_INPUT');
    }
  });

  it('REFERENCE: an instance with that id in another database does not count', async () => {
    const other = (await api().newDatabase()).database.name;
    await api().newClass(other, 'person', [{ name: 'name', type: 'STRING', required: true }]);
    const shared = randomId('p');
    await api().newInstance(other, 'person', { name: 'elsewhere' }, shared);
    const err = expectError(
      await api().createInstance({ database: db, classId: 'person', properties: { name: 'x', friend: shared } }),
      'BAD_USER_INPUT',
    );
    expect(err.extensions.field).toEqual(expect.stringMatching(/friend/));
  });

  it('REFERENCE: wrong class and deleted target are BAD_USER_INPUT; self reference is fine', async () => {
    const company = await api().newInstance(db, 'company', { name: 'Initech' }, randomId('co'));
    const wrong = expectError(
      await api().createInstance({
        database: db,
        classId: 'person',
        properties: { name: 'x', friend: company.instance.id },
      }),
      'BAD_USER_INPUT',
    );
    expect(wrong.extensions.field).toEqual(expect.stringMatching(/friend/));

    const gone = await person({ name: 'Gone' }, randomId('p'));
    expectData(await api().deleteInstance({ database: db, id: gone.instance.id, expectedSeq: 1 }));
    expectError(
      await api().createInstance({
        database: db,
        classId: 'person',
        properties: { name: 'x', friend: gone.instance.id },
      }),
      'BAD_USER_INPUT',
    );

    const me = await person({ name: 'Narcissus' }, randomId('p'));
    const self = await api().update(db, me.instance.id, 1, { set: { friend: me.instance.id } });
    expect(self.instance.properties).toMatchObject({ friend: me.instance.id });
    expect(self.seq).toBe(2);
  });

  it('Instance.class and Instance.ref(property) resolve the class and the referenced instances', async () => {
    const company = await api().newInstance(db, 'company', { name: 'Globex' }, randomId('co'));
    const bob = await person({ name: 'Bob' }, randomId('p'));
    const ann = await person({ name: 'Ann', friend: bob.instance.id, employer: company.instance.id }, randomId('p'));
    await api().settle(db, [
      { id: company.instance.id, seq: 1 },
      { id: bob.instance.id, seq: 1 },
    ]);
    const read = expectData(
      await api().request<{ instance: InstanceWithLinks | null }>(WITH_LINKS, {
        database: db,
        id: ann.instance.id,
        minSeq: 1,
      }),
    ).instance;
    expect(read?.class).toEqual({ id: 'person', database: db, label: 'Person' });
    expect(read?.friend).toEqual({ id: bob.instance.id, properties: { name: 'Bob' } });
    expect(read?.employer).toEqual({ id: company.instance.id, classId: 'company' });

    // Unset reference → null; the list resolves class and refs for many rows too.
    const lone = expectData(
      await api().request<{ instance: InstanceWithLinks | null }>(WITH_LINKS, {
        database: db,
        id: bob.instance.id,
        minSeq: 1,
      }),
    ).instance;
    expect(lone?.friend).toBeNull();
    expect(lone?.employer).toBeNull();

    const list = expectData(
      await api().request<{ instances: { edges: { node: InstanceWithLinks }[] } }>(
        `query($database: ID!) { instances(database: $database, classId: "person", first: 1000) {
          edges { node { ${INSTANCE_FIELDS} class { id database label } friend: ref(property: "friend") { id properties }
            employer: ref(property: "employer") { id classId } } } } }`,
        { database: db },
      ),
    ).instances.edges.map((e) => e.node);
    const annRow = list.find((n) => n.id === ann.instance.id);
    expect(annRow?.class?.id).toBe('person');
    expect(annRow?.friend?.id).toBe(bob.instance.id);
    expect(list.every((n) => n.class?.id === 'person')).toBe(true);
  });

  it('ref(property) of a deleted target is null', async () => {
    const bob = await person({ name: 'Bob' }, randomId('p'));
    const ann = await person({ name: 'Ann', friend: bob.instance.id }, randomId('p'));
    const del = expectData(
      await api().deleteInstance({ database: db, id: bob.instance.id, expectedSeq: 1 }),
    ).deleteInstance;
    expect(expectData(await api().instance(db, bob.instance.id, del.seq)).instance).toBeNull();
    const read = expectData(
      await api().request<{ instance: InstanceWithLinks | null }>(WITH_LINKS, {
        database: db,
        id: ann.instance.id,
        minSeq: 1,
      }),
    ).instance;
    expect(read?.friend).toBeNull();
  });

  it('updateInstance merges set, applies unset, and returns seq 2', async () => {
    const p = await person({ name: 'Upd', age: 1, score: 1.5, active: false }, randomId('p'));
    const res = await api().update(db, p.instance.id, 1, { set: { age: 2, meta: { k: 'v' } }, unset: ['score'] });
    expect(res.seq).toBe(2);
    expect(res.instance.seq).toBe(2);
    expect(res.instance.properties).toEqual({ name: 'Upd', age: 2, active: false, meta: { k: 'v' } });
    const read = expectData(await api().instance(db, p.instance.id, 2)).instance;
    expect(read?.properties).toEqual(res.instance.properties);
    expect(read?.createdAt).toBe(p.instance.createdAt);
    expect(Date.parse(res.instance.updatedAt)).toBeGreaterThanOrEqual(Date.parse(p.instance.updatedAt));
    expect(res.instance.createdAt).toBe(p.instance.createdAt);
  });

  it('set of null is the same as unset', async () => {
    const p = await person({ name: 'Nul', age: 5, active: true }, randomId('p'));
    const res = await api().update(db, p.instance.id, 1, { set: { age: null } });
    expect(res.instance.properties).toEqual({ name: 'Nul', active: true });
    expect('age' in res.instance.properties).toBe(false);
    const read = expectData(await api().instance(db, p.instance.id, 2)).instance;
    expect(read?.properties).toEqual({ name: 'Nul', active: true });
  });

  it.each<[string, { set?: JsonObject; unset?: string[] }]>([
    ['unsetting a required property', { unset: ['name'] }],
    ['setting a required property to null', { set: { name: null } }],
    ['setting a wrong type', { set: { age: 'old' } }],
    ['setting an unknown property', { set: { nickname: 'x' } }],
    ['a reference to a missing instance', { set: { friend: 'nobody-here' } }],
  ])('%s is BAD_USER_INPUT; nothing appended', async (_, change) => {
    const p = await person({ name: 'Keep', age: 1 }, randomId('p'));
    const err = expectError(
      await api().updateInstance({ database: db, id: p.instance.id, expectedSeq: 1, ...change }),
      'BAD_USER_INPUT',
    );
    expect(err.extensions).toMatchObject({ field: expect.any(String), reason: expect.any(String) });
    expect(await api().eventsOf('INSTANCE', `${db}/${p.instance.id}`)).toHaveLength(2);
  });

  it('updateInstance with a stale expectedSeq is CONFLICT with aggregateId, expectedSeq, actualSeq', async () => {
    const p = await person({ name: 'C' }, randomId('p'));
    await api().update(db, p.instance.id, 1, { set: { age: 1 } });
    const err = expectError(
      await api().updateInstance({ database: db, id: p.instance.id, expectedSeq: 1, set: { age: 2 } }),
      'CONFLICT',
    );
    expect(err.extensions).toMatchObject({ aggregateId: `${db}/${p.instance.id}`, expectedSeq: 1, actualSeq: 2 });
  });

  it('update or delete of a missing or deleted instance is NOT_FOUND with aggregateId', async () => {
    const ghost = randomId('ghost');
    const upd = expectError(
      await api().updateInstance({ database: db, id: ghost, expectedSeq: 1, set: {} }),
      'NOT_FOUND',
    );
    expect(upd.extensions).toMatchObject({ aggregateId: `${db}/${ghost}` });
    const del = expectError(await api().deleteInstance({ database: db, id: ghost, expectedSeq: 1 }), 'NOT_FOUND');
    expect(del.extensions).toMatchObject({ aggregateId: `${db}/${ghost}` });

    const p = await person({ name: 'D' }, randomId('p'));
    expectData(await api().deleteInstance({ database: db, id: p.instance.id, expectedSeq: 1 }));
    expectError(
      await api().updateInstance({ database: db, id: p.instance.id, expectedSeq: 2, set: { age: 1 } }),
      'NOT_FOUND',
    );
    expectError(await api().deleteInstance({ database: db, id: p.instance.id, expectedSeq: 2 }), 'NOT_FOUND');
  });

  it('creating an instance in a missing database is NOT_FOUND; in a missing class it is refused', async () => {
    const missingDb = randomId('db');
    const err = expectError(
      await api().createInstance({ database: missingDb, classId: 'person', id: 'x', properties: { name: 'x' } }),
      'NOT_FOUND',
    );
    expect(err.extensions).toMatchObject({ aggregateId: missingDb });
    const noClass = await api().createInstance({ database: db, classId: 'nope', id: 'x', properties: {} });
    expect(['NOT_FOUND', 'BAD_USER_INPUT']).toContain(errorCodes(noClass)[0]);
    expect(await api().eventsOf('INSTANCE', `${db}/x`)).toEqual([]);
  });

  it('deleteInstance returns { id, seq, eventId }; the instance is gone; re-create continues seq', async () => {
    const id = randomId('p');
    await person({ name: 'First' }, id);
    await api().update(db, id, 1, { set: { age: 9 } });
    const del = expectData(await api().deleteInstance({ database: db, id, expectedSeq: 2 })).deleteInstance;
    expect(del).toMatchObject({ id, seq: 3 });
    expect(del.eventId).toMatch(/\S/);
    expect(expectData(await api().instance(db, id, 3)).instance).toBeNull();
    expect(expectData(await api().instance(db, id)).instance).toBeNull();

    const again = await person({ name: 'Second' }, id);
    expect(again.seq).toBe(4);
    expect(again.instance).toMatchObject({ id, seq: 4, properties: { name: 'Second' } });
    expect(expectData(await api().instance(db, id, 4)).instance).toMatchObject({
      seq: 4,
      properties: { name: 'Second' },
    });
    const domain = (await api().eventsOf('INSTANCE', `${db}/${id}`)).filter((e) => e.kind === 'DOMAIN');
    expect(domain.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });

  it('creating an existing live instance is CONFLICT with expectedSeq 0 and the actual seq', async () => {
    const id = randomId('p');
    await person({ name: 'Live' }, id);
    await api().update(db, id, 1, { set: { age: 1 } });
    const err = expectError(
      await api().createInstance({ database: db, classId: 'person', id, properties: { name: 'x' } }),
      'CONFLICT',
    );
    expect(err.extensions).toMatchObject({ aggregateId: `${db}/${id}`, expectedSeq: 0, actualSeq: 2 });
  });

  it.each([
    ['path traversal', '../x'],
    ['500 characters', 'i'.repeat(500)],
    ['slash', 'a/b'],
    ['space', 'a b'],
  ])('an invalid instance id (%s) is BAD_USER_INPUT, in mutations and queries', async (_, id) => {
    const err = expectError(
      await api().createInstance({ database: db, classId: 'person', id, properties: { name: 'x' } }),
      'BAD_USER_INPUT',
    );
    expect(err.extensions).toMatchObject({ field: expect.stringMatching(/id/), reason: expect.any(String) });
    expectError(await api().updateInstance({ database: db, id, expectedSeq: 1, set: {} }), 'BAD_USER_INPUT');
    expectError(await api().instance(db, id), 'BAD_USER_INPUT');
  });

  describe('order of checks', () => {
    it('malformed input comes before NOT_FOUND and CONFLICT', async () => {
      expectError(
        await api().updateInstance({ database: db, id: randomId('ghost'), expectedSeq: 1, set: [1, 2] }),
        'BAD_USER_INPUT',
      );
      const p = await person({ name: 'O' }, randomId('p'));
      expectError(
        await api().updateInstance({ database: db, id: p.instance.id, expectedSeq: 9, set: 'not an object' }),
        'BAD_USER_INPUT',
      );
    });

    it('NOT_FOUND comes before CONFLICT and schema validation', async () => {
      expectError(
        await api().updateInstance({ database: db, id: randomId('ghost'), expectedSeq: 9, set: { age: 'old' } }),
        'NOT_FOUND',
      );
    });

    it('CONFLICT comes before schema validation', async () => {
      const p = await person({ name: 'O' }, randomId('p'));
      expectError(
        await api().updateInstance({ database: db, id: p.instance.id, expectedSeq: 9, set: { age: 'old' } }),
        'CONFLICT',
      );
      expectError(
        await api().updateInstance({ database: db, id: p.instance.id, expectedSeq: 9, unset: ['name'] }),
        'CONFLICT',
      );
      const dup = expectError(
        await api().createInstance({ database: db, classId: 'person', id: p.instance.id, properties: { bogus: 1 } }),
        'CONFLICT',
      );
      expect(dup.extensions).toMatchObject({ expectedSeq: 0, actualSeq: 1 });
    });
  });
});
