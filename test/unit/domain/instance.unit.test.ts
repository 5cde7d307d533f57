import { describe, expect, it } from 'vitest';
import type { AnyDomainEvent, InstanceState } from '../../../src/core/domain/index.js';
import { targetOf } from '../../../src/core/domain/index.js';
import { BadUserInputError, ConflictError, NotFoundError } from '../../../src/core/errors.js';
import {
  at,
  byId,
  classOf,
  classState,
  DB,
  dbRef,
  deletedClassState,
  given,
  instanceCreated,
  instanceOf,
  instanceState,
  prop,
  raw,
  stateAfter,
} from './spec.js';

const person = classState('Person', [
  prop('name', 'STRING', { required: true }),
  prop('age', 'INT'),
  prop('boss', 'REFERENCE', { target: 'Person' }),
]);
const ann = instanceOf('ann');
const annCreated = instanceCreated('ann', 'Person', { name: 'Ann', age: 40 });
const deleted: AnyDomainEvent = { type: 'InstanceDeleted', payload: {} };
const ctx = { ontologyClass: person };
const create = (properties: unknown, id: string | null = 'ann') =>
  raw('CreateInstance', { database: DB, classId: 'Person', id, properties });
const update = (input: Record<string, unknown>) =>
  raw('UpdateInstance', { database: DB, id: 'ann', expectedSeq: 1, ...input });
const updated = (set: Record<string, unknown>, unset: string[] = []): AnyDomainEvent => ({
  type: 'InstanceUpdated',
  payload: { set, unset },
});

describe('CreateInstance', () => {
  it('creates an instance, guarded by its database and class', () => {
    const decision = given(ann)
      .when(create({ name: 'Ann', age: 40 }), ctx)
      .then([annCreated]);
    expect(decision).toMatchObject({
      target: ann,
      expectedSeq: 0,
      guards: { parent: classOf('Person'), requireLive: [dbRef, classOf('Person')], liveAfter: true },
    });
  });

  it('needs an id by the time it is decided (the service generates one)', () => {
    expect(() => targetOf(create({ name: 'Ann' }, null))).toThrow(/id/);
    expect(targetOf(create({ name: 'Ann' }))).toEqual(ann);
  });

  it('is NOT_FOUND of the database, then of the class', () => {
    given(ann)
      .when(create({ name: 'Ann' }), { ...ctx, databaseLive: false })
      .thenThrows(NotFoundError, { aggregateId: DB });
    given(ann)
      .when(create({ name: 'Ann' }), { ontologyClass: null })
      .thenThrows(NotFoundError, { aggregateId: `${DB}/Person` });
    given(ann)
      .when(create({ name: 'Ann' }), { ontologyClass: deletedClassState('Person') })
      .thenThrows(NotFoundError, { aggregateId: `${DB}/Person` });
  });

  it('checks malformed input before NOT_FOUND', () => {
    given(ann)
      .when(create([1, 2]), { ontologyClass: null })
      .thenThrows(BadUserInputError, { field: 'input.properties' });
    given(ann)
      .when(create({ name: 'Ann' }, 'bad id'), { ontologyClass: null, databaseLive: false })
      .thenThrows(BadUserInputError, { field: 'input.id' });
  });

  it.each([[null], ['Ann'], [[{ name: 'Ann' }]], [undefined]])('refuses properties %j', (properties) => {
    given(ann).when(create(properties), ctx).thenThrows(BadUserInputError, { field: 'input.properties' });
  });

  it('is CONFLICT with expectedSeq 0 when live, before validating values', () => {
    given(ann, [annCreated])
      .when(create({ age: 'old' }), ctx)
      .thenThrows(ConflictError, { aggregateId: `${DB}/ann`, expectedSeq: 0, actualSeq: 1 });
  });

  it('treats a null value as absent', () => {
    given(ann)
      .when(create({ name: 'Ann', age: null }), ctx)
      .then([instanceCreated('ann', 'Person', { name: 'Ann' })]);
    given(ann)
      .when(create({ name: null }), ctx)
      .thenThrows(BadUserInputError, { field: 'input.properties.name' });
  });

  it('may reference itself when its class is the target', () => {
    const decision = given(ann)
      .when(create({ name: 'Ann', boss: 'ann' }), ctx)
      .then([instanceCreated('ann', 'Person', { name: 'Ann', boss: 'ann' })]);
    expect(decision.guards.requireLive).toEqual([dbRef, classOf('Person')]);
  });

  it('may not reference itself when its class is not the target', () => {
    const pupil = classState('Pupil', [prop('teacher', 'REFERENCE', { target: 'Teacher' })]);
    given(ann)
      .when(raw('CreateInstance', { database: DB, classId: 'Pupil', id: 'ann', properties: { teacher: 'ann' } }), {
        ontologyClass: pupil,
      })
      .thenThrows(BadUserInputError, { field: 'input.properties.teacher' });
  });

  it('keeps referenced instances live', () => {
    const bob = instanceState('bob', 'Person', { name: 'Bob' });
    const decision = given(ann)
      .when(create({ name: 'Ann', boss: 'bob' }), { ...ctx, referencedInstances: byId(bob) })
      .then([instanceCreated('ann', 'Person', { name: 'Ann', boss: 'bob' })]);
    expect(decision.guards.requireLive).toEqual([dbRef, classOf('Person'), instanceOf('bob')]);
  });

  it('re-creates a deleted id after its tombstone, possibly in another class', () => {
    const company = classState('Company', [prop('title', 'STRING')]);
    const decision = given(ann, [annCreated, deleted])
      .when(raw('CreateInstance', { database: DB, classId: 'Company', id: 'ann', properties: {} }), {
        ontologyClass: company,
      })
      .then([instanceCreated('ann', 'Company', {})]);
    expect(decision.expectedSeq).toBe(2);
    const state = stateAfter(ann, [annCreated, deleted, instanceCreated('ann', 'Company', {})]) as InstanceState;
    expect(state).toMatchObject({ seq: 3, exists: true, classId: 'Company', properties: {}, createdAt: at(3) });
  });
});

