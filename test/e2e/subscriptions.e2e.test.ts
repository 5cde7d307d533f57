import { describe, expect, it } from 'vitest';
import { randomId } from '../support/ids.js';
import { INSTANCE_FIELDS } from './api.js';
import { expectData, subscribe } from './client.js';
import { profiles, useCluster } from './suite.js';
import type { AggregateChange, AggregateType, InstanceChange } from './types.js';

const INSTANCE_CHANGED = `subscription OnInstance($database: ID!, $classId: ID, $id: ID) {
  instanceChanged(database: $database, classId: $classId, id: $id) {
    change id database classId seq instance { ${INSTANCE_FIELDS} }
  }
}`;

const AGGREGATE_CHANGED = `subscription OnAggregate($aggregateType: AggregateType, $aggregateId: ID) {
  aggregateChanged(aggregateType: $aggregateType, aggregateId: $aggregateId) { aggregateType aggregateId seq eventType eventId }
}`;

type InstanceEvent = { instanceChanged: InstanceChange };
type AggregateEvent = { aggregateChanged: AggregateChange };

const key = (c: InstanceChange) => `${c.id}:${c.seq}`;

/**
 * Subscriptions over graphql-ws. On production there are two gateways: every test subscribes on
 * gateway B and mutates on gateway A, so notifications cross processes through the change feed.
 */
