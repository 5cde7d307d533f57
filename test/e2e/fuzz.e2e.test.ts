import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { aggregateIdOf } from './api.js';
import { gql } from './client.js';
import { profiles, useCluster } from './suite.js';

/**
 * Random and hostile input at the GraphQL endpoint (property-based, fast-check): wrong types, huge
 * strings, deep nesting, odd unicode, injection-looking ids. Whatever comes in: the server answers
 * with a contract error code (never INTERNAL_SERVER_ERROR, never a 5xx), keeps serving, and what it
 * accepted is valid: the stored events of every accepted instance hold only values of their class.
 */
const CONTRACT_CODES = new Set([
  'BAD_USER_INPUT',
  'CONFLICT',
  'NOT_FOUND',
  'IDEMPOTENCY_KEY_REUSED',
  'STALE_READ',
  'UNAVAILABLE',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
]);
const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const RUNS = 120;

const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    "'; DROP TABLE ledger; --",
    '../../etc/passwd',
    ['$', '{jndi:ldap://x}'].join(''),
    '{"$gt": ""}',
    '<script>alert(1)</script>',
    'a'.repeat(129),
    '\u0000',
    '\ud800',
    'é\u0301',
    '🧨'.repeat(50),
    ' lead',
    'x/y',
    '*',
  ),
  fc.constantFrom('x'.repeat(70_000), 'é'.repeat(20_000), '\u202e'.repeat(1_000)),
);
const deep = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue(),
    fc.array(tie('node'), { maxLength: 3 }),
    fc.dictionary(fc.string(), tie('node'), { maxKeys: 3 }),
  ),
})).node;
const anyValue = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(2 ** 53, -(2 ** 31) - 1, 1e308, Number.MAX_SAFE_INTEGER + 2),
  deep,
);
// Half of the property maps are close to valid, so that accepted writes are fuzzed too.
const nearlyValid = fc.record(
  { s: hostileString, n: fc.oneof(fc.integer(), fc.double()), f: fc.double(), b: fc.boolean(), j: deep },
  { requiredKeys: [] },
);
const properties = fc.oneof(
  nearlyValid,
  fc.dictionary(
    fc.oneof(fc.constantFrom('s', 'n', 'f', 'b', 'j', 'missing', '__proto__', 'constructor'), hostileString),
    anyValue,
    { maxKeys: 6 },
  ),
);

const CREATE_INSTANCE = `mutation($input: CreateInstanceInput!) { createInstance(input: $input) { instance { id seq properties } } }`;
const UPDATE_INSTANCE = `mutation($input: UpdateInstanceInput!) { updateInstance(input: $input) { instance { id seq properties } } }`;
const CREATE_DATABASE = `mutation($input: CreateDatabaseInput!) { createDatabase(input: $input) { database { name seq } } }`;

describe.each(profiles)('hostile input (%s)', (profile) => {
  const h = useCluster(profile);
  let db: string;
  const accepted: string[] = [];

  beforeAll(async () => {
    db = (await h.api().newDatabase()).database.name;
    await h.api().newClass(db, 'k', [
      { name: 's', type: 'STRING' },
      { name: 'n', type: 'INT' },
      { name: 'f', type: 'FLOAT' },
      { name: 'b', type: 'BOOLEAN' },
      { name: 'j', type: 'JSON' },
    ]);
    await h.api().newInstance(db, 'k', { n: 1 }, 'fixed');
  });

  /** Sends one request; checks the answer is a contract answer; returns the data when accepted. */
  async function send(query: string, variables: Record<string, unknown>) {
    const res = await gql<Record<string, unknown>>(h.gateway().http, query, variables);
    expect(res.status, res.text.slice(0, 300)).toBeLessThan(500);
    if (res.status !== 200) return null;
    for (const error of res.body.errors ?? []) {
      expect(CONTRACT_CODES, JSON.stringify(error).slice(0, 300)).toContain(error.extensions?.code);
    }
    return res.body.errors?.length ? null : (res.body.data ?? null);
  }

  it('createInstance with random ids, classes and properties', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(hostileString, fc.constant(undefined)),
        properties,
        fc.oneof(fc.constant('k'), hostileString),
        async (id, props, classId) => {
          const data = await send(CREATE_INSTANCE, { input: { database: db, classId, id, properties: props } });
          const created = (data?.createInstance as { instance: { id: string } } | undefined)?.instance;
          if (created) {
            expect(created.id).toMatch(ID);
            accepted.push(created.id);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('updateInstance with random expectedSeq, set and unset', async () => {
    const seq = fc.oneof(
      fc.integer({ min: -5, max: 5 }),
      fc.double(),
      hostileString,
      fc.constant(null),
      fc.constant(2 ** 40),
    );
    const unset = fc.oneof(fc.array(hostileString, { maxLength: 3 }), anyValue);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant('fixed'), hostileString),
        seq,
        properties,
        unset,
        async (id, expectedSeq, set, un) => {
          await send(UPDATE_INSTANCE, { input: { database: db, id, expectedSeq, set, unset: un } });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('createDatabase with random names and whole random inputs', async () => {
    await fc.assert(
      fc.asyncProperty(hostileString, fc.oneof(hostileString, anyValue), async (name, label) => {
        const data = await send(CREATE_DATABASE, { input: { name, label } });
        const created = (data?.createDatabase as { database: { name: string } } | undefined)?.database;
        if (created) expect(created.name).toMatch(/^[a-z][a-z0-9_-]{0,62}$/);
        await send(CREATE_DATABASE, { input: fc.sample(anyValue, 1)[0] as never });
      }),
      { numRuns: RUNS },
    );
  });

  it('kept serving, and stored only valid events for what it accepted', async () => {
    expect(accepted.length).toBeGreaterThan(0);
    const health = await fetch(`${h.gateway().base}/health`);
    expect(health.status).toBe(200);
    const types: Record<string, (v: unknown) => boolean> = {
      s: (v) => typeof v === 'string',
      n: (v) => Number.isSafeInteger(v),
      f: (v) => typeof v === 'number' && Number.isFinite(v),
      b: (v) => typeof v === 'boolean',
      j: () => true,
    };
    for (const id of ['fixed', ...accepted]) {
      const events = await h.api().eventsOf('INSTANCE', aggregateIdOf(db, id));
      expect(events.length).toBeGreaterThan(0);
      for (const e of events.filter((x) => x.kind === 'DOMAIN')) {
        const payload = e.payload as { properties?: Record<string, unknown>; set?: Record<string, unknown> };
        for (const [name, value] of Object.entries(payload.properties ?? payload.set ?? {})) {
          expect(Object.keys(types), `${id}: property ${name}`).toContain(name);
          if (value !== null) expect(types[name]!(value), `${id}.${name} = ${JSON.stringify(value)}`).toBe(true);
        }
      }
    }
  });
});
