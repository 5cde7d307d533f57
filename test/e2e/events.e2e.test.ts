import { beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../support/ids.js';
import { ISO_DATE_TIME } from './api.js';
import { expectData, expectError } from './client.js';
import { profiles, useCluster } from './suite.js';
import type { Event } from './types.js';

/** Checks one accepted command's pair of envelopes: COMMAND then DOMAIN, linked by causation id. */
function expectPair(command: Event | undefined, domain: Event | undefined, seq: number, eventId?: string) {
  expect(command?.kind).toBe('COMMAND');
  expect(domain?.kind).toBe('DOMAIN');
  expect(command?.seq).toBe(seq);
  expect(domain?.seq).toBe(seq);
  expect(domain?.causationId).toBe(command?.eventId);
  expect(domain?.correlationId).toBe(command?.correlationId);
  expect(command?.eventId).not.toBe(domain?.eventId);
  if (eventId) expect(domain?.eventId).toBe(eventId);
}

describe.each(profiles)('events (%s)', (profile) => {
  const { api } = useCluster(profile);
  let db = '';

  beforeAll(async () => {
    db = (await api().newDatabase()).database.name;
    await api().newClass(db, 'k', [
      { name: 'v', type: 'INT' },
      { name: 's', type: 'STRING' },
    ]);
  });

  it('each command appends its COMMAND envelope then its DOMAIN event; seq, causation, actor', async () => {
    const id = randomId('i');
    const c = await api().newInstance(db, 'k', { v: 1 }, id);
    const u1 = await api().update(db, id, 1, { set: { v: 2 } });
    const u2 = await api().update(db, id, 2, { unset: ['v'] });
    const d = expectData(await api().deleteInstance({ database: db, id, expectedSeq: 3 })).deleteInstance;

    const events = await api().eventsOf('INSTANCE', `${db}/${id}`);
    expect(events).toHaveLength(8);
    expect(events.map((e) => e.kind)).toEqual([
      'COMMAND',
      'DOMAIN',
      'COMMAND',
      'DOMAIN',
      'COMMAND',
      'DOMAIN',
      'COMMAND',
      'DOMAIN',
    ]);
    expect(events.map((e) => e.seq)).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    const ids = [c.eventId, u1.eventId, u2.eventId, d.eventId];
    for (let i = 0; i < 4; i++) expectPair(events[2 * i], events[2 * i + 1], i + 1, ids[i]);
    for (const e of events) {
      expect(e).toMatchObject({ aggregateType: 'INSTANCE', aggregateId: `${db}/${id}`, actor: 'anonymous' });
      expect(e.occurredAt).toMatch(ISO_DATE_TIME);
      expect(e.type).toMatch(/\S/);
      expect(e.schemaVersion).toBeGreaterThanOrEqual(1);
      expect(e.payload).not.toBeNull();
      expect(typeof e.payload).toBe('object');
    }
    // Commands of different requests have different correlation ids.
    expect(new Set(events.map((e) => e.correlationId)).size).toBe(4);
    // Three domain event types: created, updated (twice), deleted.
    const domainTypes = events.filter((e) => e.kind === 'DOMAIN').map((e) => e.type);
    expect(domainTypes[1]).toBe(domainTypes[2]);
    expect(new Set(domainTypes).size).toBe(3);
    // A command never causes itself: no causation id, or another envelope's.
    for (const e of events.filter((x) => x.kind === 'COMMAND')) expect(e.causationId).not.toBe(e.eventId);
  });

  it('database and class aggregates have their own envelopes', async () => {
    const d = await api().newDatabase({ label: 'ev' });
    const cls = await api().newClass(d.database.name, 'c', [{ name: 'x', type: 'STRING' }]);
    const up = expectData(
      await api().updateOntologyClass({ database: d.database.name, id: 'c', expectedSeq: 1, label: 'C' }),
    ).updateOntologyClass;
    const dbEvents = await api().eventsOf('DATABASE', d.database.name);
    expect(dbEvents).toHaveLength(2);
    expectPair(dbEvents[0], dbEvents[1], 1, d.eventId);
    expect(dbEvents.every((e) => e.aggregateType === 'DATABASE' && e.aggregateId === d.database.name)).toBe(true);

    const classEvents = await api().eventsOf('ONTOLOGY_CLASS', `${d.database.name}/c`);
    expect(classEvents).toHaveLength(4);
    expectPair(classEvents[0], classEvents[1], 1, cls.eventId);
    expectPair(classEvents[2], classEvents[3], 2, up.eventId);
    expect(
      classEvents.every((e) => e.aggregateType === 'ONTOLOGY_CLASS' && e.aggregateId === `${d.database.name}/c`),
    ).toBe(true);
  });

  it('fromSeq is inclusive and first limits the count', async () => {
    const id = randomId('i');
    await api().newInstance(db, 'k', { v: 0 }, id);
    for (let v = 1; v <= 4; v++) await api().update(db, id, v, { set: { v } });
    const all = await api().eventsOf('INSTANCE', `${db}/${id}`);
    expect(all).toHaveLength(10);

    const from3 = await api().eventsOf('INSTANCE', `${db}/${id}`, { fromSeq: 3 });
    expect(from3.map((e) => e.seq)).toEqual([3, 3, 4, 4, 5, 5]);
    expect(from3).toEqual(all.slice(4));

    expect(await api().eventsOf('INSTANCE', `${db}/${id}`, { fromSeq: 5 })).toEqual(all.slice(8));
    expect(await api().eventsOf('INSTANCE', `${db}/${id}`, { fromSeq: 6 })).toEqual([]);
    expect(await api().eventsOf('INSTANCE', `${db}/${id}`, { fromSeq: 0 })).toEqual(all);
    expect(await api().eventsOf('INSTANCE', `${db}/${id}`, { first: 3 })).toEqual(all.slice(0, 3));
    expect(await api().eventsOf('INSTANCE', `${db}/${id}`, { fromSeq: 2, first: 3 })).toEqual(all.slice(2, 5));
    expect(await api().eventsOf('INSTANCE', `${db}/${id}`, { first: 1000 })).toEqual(all);
  });

  it('a negative fromSeq is BAD_USER_INPUT', async () => {
    expectError(await api().events('INSTANCE', `${db}/x`, { fromSeq: -1 }), 'BAD_USER_INPUT');
  });

  it('first above 1,000 or negative is BAD_USER_INPUT', async () => {
    expectError(await api().events('INSTANCE', `${db}/x`, { first: 1001 }), 'BAD_USER_INPUT');
    expectError(await api().events('INSTANCE', `${db}/x`, { first: -1 }), 'BAD_USER_INPUT');
  });

  it('first defaults to 100', async () => {
    const id = randomId('i');
    await api().newInstance(db, 'k', { v: 0 }, id);
    for (let v = 1; v <= 55; v++) await api().update(db, id, v, { set: { v } });
    const events = await api().eventsOf('INSTANCE', `${db}/${id}`);
    expect(events).toHaveLength(100);
    expect(events.at(-1)?.seq).toBe(50);
    expect(await api().eventsOf('INSTANCE', `${db}/${id}`, { first: 1000 })).toHaveLength(112);
  });

  it('an aggregate that never existed has [] for every aggregate type', async () => {
    expect(await api().eventsOf('DATABASE', randomId('db'))).toEqual([]);
    expect(await api().eventsOf('ONTOLOGY_CLASS', `${randomId('db')}/c`)).toEqual([]);
    expect(await api().eventsOf('INSTANCE', `${db}/${randomId('never')}`)).toEqual([]);
  });

  it('an invalid aggregate id is BAD_USER_INPUT', async () => {
    expectError(await api().events('DATABASE', 'Not Valid'), 'BAD_USER_INPUT');
    expectError(await api().events('INSTANCE', `${db}/../x`), 'BAD_USER_INPUT');
  });

  it('a rejected command leaves no envelope', async () => {
    const id = randomId('i');
    await api().newInstance(db, 'k', { v: 1 }, id);
    const before = await api().eventsOf('INSTANCE', `${db}/${id}`);
    expectError(await api().updateInstance({ database: db, id, expectedSeq: 5, set: { v: 2 } }), 'CONFLICT');
    expectError(await api().updateInstance({ database: db, id, expectedSeq: 1, set: { v: 'x' } }), 'BAD_USER_INPUT');
    expectError(await api().createInstance({ database: db, classId: 'k', id, properties: {} }), 'CONFLICT');
    expect(await api().eventsOf('INSTANCE', `${db}/${id}`)).toEqual(before);
  });

  it('the command envelope records the idempotency key', async () => {
    const id = randomId('i');
    const key = randomId('key');
    expectData(
      await api().createInstance({ database: db, classId: 'k', id, properties: { v: 1 }, idempotencyKey: key }),
    );
    const [command] = await api().eventsOf('INSTANCE', `${db}/${id}`);
    expect(command).toMatchObject({ kind: 'COMMAND', idempotencyKey: key });
  });

  it('the domain payload carries what changed', async () => {
    const id = randomId('i');
    await api().newInstance(db, 'k', { v: 1, s: 'hello' }, id);
    const events = await api().eventsOf('INSTANCE', `${db}/${id}`);
    expect(JSON.stringify(events[1]?.payload)).toContain('hello');
  });
});
