import { describe, expect, it } from 'vitest';
import { randomId } from '../support/ids.js';
import { expectData, expectError } from './client.js';
import { profiles, useCluster } from './suite.js';
import type { Event } from './types.js';

/** Everything survives a restart of every process on the same storage, and seq continues. */
describe.each(profiles)('persistence across a restart (%s)', (profile) => {
  const { api, cluster } = useCluster(profile);

  it('databases, classes, instances, events and idempotency keys survive; seq continues', async () => {
    const db = (await api().newDatabase({ label: 'durable', description: 'kept' })).database;
    await api().newClass(db.name, 'k', [
      { name: 's', type: 'STRING', required: true },
      { name: 'n', type: 'INT' },
      { name: 'r', type: 'REFERENCE', target: 'k' },
    ]);
    expectData(await api().updateOntologyClass({ database: db.name, id: 'k', expectedSeq: 1, label: 'K' }));
    const written: { id: string; seq: number }[] = [];
    for (let i = 0; i < 12; i++) {
      const c = await api().newInstance(db.name, 'k', { s: `item ${i} persisted`, n: i }, `i${i}`);
      written.push({ id: c.instance.id, seq: c.seq });
    }
    const upd = await api().update(db.name, 'i0', 1, { set: { n: 100, r: 'i1' } });
    written[0] = { id: 'i0', seq: upd.seq };
    expectData(await api().deleteInstance({ database: db.name, id: 'i11', expectedSeq: 1 }));
    written.pop();
    const key = randomId('key');
    const keyed = expectData(
      await api().createInstance({
        database: db.name,
        classId: 'k',
        id: 'keyed',
        properties: { s: 'once' },
        idempotencyKey: key,
      }),
    ).createInstance;
    written.push({ id: 'keyed', seq: 1 });
    await api().settle(db.name, written);

    const before = {
      database: expectData(await api().database(db.name, 1)).database,
      cls: expectData(await api().ontologyClass(db.name, 'k', 2)).ontologyClass,
      list: await api().list({ database: db.name, first: 100, orderBy: [{ property: 'n', direction: 'DESC' }] }),
      events: new Map<string, Event[]>(),
    };
    for (const id of ['i0', 'i5', 'i11', 'keyed'])
      before.events.set(id, await api().eventsOf('INSTANCE', `${db.name}/${id}`));
    const dbEvents = await api().eventsOf('DATABASE', db.name);
    const classEvents = await api().eventsOf('ONTOLOGY_CLASS', `${db.name}/k`);
    expect(before.list.totalCount).toBe(12);

    await cluster().restart();

    // Queries (with minSeq, as the read model may be rebuilding).
    expect(expectData(await api().database(db.name, 1)).database).toEqual(before.database);
    expect(expectData(await api().ontologyClass(db.name, 'k', 2)).ontologyClass).toEqual(before.cls);
    await api().settle(db.name, written);
    expect(expectData(await api().instance(db.name, 'i11', 2)).instance).toBeNull();
    const list = await api().list({ database: db.name, first: 100, orderBy: [{ property: 'n', direction: 'DESC' }] });
    expect(list.totalCount).toBe(12);
    expect(list.edges.map((e) => e.node)).toEqual(before.list.edges.map((e) => e.node));
    expect(await api().ids({ database: db.name, search: 'persisted' })).toHaveLength(11);

    // Events, byte for byte.
    for (const [id, events] of before.events)
      expect(await api().eventsOf('INSTANCE', `${db.name}/${id}`)).toEqual(events);
    expect(await api().eventsOf('DATABASE', db.name)).toEqual(dbEvents);
    expect(await api().eventsOf('ONTOLOGY_CLASS', `${db.name}/k`)).toEqual(classEvents);

    // Seq continues; conflicts see the persisted seq.
    expect((await api().update(db.name, 'i0', 2, { set: { n: 101 } })).seq).toBe(3);
    expectError(await api().updateInstance({ database: db.name, id: 'i1', expectedSeq: 2, set: { n: 0 } }), 'CONFLICT');
    const dup = expectError(await api().createDatabase({ name: db.name }), 'CONFLICT');
    expect(dup.extensions).toMatchObject({ expectedSeq: 0, actualSeq: 1 });
    expectError(
      await api().updateInstance({ database: db.name, id: 'i11', expectedSeq: 2, set: { n: 0 } }),
      'NOT_FOUND',
    );
    const again = await api().newInstance(db.name, 'k', { s: 'back' }, 'i11');
    expect(again.seq).toBe(3);
    const cu = expectData(
      await api().updateOntologyClass({ database: db.name, id: 'k', expectedSeq: 2, description: 'd' }),
    ).updateOntologyClass;
    expect(cu.seq).toBe(3);

    // The idempotency key still answers with the first answer, and appends nothing.
    const replay = expectData(
      await api().createInstance({
        database: db.name,
        classId: 'k',
        id: 'keyed',
        properties: { s: 'once' },
        idempotencyKey: key,
      }),
    ).createInstance;
    expect(replay).toEqual(keyed);
    expectError(
      await api().createInstance({
        database: db.name,
        classId: 'k',
        id: 'keyed',
        properties: { s: 'twice' },
        idempotencyKey: key,
      }),
      'IDEMPOTENCY_KEY_REUSED',
    );
    expect(await api().eventsOf('INSTANCE', `${db.name}/keyed`)).toEqual(before.events.get('keyed'));
  });

  it('a second restart right after writes loses nothing that was acknowledged', async () => {
    const db = (await api().newDatabase()).database.name;
    await api().newClass(db, 'k', [{ name: 'n', type: 'INT' }]);
    const acked = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api().newInstance(db, 'k', { n: i }, `q${i}`)),
    );
    await cluster().restart();
    await api().settle(
      db,
      acked.map((a) => ({ id: a.instance.id, seq: a.seq })),
    );
    expect((await api().list({ database: db, first: 100 })).totalCount).toBe(20);
    for (const a of acked) expect(await api().eventsOf('INSTANCE', `${db}/${a.instance.id}`)).toHaveLength(2);
  });
});
