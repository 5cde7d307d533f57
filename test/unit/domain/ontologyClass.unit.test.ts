import { describe, expect, it } from 'vitest';
import type { AnyDomainEvent, OntologyClassState } from '../../../src/core/domain/index.js';
import { BadUserInputError, ConflictError, NotFoundError } from '../../../src/core/errors.js';
import {
  at,
  byId,
  classCreated,
  classOf,
  classState,
  DB,
  dbRef,
  deletedClassState,
  given,
  prop,
  raw,
  stateAfter,
} from './spec.js';

const person = classOf('Person');
const name = prop('name', 'STRING', { required: true });
const created = classCreated('Person', [name]);
const deleted: AnyDomainEvent = { type: 'OntologyClassDeleted', payload: {} };
const create = (properties: unknown[], extra: Record<string, unknown> = {}) =>
  raw('CreateOntologyClass', { database: DB, id: 'Person', properties, ...extra });
const update = (input: Record<string, unknown>) =>
  raw('UpdateOntologyClass', { database: DB, id: 'Person', expectedSeq: 1, ...input });

describe('CreateOntologyClass', () => {
  it('creates a class, filling required=false and target=null', () => {
    const decision = given(person)
      .when(
        create([
          { name: 'name', type: 'STRING', required: true },
          { name: 'age', type: 'INT' },
        ]),
      )
      .then([classCreated('Person', [name, prop('age', 'INT')])]);
    expect(decision).toMatchObject({
      target: person,
      expectedSeq: 0,
      guards: { parent: dbRef, requireLive: [dbRef], liveAfter: true, forbidLiveChildren: false },
    });
  });

  it('is NOT_FOUND of the database when it is not live, unless the input is malformed', () => {
    given(person).when(create([]), { databaseLive: false }).thenThrows(NotFoundError, { aggregateId: DB });
    given(person)
      .when(create([{ name: '1st', type: 'STRING' }]), { databaseLive: false })
      .thenThrows(BadUserInputError, { field: 'input.properties[0].name' });
  });

  it('is CONFLICT with expectedSeq 0 when the class is live, before validating targets', () => {
    given(person, [created])
      .when(create([{ name: 'boss', type: 'REFERENCE', target: 'Nobody' }]))
      .thenThrows(ConflictError, { aggregateId: `${DB}/Person`, expectedSeq: 0, actualSeq: 1 });
  });

  it.each([
    ['id', { id: '-x' }, 'input.id'],
    ['database', { database: 'No' }, 'input.database'],
    ['label', { label: 'x'.repeat(1_001) }, 'input.label'],
    ['description', { description: 'x'.repeat(10_001) }, 'input.description'],
    ['properties', { properties: 'name' }, 'input.properties'],
  ])('refuses a malformed %s', (_, extra, field) => {
    given(person).when(create([], extra)).thenThrows(BadUserInputError, { field });
  });

  it.each([
    ['a bad name', [{ name: 'my name', type: 'STRING' }], 'input.properties[0].name'],
    ['a reserved name', [{ name: '__proto__', type: 'STRING' }], 'input.properties[0].name'],
    ['an unknown type', [{ name: 'a', type: 'DATE' }], 'input.properties[0].type'],
    ['a non-boolean required', [{ name: 'a', type: 'INT', required: 'yes' }], 'input.properties[0].required'],
    [
      'a duplicate name',
      [
        { name: 'a', type: 'INT' },
        { name: 'a', type: 'STRING' },
      ],
      'input.properties[1].name',
    ],
    ['a REFERENCE without target', [{ name: 'a', type: 'REFERENCE' }], 'input.properties[0].target'],
    ['a target on a non-REFERENCE', [{ name: 'a', type: 'INT', target: 'Person' }], 'input.properties[0].target'],
    ['a malformed target', [{ name: 'a', type: 'REFERENCE', target: 'a/b' }], 'input.properties[0].target'],
    ['an unknown field', [{ name: 'a', type: 'INT', default: 1 }], 'input.properties[0].default'],
  ])('refuses a property with %s', (_, properties, field) => {
    given(person).when(create(properties)).thenThrows(BadUserInputError, { field });
  });

  it('allows 500 properties, not 501', () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `p${i}`, type: 'STRING' }));
    given(person)
      .when(create(many(500)))
      .then([
        classCreated(
          'Person',
          many(500).map((p) => prop(p.name, 'STRING')),
        ),
      ]);
    given(person)
      .when(create(many(501)))
      .thenThrows(BadUserInputError, { field: 'input.properties' });
  });

  it('references itself without looking it up', () => {
    given(person)
      .when(create([{ name: 'boss', type: 'REFERENCE', target: 'Person' }]))
      .then([classCreated('Person', [prop('boss', 'REFERENCE', { target: 'Person' })])]);
  });

  it('requires REFERENCE targets to be live classes, and keeps them live', () => {
    const properties = [{ name: 'employer', type: 'REFERENCE', target: 'Company' }];
    given(person).when(create(properties)).thenThrows(BadUserInputError, { field: 'input.properties[0].target' });
    given(person)
      .when(create(properties), { targetClasses: byId(deletedClassState('Company')) })
      .thenThrows(BadUserInputError, { field: 'input.properties[0].target' });
    const decision = given(person)
      .when(create(properties), { targetClasses: byId(classState('Company', [])) })
      .then([classCreated('Person', [prop('employer', 'REFERENCE', { target: 'Company' })])]);
    expect(decision.guards.requireLive).toEqual([dbRef, classOf('Company')]);
  });

  it('re-creates a deleted class after its tombstone, with the new schema', () => {
    const decision = given(person, [created, deleted])
      .when(create([]))
      .then([classCreated('Person', [])]);
    expect(decision.expectedSeq).toBe(2);
    const state = stateAfter(person, [created, deleted, classCreated('Person', [])]) as OntologyClassState;
    expect(state).toMatchObject({ seq: 3, exists: true, properties: [], createdAt: at(3) });
  });
});

