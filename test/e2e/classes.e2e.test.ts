import { describe, expect, it } from 'vitest';
import { randomId } from '../support/ids.js';
import { ISO_DATE_TIME } from './api.js';
import { errorCodes, expectData, expectError } from './client.js';
import { profiles, useCluster } from './suite.js';
import type { Connection, OntologyClass, PropertyInput } from './types.js';

const ALL_TYPES: PropertyInput[] = [
  { name: 'title', type: 'STRING', required: true },
  { name: 'count', type: 'INT' },
  { name: 'ratio', type: 'FLOAT', required: false },
  { name: 'active', type: 'BOOLEAN' },
  { name: 'at', type: 'DATETIME' },
  { name: 'meta', type: 'JSON' },
  { name: 'parent', type: 'REFERENCE', target: 'node' },
];

describe.each(profiles)('ontology classes (%s)', (profile) => {
  const { api } = useCluster(profile);

  it('createOntologyClass returns the write-side state with every property type', async () => {
    const { database } = await api().newDatabase();
    const res = expectData(
      await api().createOntologyClass({
        database: database.name,
        id: 'node',
        label: 'Node',
        description: 'A node',
        properties: ALL_TYPES,
      }),
    ).createOntologyClass;
    expect(res.seq).toBe(1);
    expect(res.eventId).toMatch(/\S/);
    expect(res.ontologyClass).toMatchObject({
      database: database.name,
      id: 'node',
      label: 'Node',
      description: 'A node',
      seq: 1,
    });
    expect(res.ontologyClass.createdAt).toMatch(ISO_DATE_TIME);
    expect(res.ontologyClass.properties).toEqual([
      { name: 'title', type: 'STRING', required: true, target: null },
      { name: 'count', type: 'INT', required: false, target: null },
      { name: 'ratio', type: 'FLOAT', required: false, target: null },
      { name: 'active', type: 'BOOLEAN', required: false, target: null },
      { name: 'at', type: 'DATETIME', required: false, target: null },
      { name: 'meta', type: 'JSON', required: false, target: null },
      { name: 'parent', type: 'REFERENCE', required: false, target: 'node' },
    ]);
    const read = expectData(await api().ontologyClass(database.name, 'node', 1)).ontologyClass;
    expect(read).toEqual(res.ontologyClass);
  });

  it('label, description and properties may be empty', async () => {
    const { database } = await api().newDatabase();
    const cls = await api().newClass(database.name, 'bare', []);
    expect(cls.ontologyClass).toMatchObject({ label: null, description: null, properties: [] });
  });

  it('ontologyClasses paginates a database’s classes with totalCount', async () => {
    const { database } = await api().newDatabase();
    const ids = ['a1', 'b2', 'c3', 'd4', 'e5'];
    for (const id of ids) {
      const c = await api().newClass(database.name, id, []);
      expectData(await api().ontologyClass(database.name, id, c.seq));
    }
    const other = await api().newDatabase();
    await api().newClass(other.database.name, 'zz', []);

    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const conn: Connection<OntologyClass> = expectData(
        await api().ontologyClasses(database.name, 2, after),
      ).ontologyClasses;
      expect(conn.totalCount).toBe(5);
      expect(conn.edges.length).toBeLessThanOrEqual(2);
      seen.push(...conn.edges.map((e) => e.node.id));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen.sort()).toEqual(ids);
  });

  it('creating a class in a missing database is refused (NOT_FOUND) and appends nothing', async () => {
    const db = randomId('db');
    const err = expectError(await api().createOntologyClass({ database: db, id: 'c', properties: [] }), 'NOT_FOUND');
    expect(err.extensions).toMatchObject({ aggregateId: db });
    expect(await api().eventsOf('ONTOLOGY_CLASS', `${db}/c`)).toEqual([]);
  });

  it('creating an existing class is CONFLICT with expectedSeq 0', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'dup', []);
    const err = expectError(
      await api().createOntologyClass({ database: database.name, id: 'dup', properties: [] }),
      'CONFLICT',
    );
    expect(err.extensions).toMatchObject({ aggregateId: `${database.name}/dup`, expectedSeq: 0, actualSeq: 1 });
  });

  it.each([
    ['path traversal id', { id: '../x' }],
    ['500-character id', { id: 'c'.repeat(500) }],
    ['id with a slash', { id: 'a/b' }],
    ['empty id', { id: '' }],
    ['REFERENCE without target', { properties: [{ name: 'r', type: 'REFERENCE' }] }],
    ['REFERENCE to a missing class', { properties: [{ name: 'r', type: 'REFERENCE', target: 'nope' }] }],
    [
      'duplicate property names',
      {
        properties: [
          { name: 'p', type: 'STRING' },
          { name: 'p', type: 'INT' },
        ],
      },
    ],
    ['invalid property name', { properties: [{ name: '1 bad', type: 'STRING' }] }],
  ])('%s is BAD_USER_INPUT with field and reason, nothing appended', async (_, override) => {
    const { database } = await api().newDatabase();
    const input = { database: database.name, id: 'cls', properties: [], ...override };
    const err = expectError(await api().createOntologyClass(input), 'BAD_USER_INPUT');
    expect(err.extensions).toMatchObject({ field: expect.any(String), reason: expect.any(String) });
    expect(await api().eventsOf('ONTOLOGY_CLASS', `${database.name}/cls`)).toEqual([]);
  });

  it('a class may reference itself', async () => {
    const { database } = await api().newDatabase();
    const cls = await api().newClass(database.name, 'person', [
      { name: 'friend', type: 'REFERENCE', target: 'person' },
    ]);
    expect(cls.ontologyClass.properties[0]).toMatchObject({ type: 'REFERENCE', target: 'person' });
  });

  it('updateOntologyClass changes label, adds and removes properties; seq 2', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'doc', [
      { name: 'a', type: 'STRING' },
      { name: 'b', type: 'INT' },
    ]);
    const res = expectData(
      await api().updateOntologyClass({
        database: database.name,
        id: 'doc',
        expectedSeq: 1,
        label: 'Document',
        description: 'Docs',
        addProperties: [{ name: 'c', type: 'BOOLEAN', required: true }],
        removeProperties: ['b'],
      }),
    ).updateOntologyClass;
    expect(res.seq).toBe(2);
    expect(res.ontologyClass).toMatchObject({ label: 'Document', description: 'Docs', seq: 2 });
    expect(res.ontologyClass.properties.map((p) => p.name).sort()).toEqual(['a', 'c']);
    expect(res.ontologyClass.properties.find((p) => p.name === 'c')).toMatchObject({ type: 'BOOLEAN', required: true });
    const read = expectData(await api().ontologyClass(database.name, 'doc', 2)).ontologyClass;
    expect(read).toEqual(res.ontologyClass);
  });

  it('adding a property that already exists is BAD_USER_INPUT', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'doc', [{ name: 'a', type: 'STRING' }]);
    expectError(
      await api().updateOntologyClass({
        database: database.name,
        id: 'doc',
        expectedSeq: 1,
        addProperties: [{ name: 'a', type: 'INT' }],
      }),
      'BAD_USER_INPUT',
    );
    expect(await api().eventsOf('ONTOLOGY_CLASS', `${database.name}/doc`)).toHaveLength(2);
  });

  it('instances are validated against the re-created class, not the deleted one', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'doc', [{ name: 'a', type: 'STRING' }]);
    expectData(await api().deleteOntologyClass({ database: database.name, id: 'doc', expectedSeq: 1 }));
    await api().newClass(database.name, 'doc', [{ name: 'b', type: 'INT', required: true }]);
    expectError(
      await api().createInstance({ database: database.name, classId: 'doc', properties: { a: 'old' } }),
      'BAD_USER_INPUT',
    );
    const ok = await api().newInstance(database.name, 'doc', { b: 1 });
    expect(ok.instance.properties).toEqual({ b: 1 });
  });

  it('updateOntologyClass with a stale expectedSeq is CONFLICT; of a missing class NOT_FOUND', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'doc', []);
    const err = expectError(
      await api().updateOntologyClass({ database: database.name, id: 'doc', expectedSeq: 3, label: 'x' }),
      'CONFLICT',
    );
    expect(err.extensions).toMatchObject({ aggregateId: `${database.name}/doc`, expectedSeq: 3, actualSeq: 1 });
    const missing = expectError(
      await api().updateOntologyClass({ database: database.name, id: 'nope', expectedSeq: 1, label: 'x' }),
      'NOT_FOUND',
    );
    expect(missing.extensions).toMatchObject({ aggregateId: `${database.name}/nope` });
    expect(await api().eventsOf('ONTOLOGY_CLASS', `${database.name}/doc`)).toHaveLength(2);
  });

  it('adding a required property to a class with live instances is BAD_USER_INPUT; optional is fine', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'doc', [{ name: 'a', type: 'STRING' }]);
    const inst = await api().newInstance(database.name, 'doc', { a: 'x' }, 'i1');
    const err = expectError(
      await api().updateOntologyClass({
        database: database.name,
        id: 'doc',
        expectedSeq: 1,
        addProperties: [{ name: 'must', type: 'STRING', required: true }],
      }),
      'BAD_USER_INPUT',
    );
    expect(err.extensions).toMatchObject({ field: expect.any(String), reason: expect.any(String) });
    expect(await api().eventsOf('ONTOLOGY_CLASS', `${database.name}/doc`)).toHaveLength(2);

    const optional = expectData(
      await api().updateOntologyClass({
        database: database.name,
        id: 'doc',
        expectedSeq: 1,
        addProperties: [{ name: 'maybe', type: 'STRING' }],
      }),
    ).updateOntologyClass;
    expect(optional.seq).toBe(2);

    // Once the class has no live instance, a required property may be added.
    expectData(await api().deleteInstance({ database: database.name, id: 'i1', expectedSeq: inst.seq }));
    const required = expectData(
      await api().updateOntologyClass({
        database: database.name,
        id: 'doc',
        expectedSeq: 2,
        addProperties: [{ name: 'must', type: 'STRING', required: true }],
      }),
    ).updateOntologyClass;
    expect(required.seq).toBe(3);
  });

  it('deleting a class with live instances is BAD_USER_INPUT; after they are gone it succeeds', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'doc', [{ name: 'a', type: 'STRING' }]);
    const inst = await api().newInstance(database.name, 'doc', { a: 'x' }, 'i1');
    const err = expectError(
      await api().deleteOntologyClass({ database: database.name, id: 'doc', expectedSeq: 1 }),
      'BAD_USER_INPUT',
    );
    expect(err.extensions).toMatchObject({ reason: expect.any(String) });

    expectData(await api().deleteInstance({ database: database.name, id: 'i1', expectedSeq: inst.seq }));
    const del = expectData(
      await api().deleteOntologyClass({ database: database.name, id: 'doc', expectedSeq: 1 }),
    ).deleteOntologyClass;
    expect(del).toMatchObject({ id: 'doc', seq: 2 });
    expect(del.eventId).toMatch(/\S/);
    expect(expectData(await api().ontologyClass(database.name, 'doc', 2)).ontologyClass).toBeNull();
    expect(expectData(await api().ontologyClass(database.name, 'doc')).ontologyClass).toBeNull();
    const listed = expectData(await api().ontologyClasses(database.name, 100)).ontologyClasses;
    expect(listed.edges.map((e) => e.node.id)).not.toContain('doc');
    expect(listed.totalCount).toBe(0);
  });

  it('a deleted class takes no instances and cannot be updated (NOT_FOUND)', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'doc', []);
    expectData(await api().deleteOntologyClass({ database: database.name, id: 'doc', expectedSeq: 1 }));
    const create = await api().createInstance({ database: database.name, classId: 'doc', properties: {} });
    expect(['NOT_FOUND', 'BAD_USER_INPUT']).toContain(errorCodes(create)[0]);
    const upd = expectError(
      await api().updateOntologyClass({ database: database.name, id: 'doc', expectedSeq: 2, label: 'x' }),
      'NOT_FOUND',
    );
    expect(upd.extensions).toMatchObject({ aggregateId: `${database.name}/doc` });
    expectError(await api().deleteOntologyClass({ database: database.name, id: 'doc', expectedSeq: 2 }), 'NOT_FOUND');
  });

  it('re-creating a deleted class continues its seq', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'doc', [{ name: 'a', type: 'STRING' }]);
    expectData(await api().updateOntologyClass({ database: database.name, id: 'doc', expectedSeq: 1, label: 'v2' }));
    expectData(await api().deleteOntologyClass({ database: database.name, id: 'doc', expectedSeq: 2 }));
    const again = await api().newClass(database.name, 'doc', [{ name: 'b', type: 'INT' }]);
    expect(again.seq).toBe(4);
    expect(again.ontologyClass).toMatchObject({ seq: 4, label: null });
    expect(again.ontologyClass.properties.map((p) => p.name)).toEqual(['b']);
    const read = expectData(await api().ontologyClass(database.name, 'doc', 4)).ontologyClass;
    expect(read).toMatchObject({ seq: 4 });
  });

  describe('order of checks', () => {
    it('malformed input comes before CONFLICT', async () => {
      const { database } = await api().newDatabase();
      await api().newClass(database.name, 'doc', []);
      expectError(
        await api().updateOntologyClass({
          database: database.name,
          id: 'doc',
          expectedSeq: 9,
          addProperties: [{ name: 'bad name!', type: 'STRING' }],
        }),
        'BAD_USER_INPUT',
      );
    });

    it('NOT_FOUND comes before CONFLICT', async () => {
      const { database } = await api().newDatabase();
      expectError(
        await api().updateOntologyClass({ database: database.name, id: 'ghost', expectedSeq: 9, label: 'x' }),
        'NOT_FOUND',
      );
    });

    it('CONFLICT comes before validation against live instances', async () => {
      const { database } = await api().newDatabase();
      await api().newClass(database.name, 'doc', []);
      await api().newInstance(database.name, 'doc', {}, 'i1');
      expectError(
        await api().updateOntologyClass({
          database: database.name,
          id: 'doc',
          expectedSeq: 9,
          addProperties: [{ name: 'must', type: 'STRING', required: true }],
        }),
        'CONFLICT',
      );
      expectError(await api().deleteOntologyClass({ database: database.name, id: 'doc', expectedSeq: 9 }), 'CONFLICT');
    });

    it('a create of an existing class with invalid properties is CONFLICT only if the input is well formed', async () => {
      const { database } = await api().newDatabase();
      await api().newClass(database.name, 'doc', []);
      // Well-formed but refers to a missing target: state validation, after CONFLICT.
      expectError(
        await api().createOntologyClass({
          database: database.name,
          id: 'doc',
          properties: [{ name: 'r', type: 'REFERENCE', target: 'nope' }],
        }),
        'CONFLICT',
      );
      // Malformed (invalid property name): BAD_USER_INPUT first.
      expectError(
        await api().createOntologyClass({
          database: database.name,
          id: 'doc',
          properties: [{ name: '!', type: 'STRING' }],
        }),
        'BAD_USER_INPUT',
      );
    });
  });
});
