import { describe, expect, it } from 'vitest';
import {
  type AnyDomainEvent,
  type CommandType,
  dependenciesOf,
  evolve,
  initialState,
  MUTATION_OF,
  normalizeCommand,
} from '../../../src/core/domain/index.js';
import { BadUserInputError } from '../../../src/core/errors.js';
import { classOf, classState, DB, dbRef, instanceOf, instanceState, prop, raw, stateAfter } from './spec.js';

describe('normalizeCommand', () => {
  it('fills defaults and returns a copy', () => {
    const input = {
      database: DB,
      id: 'Person',
      properties: [
        { name: 'boss', type: 'REFERENCE', target: 'Person' },
        { name: 'age', type: 'INT' },
      ],
      idempotencyKey: 'k1',
    };
    const normalized = normalizeCommand(raw('CreateOntologyClass', input));
    expect(normalized).toEqual({
      type: 'CreateOntologyClass',
      input: {
        database: DB,
        id: 'Person',
        label: null,
        description: null,
        properties: [prop('boss', 'REFERENCE', { target: 'Person' }), prop('age', 'INT')],
      },
    });
    expect(normalizeCommand(normalized)).toEqual(normalized);
    expect(input.properties[1]).toEqual({ name: 'age', type: 'INT' });
  });

  it('keeps an absent label apart from a null one on updates', () => {
    const normalized = normalizeCommand(
      raw('UpdateOntologyClass', { database: DB, id: 'P', expectedSeq: 1, description: null }),
    );
    expect(normalized.input).toEqual({
      database: DB,
      id: 'P',
      expectedSeq: 1,
      description: null,
      addProperties: [],
      removeProperties: [],
    });
  });

  it('leaves a missing instance id null for the service to fill', () => {
    expect(normalizeCommand(raw('CreateInstance', { database: DB, classId: 'P', properties: {} })).input).toEqual({
      database: DB,
      classId: 'P',
      id: null,
      properties: {},
    });
  });

  it('refuses a missing input and an unknown command type', () => {
    expect(() => normalizeCommand(raw('CreateDatabase', null))).toThrow(BadUserInputError);
    expect(() => normalizeCommand(raw('DropEverything' as CommandType, { name: DB }))).toThrow(BadUserInputError);
  });
});

describe('dependenciesOf', () => {
  const people = classState('Person', [prop('name', 'STRING'), prop('boss', 'REFERENCE', { target: 'Person' })]);
  const createAnn = raw('CreateInstance', {
    database: DB,
    classId: 'Person',
    id: 'ann',
    properties: { name: 'bob', boss: 'bob', age: 3, self: 'ann' },
  });

  it('needs nothing for databases and deletes', () => {
    const none = { database: null, ontologyClass: null, referencedInstances: [], targetClasses: [] };
    expect(dependenciesOf(raw('CreateDatabase', { name: DB }), initialState(dbRef))).toEqual(none);
    const del = raw('DeleteInstance', { database: DB, id: 'ann', expectedSeq: 1 });
    expect(dependenciesOf(del, initialState(instanceOf('ann')))).toEqual(none);
  });

  it('lists the database and REFERENCE targets other than the class itself', () => {
    const cmd = raw('CreateOntologyClass', {
      database: DB,
      id: 'Person',
      properties: [
        { name: 'boss', type: 'REFERENCE', target: 'Person' },
        { name: 'job', type: 'REFERENCE', target: 'Job' },
        { name: 'job2', type: 'REFERENCE', target: 'Job' },
      ],
    });
    expect(dependenciesOf(cmd, initialState(classOf('Person')))).toEqual({
      database: dbRef,
      ontologyClass: null,
      referencedInstances: [],
      targetClasses: [classOf('Job')],
    });
  });

  it('lists candidate references without the class, exact ones with it, never itself', () => {
    const state = initialState(instanceOf('ann'));
    expect(dependenciesOf(createAnn, state)).toEqual({
      database: dbRef,
      ontologyClass: classOf('Person'),
      referencedInstances: [instanceOf('bob')],
      targetClasses: [],
    });
    const withName = raw('CreateInstance', {
      database: DB,
      classId: 'Person',
      id: 'ann',
      properties: { name: 'carl', boss: 'bob' },
    });
    expect(dependenciesOf(withName, state).referencedInstances).toEqual([instanceOf('carl'), instanceOf('bob')]);
    expect(dependenciesOf(withName, state, people).referencedInstances).toEqual([instanceOf('bob')]);
  });

  it('takes the class of an update from the instance state', () => {
    const cmd = raw('UpdateInstance', { database: DB, id: 'ann', expectedSeq: 1, set: { boss: 'bob' } });
    expect(dependenciesOf(cmd, instanceState('ann', 'Person'), people)).toEqual({
      database: dbRef,
      ontologyClass: classOf('Person'),
      referencedInstances: [instanceOf('bob')],
      targetClasses: [],
    });
    expect(dependenciesOf(cmd, initialState(instanceOf('ann'))).ontologyClass).toBeNull();
  });
});

describe('states', () => {
  it('start at seq 0, not live, identified by the ref', () => {
    expect(initialState(instanceOf('ann'))).toEqual({
      aggregateType: 'INSTANCE',
      database: DB,
      id: 'ann',
      classId: '',
      properties: {},
      seq: 0,
      exists: false,
      createdAt: null,
      updatedAt: null,
    });
    expect(initialState(classOf('Person'))).toMatchObject({ aggregateType: 'ONTOLOGY_CLASS', id: 'Person' });
  });

  it('evolve tolerates events that do not fit', () => {
    const foreign = { type: 'InstanceDeleted', payload: {} } as AnyDomainEvent;
    const unknown = { type: 'Renamed', payload: null } as unknown as AnyDomainEvent;
    const db = stateAfter(dbRef, [{ type: 'DatabaseCreated', payload: { name: DB, label: 'L', description: null } }]);
    const next = evolve(evolve(db, foreign, { seq: 2, occurredAt: 'a' }), unknown, { seq: 3, occurredAt: 'b' });
    expect(next).toEqual({ ...db, seq: 3, updatedAt: 'b' });
  });

  it('evolve fills defaults for partial payloads', () => {
    const partial = { type: 'OntologyClassCreated', payload: { properties: [{ name: 'a', type: 'INT' }] } };
    const state = evolve(initialState(classOf('P')), partial as AnyDomainEvent, { seq: 1, occurredAt: 't' });
    expect(state).toMatchObject({ exists: true, label: null, properties: [prop('a', 'INT')] });
  });
});

describe('MUTATION_OF', () => {
  it('names the mutation of every command', () => {
    expect(MUTATION_OF).toEqual({
      CreateDatabase: 'createDatabase',
      DeleteDatabase: 'deleteDatabase',
      CreateOntologyClass: 'createOntologyClass',
      UpdateOntologyClass: 'updateOntologyClass',
      DeleteOntologyClass: 'deleteOntologyClass',
      CreateInstance: 'createInstance',
      UpdateInstance: 'updateInstance',
      DeleteInstance: 'deleteInstance',
    });
  });
});
