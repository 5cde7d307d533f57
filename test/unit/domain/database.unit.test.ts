import { describe, expect, it } from 'vitest';
import type { AnyDomainEvent, DatabaseState } from '../../../src/core/domain/index.js';
import { BadUserInputError, ConflictError, NotFoundError } from '../../../src/core/errors.js';
import { at, DB, dbRef, given, raw, stateAfter } from './spec.js';

const created: AnyDomainEvent = { type: 'DatabaseCreated', payload: { name: DB, label: null, description: null } };
const deleted: AnyDomainEvent = { type: 'DatabaseDeleted', payload: {} };

describe('CreateDatabase', () => {
  it('creates a database, defaulting label and description to null', () => {
    const decision = given(dbRef)
      .when({ type: 'CreateDatabase', input: { name: DB } })
      .then([created]);
    expect(decision).toMatchObject({
      target: dbRef,
      expectedSeq: 0,
      guards: { parent: null, requireLive: [], liveAfter: true, forbidLiveChildren: false },
    });
  });

  it('keeps label and description', () => {
    given(dbRef)
      .when({ type: 'CreateDatabase', input: { name: DB, label: 'Shop', description: 'All of it' } })
      .then([{ type: 'DatabaseCreated', payload: { name: DB, label: 'Shop', description: 'All of it' } }]);
  });

  it.each([
    ['an upper-case letter', 'Shop'],
    ['a leading digit', '1shop'],
    ['a leading space (nothing is trimmed)', ' shop'],
    ['a dot', 'sh.op'],
    ['64 characters', `a${'b'.repeat(63)}`],
    ['the empty string', ''],
  ])('refuses a name with %s', (_, name) => {
    given(dbRef)
      .when({ type: 'CreateDatabase', input: { name } })
      .thenThrows(BadUserInputError, { field: 'input.name' });
  });

  it('accepts a 63-character name with digits, _ and -', () => {
    const name = `a${'b_-9'.repeat(15)}xy`;
    expect(name).toHaveLength(63);
    given({ aggregateType: 'DATABASE', aggregateId: name })
      .when({ type: 'CreateDatabase', input: { name } })
      .then([{ type: 'DatabaseCreated', payload: { name, label: null, description: null } }]);
  });

  it('bounds label (1,000) and description (10,000)', () => {
    given(dbRef)
      .when({ type: 'CreateDatabase', input: { name: DB, label: 'x'.repeat(1_001) } })
      .thenThrows(BadUserInputError, { field: 'input.label' });
    given(dbRef)
      .when({ type: 'CreateDatabase', input: { name: DB, description: 'x'.repeat(10_001) } })
      .thenThrows(BadUserInputError, { field: 'input.description' });
    given(dbRef)
      .when({ type: 'CreateDatabase', input: { name: DB, label: 'x'.repeat(1_000), description: 'y'.repeat(10_000) } })
      .then([
        { type: 'DatabaseCreated', payload: { name: DB, label: 'x'.repeat(1_000), description: 'y'.repeat(10_000) } },
      ]);
  });

  it('refuses a non-string label and unknown fields', () => {
    given(dbRef)
      .when(raw('CreateDatabase', { name: DB, label: 5 }))
      .thenThrows(BadUserInputError, { field: 'input.label' });
    given(dbRef)
      .when(raw('CreateDatabase', { name: DB, owner: 'me' }))
      .thenThrows(BadUserInputError, { field: 'input.owner' });
  });

  it('is CONFLICT with expectedSeq 0 when the database is live', () => {
    given(dbRef, [created])
      .when({ type: 'CreateDatabase', input: { name: DB } })
      .thenThrows(ConflictError, { aggregateId: DB, expectedSeq: 0, actualSeq: 1 });
  });

  it('re-creates a deleted database after its tombstone', () => {
    const decision = given(dbRef, [created, deleted])
      .when({ type: 'CreateDatabase', input: { name: DB, label: 'Again' } })
      .then([{ type: 'DatabaseCreated', payload: { name: DB, label: 'Again', description: null } }]);
    expect(decision.expectedSeq).toBe(2);
  });
});

describe('DeleteDatabase', () => {
  it('deletes a live database, guarded against live children', () => {
    const decision = given(dbRef, [created])
      .when({ type: 'DeleteDatabase', input: { name: DB, expectedSeq: 1 } })
      .then([deleted]);
    expect(decision).toMatchObject({
      target: dbRef,
      expectedSeq: 1,
      guards: { parent: null, requireLive: [], liveAfter: false, forbidLiveChildren: true },
    });
  });

  it('is NOT_FOUND for a missing or deleted database', () => {
    given(dbRef)
      .when({ type: 'DeleteDatabase', input: { name: DB, expectedSeq: 0 } })
      .thenThrows(NotFoundError, { aggregateId: DB });
    given(dbRef, [created, deleted])
      .when({ type: 'DeleteDatabase', input: { name: DB, expectedSeq: 2 } })
      .thenThrows(NotFoundError, { aggregateId: DB });
  });

  it('is CONFLICT when expectedSeq is not the current seq', () => {
    given(dbRef, [created])
      .when({ type: 'DeleteDatabase', input: { name: DB, expectedSeq: 3 } })
      .thenThrows(ConflictError, { aggregateId: DB, expectedSeq: 3, actualSeq: 1 });
  });

  it.each([[-1], [1.5], ['1'], [null], [undefined]])('refuses expectedSeq %j, before NOT_FOUND', (expectedSeq) => {
    given(dbRef)
      .when(raw('DeleteDatabase', { name: DB, expectedSeq }))
      .thenThrows(BadUserInputError, { field: 'input.expectedSeq' });
  });

  it('checks the name before NOT_FOUND', () => {
    given(dbRef)
      .when({ type: 'DeleteDatabase', input: { name: 'BAD', expectedSeq: 0 } })
      .thenThrows(BadUserInputError, { field: 'input.name' });
  });
});

describe('Database state', () => {
  it('counts seq across delete and re-create, with a new createdAt', () => {
    const recreated: AnyDomainEvent = {
      type: 'DatabaseCreated',
      payload: { name: DB, label: 'Second', description: 'life' },
    };
    const state = stateAfter(dbRef, [created, deleted, recreated]) as DatabaseState;
    expect(state).toEqual({
      aggregateType: 'DATABASE',
      name: DB,
      label: 'Second',
      description: 'life',
      seq: 3,
      exists: true,
      createdAt: at(3),
      updatedAt: at(3),
    });
  });

  it('is a tombstone after delete, keeping createdAt', () => {
    const state = stateAfter(dbRef, [created, deleted]) as DatabaseState;
    expect(state).toMatchObject({ exists: false, seq: 2, createdAt: at(1), updatedAt: at(2) });
  });
});
