import { describe, expect, it } from 'vitest';
import { isIsoDateTime, type PropertyType } from '../../../src/core/domain/index.js';
import { BadUserInputError } from '../../../src/core/errors.js';
import {
  byId,
  classState,
  DB,
  deletedInstanceState,
  given,
  instanceCreated,
  instanceOf,
  instanceState,
  prop,
  raw,
} from './spec.js';

const TYPES: PropertyType[] = ['STRING', 'INT', 'FLOAT', 'BOOLEAN', 'DATETIME', 'REFERENCE', 'JSON'];
const thing = classState(
  'Thing',
  TYPES.map((t) => prop(t.toLowerCase(), t, t === 'REFERENCE' ? { target: 'Thing' } : {})),
);
const other = instanceState('other', 'Thing');
const ctx = {
  ontologyClass: thing,
  referencedInstances: byId(other, instanceState('alien', 'Alien'), deletedInstanceState('gone', 'Thing')),
};
const write = (properties: unknown) =>
  given(instanceOf('x')).when(raw('CreateInstance', { database: DB, classId: 'Thing', id: 'x', properties }), ctx);
const accepts = (properties: Record<string, unknown>) =>
  write(properties).then([instanceCreated('x', 'Thing', properties)]);
const refuses = (properties: Record<string, unknown>, field: string) =>
  write(properties).thenThrows(BadUserInputError, { field });

const cases: [string, unknown[], unknown[]][] = [
  ['string', ['', 'text', 'x'.repeat(100_000)], [1, true, ['a'], { a: 1 }]],
  ['int', [0, -7, Number.MAX_SAFE_INTEGER], [1.5, 2 ** 53, '1', Number.NaN, true]],
  ['float', [1.5, -0.25, 3, 1e300], [Number.NaN, Number.POSITIVE_INFINITY, '1.5', false]],
  ['boolean', [true, false], [0, 'true', 'false']],
  [
    'datetime',
    ['2024-01-02T03:04:05Z', '2024-01-02T03:04:05.123+02:00', '2024-01-02T03:04', '2024-02-29'],
    [
      'yesterday',
      '2024-02-30T00:00:00Z',
      '2023-02-29',
      '2024-13-01T00:00:00Z',
      '2024-01-01T25:00:00Z',
      'Tue, 02 Jan 2024 03:04:05 GMT',
      '2024-01-02 03:04:05',
      1_704_164_645_000,
    ],
  ],
  ['reference', ['other', 'x'], ['missing', 'gone', 'alien', 42, 'bad id']],
  ['json', [{ a: [1, { b: null }] }, [1, 'two'], 'text', 3, false], []],
];

describe.each(cases)('a %s property', (name, valid, invalid) => {
  it.each(valid.map((v) => [v]))('accepts %j', (value) => {
    accepts({ [name]: value });
  });
  it.each(invalid.map((v) => [v]))('refuses %j', (value) => {
    refuses({ [name]: value }, `input.properties.${name}`);
  });
});

describe('instance property rules', () => {
  it('refuses an unknown property', () => {
    refuses({ colour: 'red' }, 'input.properties.colour');
  });

  it('refuses a missing required property', () => {
    const strict = classState('Strict', [prop('must', 'INT', { required: true }), prop('may', 'INT')]);
    given(instanceOf('x'))
      .when(raw('CreateInstance', { database: DB, classId: 'Strict', id: 'x', properties: { may: 1 } }), {
        ontologyClass: strict,
      })
      .thenThrows(BadUserInputError, { field: 'input.properties.must', reason: 'required property is missing' });
  });

  it('bounds strings anywhere in a value to 100,000 characters', () => {
    refuses({ string: 'x'.repeat(100_001) }, 'input.properties.string');
    refuses({ json: { deep: ['x'.repeat(100_001)] } }, 'input.properties.json');
  });

  it('allows at most 1,000 properties', () => {
    const many = Object.fromEntries(Array.from({ length: 1_001 }, (_, i) => [`p${i}`, 1]));
    refuses(many, 'input.properties');
  });

  it('refuses names that cannot be property names, before looking at the class', () => {
    refuses({ 'my name': 'x' }, 'input.properties.my name');
    refuses(JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>, 'input.properties.__proto__');
  });

  it('tells why a reference is refused', () => {
    const reasonFor = (value: string) => write({ reference: value }).thenThrows(BadUserInputError).extensions.reason;
    expect(reasonFor('missing')).toMatch(/does not exist/);
    expect(reasonFor('gone')).toMatch(/does not exist/);
    expect(reasonFor('alien')).toMatch(/not of class "Thing"/);
  });

  it('recognises ISO-8601 date-times only', () => {
    expect(isIsoDateTime('2024-06-01T12:00:00.000Z')).toBe(true);
    expect(isIsoDateTime('0000-02-29')).toBe(true);
    expect(isIsoDateTime('2024-06-01T12:00:60Z')).toBe(false);
    expect(isIsoDateTime('June 1, 2024')).toBe(false);
  });
});
