import { beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../support/ids.js';
import { expectData, expectError } from './client.js';
import { profiles, useCluster } from './suite.js';

describe.each(profiles)('idempotency keys (%s)', (profile) => {
  const { api } = useCluster(profile, { gateways: 2 });
  let db = '';

  beforeAll(async () => {
    db = (await api().newDatabase()).database.name;
    await api().newClass(db, 'k', [
      { name: 'v', type: 'INT' },
      { name: 'w', type: 'STRING' },
    ]);
  });

  it('the same key with the same input returns the first answer and appends nothing', async () => {
    const name = randomId('db');
    const key = randomId('key');
    const input = { name, label: 'L', idempotencyKey: key };
    const first = expectData(await api().createDatabase(input)).createDatabase;
    const events = await api().eventsOf('DATABASE', name);
    expect(events).toHaveLength(2);

    const second = expectData(await api().createDatabase(input)).createDatabase;
    expect(second).toEqual(first);
    // Also through the other gateway (same thing on embedded).
    const third = expectData(await api(1).createDatabase(input)).createDatabase;
    expect(third).toEqual(first);
    expect(await api().eventsOf('DATABASE', name)).toEqual(events);
  });

  it('"same input" is the same JSON object: key order inside properties does not matter', async () => {
    const key = randomId('key');
    const id = randomId('i');
    const first = expectData(
      await api().request<{ createInstance: unknown }>(
        'mutation($input: CreateInstanceInput!) { createInstance(input: $input) { seq eventId instance { id properties } } }',
        { input: { database: db, classId: 'k', id, properties: { v: 1, w: 'a' }, idempotencyKey: key } },
      ),
    );
    const second = await api().request<{ createInstance: unknown }>(
      'mutation($input: CreateInstanceInput!) { createInstance(input: $input) { seq eventId instance { id properties } } }',
      { input: { idempotencyKey: key, properties: { w: 'a', v: 1 }, id, classId: 'k', database: db } },
    );
    expect(expectData(second)).toEqual(first);
    expect(await api().eventsOf('INSTANCE', `${db}/${id}`)).toHaveLength(2);
  });

  it('the same key with another input is IDEMPOTENCY_KEY_REUSED and appends nothing', async () => {
    const name = randomId('db');
    const key = randomId('key');
    expectData(await api().createDatabase({ name, label: 'one', idempotencyKey: key }));
    expectError(await api().createDatabase({ name, label: 'two', idempotencyKey: key }), 'IDEMPOTENCY_KEY_REUSED');
    expectError(
      await api().createDatabase({ name, label: 'one', description: 'x', idempotencyKey: key }),
      'IDEMPOTENCY_KEY_REUSED',
    );
    expect(await api().eventsOf('DATABASE', name)).toHaveLength(2);
    expect(expectData(await api().database(name, 1)).database).toMatchObject({ label: 'one' });
  });

  it('a replayed key answers first: before NOT_FOUND and CONFLICT of the now-changed state', async () => {
    const id = randomId('i');
    const createKey = randomId('key');
    const create = { database: db, classId: 'k', id, properties: { v: 1 }, idempotencyKey: createKey };
    const created = expectData(await api().createInstance(create)).createInstance;

    const updateKey = randomId('key');
    const update = { database: db, id, expectedSeq: 1, set: { v: 2 }, idempotencyKey: updateKey };
    const updated = expectData(await api().updateInstance(update)).updateInstance;
    expect(updated.seq).toBe(2);
    await api().update(db, id, 2, { set: { v: 3 } });

    // The instance is now at seq 3: a fresh update with expectedSeq 1 would be CONFLICT.
    expect(expectData(await api().updateInstance(update)).updateInstance).toEqual(updated);
    // A fresh create would be CONFLICT (it exists).
    expect(expectData(await api().createInstance(create)).createInstance).toEqual(created);

    const deleteKey = randomId('key');
    const del = { database: db, id, expectedSeq: 3, idempotencyKey: deleteKey };
    const deleted = expectData(await api().deleteInstance(del)).deleteInstance;
    // It is deleted now: a fresh delete would be NOT_FOUND.
    expect(expectData(await api().deleteInstance(del)).deleteInstance).toEqual(deleted);
    expect(await api().eventsOf('INSTANCE', `${db}/${id}`)).toHaveLength(8);
  });

  it('a replayed create returns the first answer even after the aggregate was deleted', async () => {
    const name = randomId('db');
    const key = randomId('key');
    const first = expectData(await api().createDatabase({ name, idempotencyKey: key })).createDatabase;
    expectData(await api().deleteDatabase({ name, expectedSeq: 1 }));
    expect(expectData(await api().createDatabase({ name, idempotencyKey: key })).createDatabase).toEqual(first);
    expect(await api().eventsOf('DATABASE', name)).toHaveLength(4);
  });

  it('keys are scoped to the mutation name', async () => {
    const key = randomId('key');
    const id = randomId('i');
    const created = expectData(
      await api().createInstance({ database: db, classId: 'k', id, properties: { v: 1 }, idempotencyKey: key }),
    ).createInstance;
    const updated = expectData(
      await api().updateInstance({ database: db, id, expectedSeq: 1, set: { v: 5 }, idempotencyKey: key }),
    ).updateInstance;
    expect(updated.seq).toBe(2);
    expect(updated.eventId).not.toBe(created.eventId);
    const deleted = expectData(
      await api().deleteInstance({ database: db, id, expectedSeq: 2, idempotencyKey: key }),
    ).deleteInstance;
    expect(deleted.seq).toBe(3);
  });

  it('keys are scoped to the database', async () => {
    const key = randomId('key');
    const a = expectData(await api().createDatabase({ name: randomId('db'), idempotencyKey: key })).createDatabase;
    const b = expectData(await api().createDatabase({ name: randomId('db'), idempotencyKey: key })).createDatabase;
    expect(b.database.name).not.toBe(a.database.name);
    expect(b.eventId).not.toBe(a.eventId);

    const other = (await api().newDatabase()).database.name;
    await api().newClass(other, 'k', [{ name: 'v', type: 'INT' }]);
    const k2 = randomId('key');
    const x = expectData(
      await api().createInstance({ database: db, classId: 'k', properties: { v: 1 }, idempotencyKey: k2 }),
    ).createInstance;
    const y = expectData(
      await api().createInstance({ database: other, classId: 'k', properties: { v: 1 }, idempotencyKey: k2 }),
    ).createInstance;
    expect(y.instance.database).toBe(other);
    expect(y.eventId).not.toBe(x.eventId);
  });

  it('without a key, the same create twice is a CONFLICT (no implicit deduplication)', async () => {
    const id = randomId('i');
    expectData(await api().createInstance({ database: db, classId: 'k', id, properties: { v: 1 } }));
    expectError(await api().createInstance({ database: db, classId: 'k', id, properties: { v: 1 } }), 'CONFLICT');
  });

  it('two concurrent requests with one key execute once and both get the first answer', async () => {
    for (let round = 0; round < 3; round++) {
      const key = randomId('key');
      // No id: a second execution would create a second instance with another generated id.
      const input = { database: db, classId: 'k', properties: { v: round }, idempotencyKey: key };
      const [a, b] = await Promise.all([api(0).createInstance(input), api(1).createInstance(input)]);
      const pa = expectData(a).createInstance;
      const pb = expectData(b).createInstance;
      expect(pb).toEqual(pa);
      const events = await api().eventsOf('INSTANCE', `${db}/${pa.instance.id}`);
      expect(events).toHaveLength(2);
      expect(events[0]).toMatchObject({ kind: 'COMMAND', idempotencyKey: key });
    }
  });

  it('concurrent requests with one key and different inputs: one executes, the others IDEMPOTENCY_KEY_REUSED', async () => {
    const key = randomId('key');
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        api(i % 2).createInstance({ database: db, classId: 'k', properties: { v: 100 + i }, idempotencyKey: key }),
      ),
    );
    const ok = results.filter((r) => !r.body.errors);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((x) => x.body.errors)) expectError(r, 'IDEMPOTENCY_KEY_REUSED');
    const created = expectData(ok[0]!).createInstance;
    await api().settle(db, [{ id: created.instance.id, seq: 1 }]);
    const listed = await api().ids({
      database: db,
      where: [
        { property: 'v', gte: 100 },
        { property: 'v', lt: 108 },
      ],
    });
    expect(listed).toEqual([created.instance.id]);
  });

  it('many concurrent updates with one key execute once', async () => {
    const id = randomId('i');
    await api().newInstance(db, 'k', { v: 0 }, id);
    const key = randomId('key');
    const input = { database: db, id, expectedSeq: 1, set: { v: 42 }, idempotencyKey: key };
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => api(i % 2).updateInstance(input)));
    const payloads = results.map((r) => expectData(r).updateInstance);
    for (const p of payloads) expect(p).toEqual(payloads[0]);
    expect(payloads[0]?.seq).toBe(2);
    const events = await api().eventsOf('INSTANCE', `${db}/${id}`);
    expect(events.map((e) => e.seq)).toEqual([1, 1, 2, 2]);
  });
});