describe('UpdateInstance', () => {
  it('sets and unsets values, guarded by database, class and references', () => {
    const decision = given(ann, [annCreated])
      .when(update({ set: { name: 'Anna' }, unset: ['age'] }), ctx)
      .then([updated({ name: 'Anna' }, ['age'])]);
    expect(decision).toMatchObject({
      target: ann,
      expectedSeq: 1,
      guards: { parent: classOf('Person'), requireLive: [dbRef, classOf('Person')], liveAfter: true },
    });
  });

  it('treats set of null as unset', () => {
    given(ann, [annCreated])
      .when(update({ set: { age: null } }), ctx)
      .then([updated({}, ['age'])]);
    given(ann, [annCreated])
      .when(update({ set: { age: null }, unset: ['age'] }), ctx)
      .then([updated({}, ['age'])]);
  });

  it('refuses to unset a required property, by unset or by null', () => {
    given(ann, [annCreated])
      .when(update({ unset: ['name'] }), ctx)
      .thenThrows(BadUserInputError, { field: 'input.unset[0]' });
    given(ann, [annCreated])
      .when(update({ set: { name: null } }), ctx)
      .thenThrows(BadUserInputError, { field: 'input.set.name' });
  });

  it('refuses a name both set to a value and unset', () => {
    given(ann, [annCreated])
      .when(update({ set: { age: 3 }, unset: ['age'] }), ctx)
      .thenThrows(BadUserInputError, { field: 'input.unset[0]' });
  });

  it('validates set values like a create', () => {
    given(ann, [annCreated])
      .when(update({ set: { age: 'forty' } }), ctx)
      .thenThrows(BadUserInputError, { field: 'input.set.age' });
    given(ann, [annCreated])
      .when(update({ set: { height: 180 } }), ctx)
      .thenThrows(BadUserInputError, { field: 'input.set.height' });
    given(ann, [annCreated])
      .when(update({ set: [] }), ctx)
      .thenThrows(BadUserInputError, { field: 'input.set' });
  });

  it('accepts an empty update', () => {
    given(ann, [annCreated])
      .when(update({}), ctx)
      .then([updated({})]);
    given(ann, [annCreated])
      .when(update({ set: null, unset: null }), ctx)
      .then([updated({})]);
  });

  it('may point at itself, and unset a property its class no longer has', () => {
    const decision = given(ann, [annCreated])
      .when(update({ set: { boss: 'ann' }, unset: ['legacy'] }), ctx)
      .then([updated({ boss: 'ann' }, ['legacy'])]);
    expect(decision.guards.requireLive).toEqual([dbRef, classOf('Person')]);
  });

  it('is NOT_FOUND for a missing or deleted instance, or a missing class', () => {
    given(ann)
      .when(update({ expectedSeq: 0 }), ctx)
      .thenThrows(NotFoundError, { aggregateId: `${DB}/ann` });
    given(ann, [annCreated, deleted])
      .when(update({ expectedSeq: 2 }), ctx)
      .thenThrows(NotFoundError, { aggregateId: `${DB}/ann` });
    given(ann, [annCreated])
      .when(update({}), { ontologyClass: null })
      .thenThrows(NotFoundError, { aggregateId: `${DB}/Person` });
  });

  it('checks malformed input before NOT_FOUND, and CONFLICT before validation', () => {
    given(ann)
      .when(update({ expectedSeq: 0, unset: ['bad name'] }), ctx)
      .thenThrows(BadUserInputError, { field: 'input.unset[0]' });
    given(ann, [annCreated])
      .when(update({ expectedSeq: 7, set: { age: 'forty' } }), ctx)
      .thenThrows(ConflictError, { aggregateId: `${DB}/ann`, expectedSeq: 7, actualSeq: 1 });
  });

  it('folds set and unset into the state', () => {
    const events = [annCreated, updated({ name: 'Anna', boss: 'ann' }, ['age'])];
    const state = stateAfter(ann, events) as InstanceState;
    expect(state).toMatchObject({
      seq: 2,
      properties: { name: 'Anna', boss: 'ann' },
      createdAt: at(1),
      updatedAt: at(2),
    });
    expect(state.properties).not.toHaveProperty('age');
  });

  it('folds stored events key by key, a stored `__proto__` kept as a plain own property', () => {
    // Input never has one (refused), but events are trusted as stored: folding must not set a prototype.
    const created = instanceCreated('ann', 'Person', JSON.parse('{"a": 1, "__proto__": {"polluted": true}, "b": 2}'));
    const state = stateAfter(ann, [created, updated(JSON.parse('{"b": 3, "__proto__": 4, "c": null}'), ['a'])]);
    const { properties } = state as InstanceState;
    expect(Object.getPrototypeOf(properties)).toBe(Object.prototype);
    expect(Object.keys(properties)).toEqual(['__proto__', 'b']);
    expect(JSON.stringify(properties)).toBe('{"__proto__":4,"b":3}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('DeleteInstance', () => {
  const del = (expectedSeq: number) => raw('DeleteInstance', { database: DB, id: 'ann', expectedSeq });

  it('deletes a live instance: a tombstone counted under its class', () => {
    const decision = given(ann, [annCreated]).when(del(1), { databaseLive: undefined }).then([deleted]);
    expect(decision).toMatchObject({
      target: ann,
      expectedSeq: 1,
      guards: { parent: classOf('Person'), requireLive: [], liveAfter: false, forbidLiveChildren: false },
    });
    expect(stateAfter(ann, [annCreated, deleted])).toMatchObject({ exists: false, seq: 2 });
  });

  it('is NOT_FOUND when missing or deleted, CONFLICT on a stale expectedSeq', () => {
    given(ann)
      .when(del(0))
      .thenThrows(NotFoundError, { aggregateId: `${DB}/ann` });
    given(ann, [annCreated, deleted]).when(del(2)).thenThrows(NotFoundError);
    given(ann, [annCreated]).when(del(2)).thenThrows(ConflictError, { expectedSeq: 2, actualSeq: 1 });
  });
});