describe.each(profiles)('subscriptions (%s)', (profile) => {
  const { api, gateway } = useCluster(profile, { gateways: 2 });
  const A = () => api(0);
  const wsB = () => gateway(1).ws;

  async function freshDatabase() {
    const db = (await A().newDatabase()).database.name;
    await A().newClass(db, 'a', [
      { name: 'n', type: 'INT' },
      { name: 's', type: 'STRING' },
    ]);
    await A().newClass(db, 'b', [{ name: 'n', type: 'INT' }]);
    return db;
  }

  const onInstances = (variables: { database: string; classId?: string; id?: string }) =>
    subscribe<InstanceEvent>(wsB(), INSTANCE_CHANGED, variables);

  it('instanceChanged delivers CREATED, UPDATED, DELETED with the projected state at each seq', async () => {
    const db = await freshDatabase();
    const sub = await onInstances({ database: db });
    const created = await A().newInstance(db, 'a', { n: 1, s: 'x' }, 'x1');
    const updated = await A().update(db, 'x1', 1, { set: { n: 2 }, unset: ['s'] });
    const deleted = expectData(await A().deleteInstance({ database: db, id: 'x1', expectedSeq: 2 })).deleteInstance;

    const events = (await sub.until((e) => e.instanceChanged.seq === 3)).map((e) => e.instanceChanged);
    expect(events.map((e) => [e.change, e.seq])).toEqual([
      ['CREATED', 1],
      ['UPDATED', 2],
      ['DELETED', deleted.seq],
    ]);
    for (const e of events) expect(e).toMatchObject({ id: 'x1', database: db, classId: 'a' });
    expect(events[0]?.instance).toEqual(created.instance);
    expect(events[1]?.instance).toEqual(updated.instance);
    expect(events[2]?.instance).toBeNull();

    // Re-creating the id is a CREATED at the next seq.
    const again = await A().newInstance(db, 'a', { n: 9 }, 'x1');
    expect((await sub.next()).instanceChanged).toMatchObject({
      change: 'CREATED',
      id: 'x1',
      seq: 4,
      instance: again.instance,
    });
  });

  it('instanceChanged filters by classId and by id', async () => {
    const db = await freshDatabase();
    const all = await onInstances({ database: db });
    const classA = await onInstances({ database: db, classId: 'a' });
    const onlyX = await onInstances({ database: db, id: 'x' });
    const otherDb = await onInstances({ database: await freshDatabase() });

    await A().newInstance(db, 'a', { n: 1 }, 'x');
    await A().newInstance(db, 'a', { n: 1 }, 'y');
    await A().newInstance(db, 'b', { n: 1 }, 'z');
    await A().update(db, 'y', 1, { set: { n: 2 } });
    await A().update(db, 'z', 1, { set: { n: 2 } });
    await A().update(db, 'x', 1, { set: { n: 2 } }); // the fence: matches every filter

    const allSeen = new Set<string>();
    await all.until((e) => allSeen.add(key(e.instanceChanged)).size === 6);
    expect([...allSeen].sort()).toEqual(['x:1', 'x:2', 'y:1', 'y:2', 'z:1', 'z:2']);

    const aSeen: InstanceChange[] = [];
    await classA.until((e) => {
      aSeen.push(e.instanceChanged);
      return aSeen.some((c) => key(c) === 'x:2') && aSeen.some((c) => key(c) === 'y:2');
    });
    expect(aSeen.map(key).sort()).toEqual(['x:1', 'x:2', 'y:1', 'y:2']);
    expect(aSeen.every((c) => c.classId === 'a')).toBe(true);

    const xSeen = (await onlyX.until((e) => key(e.instanceChanged) === 'x:2')).map((e) => e.instanceChanged);
    expect(xSeen.map(key)).toEqual(['x:1', 'x:2']);

    // Nothing from this database reached the other database's subscription.
    expect(otherDb.pending()).toBe(0);
  });

  it('aggregateChanged with no arguments delivers every change (databases, classes, instances)', async () => {
    const sub = await subscribe<AggregateEvent>(wsB(), AGGREGATE_CHANGED, {});
    const d = await A().newDatabase();
    const db = d.database.name;
    const c = await A().newClass(db, 'a', [{ name: 'n', type: 'INT' }]);
    const i1 = await A().newInstance(db, 'a', { n: 1 }, 'i');
    const i2 = await A().update(db, 'i', 1, { set: { n: 2 } });
    const i3 = expectData(await A().deleteInstance({ database: db, id: 'i', expectedSeq: 2 })).deleteInstance;
    const c2 = expectData(await A().deleteOntologyClass({ database: db, id: 'a', expectedSeq: 1 })).deleteOntologyClass;
    const d2 = expectData(await A().deleteDatabase({ name: db, expectedSeq: 1 })).deleteDatabase;

    const expected: [AggregateType, string, number, string][] = [
      ['DATABASE', db, 1, d.eventId],
      ['ONTOLOGY_CLASS', `${db}/a`, 1, c.eventId],
      ['INSTANCE', `${db}/i`, 1, i1.eventId],
      ['INSTANCE', `${db}/i`, 2, i2.eventId],
      ['INSTANCE', `${db}/i`, 3, i3.eventId],
      ['ONTOLOGY_CLASS', `${db}/a`, 2, c2.eventId],
      ['DATABASE', db, 2, d2.eventId],
    ];
    const mine: AggregateChange[] = [];
    await sub.until((e) => {
      const a = e.aggregateChanged;
      if (a.aggregateId === db || a.aggregateId.startsWith(`${db}/`)) mine.push(a);
      return mine.length === expected.length;
    });
    const asKey = (x: [AggregateType, string, number, string]) => x.join('|');
    expect(mine.map((a) => asKey([a.aggregateType, a.aggregateId, a.seq, a.eventId])).sort()).toEqual(
      expected.map(asKey).sort(),
    );
    for (const a of mine) expect(a.eventType).toMatch(/\S/);
    // Per aggregate, in seq order.
    const instanceSeqs = mine.filter((a) => a.aggregateType === 'INSTANCE').map((a) => a.seq);
    expect(instanceSeqs).toEqual([1, 2, 3]);
  });

  it('aggregateChanged filters by aggregateType and by aggregateId', async () => {
    const db = await freshDatabase();
    const instancesOnly = await subscribe<AggregateEvent>(wsB(), AGGREGATE_CHANGED, { aggregateType: 'INSTANCE' });
    const one = await subscribe<AggregateEvent>(wsB(), AGGREGATE_CHANGED, {
      aggregateType: 'INSTANCE',
      aggregateId: `${db}/x`,
    });
    expectData(await A().updateOntologyClass({ database: db, id: 'b', expectedSeq: 1, label: 'B' }));
    await A().newInstance(db, 'a', { n: 1 }, 'y');
    await A().newInstance(db, 'a', { n: 1 }, 'x');
    await A().update(db, 'x', 1, { set: { n: 2 } });

    // Order holds per aggregate only: y's creation may arrive after x's update (other partitions).
    const awaited = new Set([`${db}/x:2`, `${db}/y:1`]);
    const seen = await instancesOnly.until((e) => {
      awaited.delete(`${e.aggregateChanged.aggregateId}:${e.aggregateChanged.seq}`);
      return awaited.size === 0;
    });
    expect(seen.every((e) => e.aggregateChanged.aggregateType === 'INSTANCE')).toBe(true);
    const mine = seen.map((e) => e.aggregateChanged).filter((a) => a.aggregateId.startsWith(`${db}/`));
    expect(mine.map((a) => `${a.aggregateId}:${a.seq}`).sort()).toEqual([`${db}/x:1`, `${db}/x:2`, `${db}/y:1`]);

    const xs = await one.until((e) => e.aggregateChanged.seq === 2);
    expect(xs.map((e) => [e.aggregateChanged.aggregateId, e.aggregateChanged.seq])).toEqual([
      [`${db}/x`, 1],
      [`${db}/x`, 2],
    ]);
  });

  it('30 rapid updates arrive in seq order, each with the state at its seq', async () => {
    const db = await freshDatabase();
    // Subscribe first: a CREATED notification may still be on its way after createInstance answers.
    const sub = await onInstances({ database: db, id: 'r' });
    const agg = await subscribe<AggregateEvent>(wsB(), AGGREGATE_CHANGED, {
      aggregateType: 'INSTANCE',
      aggregateId: `${db}/r`,
    });
    await A().newInstance(db, 'a', { n: 0 }, 'r');
    for (let n = 1; n <= 30; n++) await A().update(db, 'r', n, { set: { n } });

    const all = Array.from({ length: 31 }, (_, i) => i + 1);
    const events = (await sub.until((e) => e.instanceChanged.seq === 31)).map((e) => e.instanceChanged);
    expect(events.map((e) => e.seq)).toEqual(all);
    for (const e of events) {
      expect(e.change).toBe(e.seq === 1 ? 'CREATED' : 'UPDATED');
      expect(e.instance?.seq).toBe(e.seq);
      expect(e.instance?.properties).toEqual({ n: e.seq - 1 });
    }
    const aggSeqs = (await agg.until((e) => e.aggregateChanged.seq === 31)).map((e) => e.aggregateChanged.seq);
    expect(aggSeqs).toEqual(all);
  });

  it('after a notification, instances lists and search include the change', async () => {
    const db = await freshDatabase();
    const sub = await onInstances({ database: db, classId: 'a' });
    const word = `w${randomId('')}`;
    const B = api(1);

    await A().newInstance(db, 'a', { n: 1, s: `alpha ${word}` }, 'k');
    expect((await sub.next()).instanceChanged).toMatchObject({ change: 'CREATED', id: 'k', seq: 1 });
    expect(await B.ids({ database: db, classId: 'a' })).toEqual(['k']);
    expect(await B.ids({ database: db, search: word })).toEqual(['k']);
    expect(await A().ids({ database: db, where: [{ property: 'n', eq: 1 }] })).toEqual(['k']);

    await A().update(db, 'k', 1, { set: { n: 2 } });
    expect((await sub.next()).instanceChanged).toMatchObject({ change: 'UPDATED', seq: 2 });
    expect(await B.ids({ database: db, where: [{ property: 'n', eq: 2 }] })).toEqual(['k']);
    expect(await B.ids({ database: db, where: [{ property: 'n', eq: 1 }] })).toEqual([]);

    expectData(await A().deleteInstance({ database: db, id: 'k', expectedSeq: 2 }));
    expect((await sub.next()).instanceChanged).toMatchObject({ change: 'DELETED', seq: 3, instance: null });
    expect(await B.ids({ database: db })).toEqual([]);
    expect(await B.ids({ database: db, search: word })).toEqual([]);
  });

  it('every subscriber on every gateway gets the notification', async () => {
    const db = await freshDatabase();
    const onA = await subscribe<InstanceEvent>(gateway(0).ws, INSTANCE_CHANGED, { database: db });
    const onB1 = await onInstances({ database: db });
    const onB2 = await onInstances({ database: db, id: 'm' });
    const created = await A().newInstance(db, 'a', { n: 7 }, 'm');
    for (const sub of [onA, onB1, onB2]) {
      expect((await sub.next()).instanceChanged).toEqual({
        change: 'CREATED',
        id: 'm',
        database: db,
        classId: 'a',
        seq: 1,
        instance: created.instance,
      });
    }
  });

  it('a closed subscription stops receiving; a new one only gets later changes', async () => {
    const db = await freshDatabase();
    const first = await onInstances({ database: db });
    await A().newInstance(db, 'a', { n: 1 }, 'c');
    expect((await first.next()).instanceChanged.seq).toBe(1);
    await first.close();
    const second = await onInstances({ database: db });
    await A().update(db, 'c', 1, { set: { n: 2 } });
    expect((await second.next()).instanceChanged).toMatchObject({ id: 'c', seq: 2, change: 'UPDATED' });
  });

  it('an invalid database name is a BAD_USER_INPUT error on the subscription', async () => {
    const sub = await onInstances({ database: 'Not Valid!' });
    const result = await sub.nextResult();
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT', field: 'database', reason: expect.any(String) },
    });
  });
});