describe('UpdateOntologyClass', () => {
  it('changes label, and leaves description alone when absent', () => {
    const decision = given(person, [created])
      .when(update({ label: 'People' }))
      .then([{ type: 'OntologyClassUpdated', payload: { label: 'People', addProperties: [], removeProperties: [] } }]);
    expect(decision).toMatchObject({
      expectedSeq: 1,
      guards: { parent: dbRef, requireLive: [dbRef], liveAfter: true, forbidLiveChildren: false },
    });
  });

  it('clears the description with null', () => {
    given(person, [created])
      .when(update({ description: null }))
      .then([
        { type: 'OntologyClassUpdated', payload: { description: null, addProperties: [], removeProperties: [] } },
      ]);
  });

  it('accepts an update that changes nothing', () => {
    given(person, [created])
      .when(update({}))
      .then([{ type: 'OntologyClassUpdated', payload: { addProperties: [], removeProperties: [] } }]);
  });

  it('adds an optional property without guarding against live instances', () => {
    const decision = given(person, [created])
      .when(update({ addProperties: [{ name: 'age', type: 'INT' }] }))
      .then([{ type: 'OntologyClassUpdated', payload: { addProperties: [prop('age', 'INT')], removeProperties: [] } }]);
    expect(decision.guards.forbidLiveChildren).toBe(false);
  });

  it('adds a required property only if the class has no live instances (guard)', () => {
    const decision = given(person, [created])
      .when(update({ addProperties: [{ name: 'age', type: 'INT', required: true }] }))
      .then([
        {
          type: 'OntologyClassUpdated',
          payload: { addProperties: [prop('age', 'INT', { required: true })], removeProperties: [] },
        },
      ]);
    expect(decision.guards.forbidLiveChildren).toBe(true);
  });

  it('refuses to add an existing property or remove a missing one', () => {
    given(person, [created])
      .when(update({ addProperties: [{ name: 'name', type: 'INT' }] }))
      .thenThrows(BadUserInputError, { field: 'input.addProperties[0].name' });
    given(person, [created])
      .when(update({ removeProperties: ['age'] }))
      .thenThrows(BadUserInputError, { field: 'input.removeProperties[0]' });
  });

  it('refuses a name both added and removed, and duplicate removals', () => {
    given(person, [created])
      .when(update({ addProperties: [{ name: 'name', type: 'INT' }], removeProperties: ['name'] }))
      .thenThrows(BadUserInputError, { field: 'input.addProperties[0].name' });
    given(person, [created])
      .when(update({ removeProperties: ['name', 'name'] }))
      .thenThrows(BadUserInputError, { field: 'input.removeProperties[1]' });
  });

  it('removes a property and folds removals before additions', () => {
    const removed: AnyDomainEvent = {
      type: 'OntologyClassUpdated',
      payload: { label: 'P', addProperties: [prop('age', 'INT')], removeProperties: ['name'] },
    };
    given(person, [created])
      .when(update({ removeProperties: ['name'], addProperties: [{ name: 'age', type: 'INT' }], label: 'P' }))
      .then([removed]);
    const state = stateAfter(person, [created, removed]) as OntologyClassState;
    expect(state).toMatchObject({ seq: 2, label: 'P', description: null, properties: [prop('age', 'INT')] });
    expect(state.updatedAt).toBe(at(2));
    expect(state.createdAt).toBe(at(1));
  });

  it('keeps a class at most 500 properties', () => {
    const full = classCreated(
      'Person',
      Array.from({ length: 500 }, (_, i) => prop(`p${i}`, 'STRING')),
    );
    given(person, [full])
      .when(update({ addProperties: [{ name: 'one_more', type: 'STRING' }] }))
      .thenThrows(BadUserInputError, { field: 'input.addProperties' });
    given(person, [full])
      .when(update({ addProperties: [{ name: 'one_more', type: 'STRING' }], removeProperties: ['p0'] }))
      .then([
        {
          type: 'OntologyClassUpdated',
          payload: { addProperties: [prop('one_more', 'STRING')], removeProperties: ['p0'] },
        },
      ]);
  });

  it('checks targets of added properties (itself needs no lookup)', () => {
    const add = [
      { name: 'friend', type: 'REFERENCE', target: 'Person' },
      { name: 'pet', type: 'REFERENCE', target: 'Dog' },
    ];
    given(person, [created])
      .when(update({ addProperties: add }))
      .thenThrows(BadUserInputError, { field: 'input.addProperties[1].target' });
    const decision = given(person, [created])
      .when(update({ addProperties: add }), { targetClasses: byId(classState('Dog', [])) })
      .then([
        {
          type: 'OntologyClassUpdated',
          payload: {
            addProperties: [
              prop('friend', 'REFERENCE', { target: 'Person' }),
              prop('pet', 'REFERENCE', { target: 'Dog' }),
            ],
            removeProperties: [],
          },
        },
      ]);
    expect(decision.guards.requireLive).toEqual([dbRef, classOf('Dog')]);
  });

  it('is NOT_FOUND for a missing or deleted class, or a deleted database', () => {
    given(person)
      .when(update({ expectedSeq: 0 }))
      .thenThrows(NotFoundError, { aggregateId: `${DB}/Person` });
    given(person, [created, deleted])
      .when(update({ expectedSeq: 2 }))
      .thenThrows(NotFoundError, { aggregateId: `${DB}/Person` });
    given(person, [created]).when(update({}), { databaseLive: false }).thenThrows(NotFoundError, { aggregateId: DB });
  });

  it('checks malformed input before NOT_FOUND, and CONFLICT before validation', () => {
    given(person)
      .when(update({ expectedSeq: 0, addProperties: [{ name: 'x', type: 'NOPE' }] }))
      .thenThrows(BadUserInputError, { field: 'input.addProperties[0].type' });
    given(person, [created])
      .when(update({ expectedSeq: 0, removeProperties: ['missing'] }))
      .thenThrows(ConflictError, { aggregateId: `${DB}/Person`, expectedSeq: 0, actualSeq: 1 });
  });
});

describe('DeleteOntologyClass', () => {
  const del = (expectedSeq: number) => raw('DeleteOntologyClass', { database: DB, id: 'Person', expectedSeq });

  it('deletes a live class, guarded against live instances', () => {
    const decision = given(person, [created]).when(del(1)).then([deleted]);
    expect(decision).toMatchObject({
      target: person,
      expectedSeq: 1,
      guards: { parent: dbRef, requireLive: [], liveAfter: false, forbidLiveChildren: true },
    });
  });

  it('is NOT_FOUND when missing or deleted, CONFLICT on a stale expectedSeq', () => {
    given(person)
      .when(del(0))
      .thenThrows(NotFoundError, { aggregateId: `${DB}/Person` });
    given(person, [created, deleted]).when(del(2)).thenThrows(NotFoundError);
    given(person, [created]).when(del(0)).thenThrows(ConflictError, { expectedSeq: 0, actualSeq: 1 });
  });

  it('does not need the database', () => {
    given(person, [created]).when(del(1), { databaseLive: undefined }).then([deleted]);
  });
});
