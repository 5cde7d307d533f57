import { Agent, request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { randomId } from '../support/ids.js';
import { OPS } from './api.js';
import { errorCodes, expectData, expectError, type GqlResponse, readResponse, subscribe } from './client.js';
import { TEST_SETTINGS } from './harness.js';
import { profiles, useCluster } from './suite.js';

interface Health {
  status: string;
  profile: string;
  dependencies: Record<string, { status: string; detail: unknown }>;
}

/** Either a 4xx, or a GraphQL error that carries a code: a refusal the client can act on. */
function expectRefused<T>(res: GqlResponse<T>): void {
  if (res.status >= 400 && res.status < 500) return;
  expect(res.status).toBe(200);
  const codes = errorCodes(res);
  expect(codes.length).toBeGreaterThan(0);
  expect(codes[0]).not.toBe('(no code)');
  expect(codes[0]).not.toBe('INTERNAL_SERVER_ERROR');
}

/** No stack trace or internals in any error. */
function expectNoLeak<T>(res: GqlResponse<T>): void {
  for (const e of res.body.errors ?? []) {
    expect(e.extensions ?? {}).not.toHaveProperty('stacktrace');
    expect(e.extensions ?? {}).not.toHaveProperty('exception');
  }
  expect(res.text).not.toMatch(/\bat .+\.(ts|js):\d+:\d+/);
  expect(res.text).not.toMatch(/node_modules|\/work\//);
}

describe.each(profiles)('HTTP (%s)', (profile) => {
  const { api, gateway, cluster } = useCluster(profile);
  const post = (body: string | Uint8Array, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(gateway().http, { method: 'POST', headers, body }).then((r) => readResponse<Record<string, unknown>>(r));

  it('GraphQL errors come in a 200 response with errors and data', async () => {
    const res = await api().deleteDatabase({ name: randomId('db'), expectedSeq: 1 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/json/);
    expect(res.body).toHaveProperty('data');
    expectError(res, 'NOT_FOUND');
    expectNoLeak(res);
  });

  it('the same holds with Accept: application/graphql-response+json', async () => {
    const res = await api().request(
      OPS.deleteDatabase,
      { input: { name: randomId('db'), expectedSeq: 1 } },
      {
        accept: 'application/graphql-response+json',
      },
    );
    expectError(res, 'NOT_FOUND');
    expect(res.headers.get('content-type')).toMatch(/application\/graphql-response\+json/);
  });

  it('malformed JSON is 400', async () => {
    const res = await post('{"query": "{ __typename }"');
    expect(res.status).toBe(400);
    expectNoLeak(res);
  });

  it('a request whose query or variables have the wrong JSON type is 400', async () => {
    expect((await post('{"query": 1}')).status).toBe(400);
    expect((await post('{"query": "{ __typename }", "variables": [1]}')).status).toBe(400);
  });

  it('application/json with a charset parameter is served', async () => {
    const res = await post(JSON.stringify({ query: '{ __typename }' }), {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(expectData(res)).toEqual({ __typename: 'Query' });
  });

  it('operationName selects one operation of a document', async () => {
    const res = await post(
      JSON.stringify({ query: 'query A { a: __typename } query B { b: __typename }', operationName: 'B' }),
    );
    expect(expectData(res)).toEqual({ b: 'Query' });
  });

  it('with Accept: application/graphql-response+json, a validation failure is a 4xx', async () => {
    const name = randomId('db');
    const res = await api().request(
      `mutation { createDatabase(input: { name: "${name}", color: "red" }) { seq } }`,
      undefined,
      {
        accept: 'application/graphql-response+json',
      },
    );
    expect(res.status).toBe(400);
    expect(errorCodes(res).length).toBeGreaterThan(0);
  });

  it('a body without a query is 400', async () => {
    expect((await post('{"variables": {}}')).status).toBe(400);
    expect((await post('[1, 2]')).status).toBe(400);
  });

  it(`a body larger than CAIRN_MAX_BODY_BYTES (${TEST_SETTINGS.CAIRN_MAX_BODY_BYTES}) is 413`, async () => {
    const name = randomId('db');
    const pad = 'x'.repeat(TEST_SETTINGS.CAIRN_MAX_BODY_BYTES + 1_000);
    const res = await post(
      JSON.stringify({ query: OPS.createDatabase, variables: { input: { name, description: pad } } }),
    );
    expect(res.status).toBe(413);
    expect(expectData(await api().database(name)).database).toBeNull();
    expect(await api().eventsOf('DATABASE', name)).toEqual([]);
  });

  it('a body just under the limit is served', async () => {
    const pad = 'x'.repeat(TEST_SETTINGS.CAIRN_MAX_BODY_BYTES - 2_000);
    const res = await post(JSON.stringify({ query: '{ __typename }', variables: { pad } }));
    expect(expectData(res)).toEqual({ __typename: 'Query' });
  });

  it('a mutation over GET is refused with 405 and runs nothing', async () => {
    const name = randomId('db');
    const url = new URL(gateway().http);
    url.searchParams.set('query', `mutation { createDatabase(input: { name: "${name}" }) { seq } }`);
    const res = await fetch(url, {
      headers: { accept: 'application/graphql-response+json', 'content-type': 'application/json' },
    });
    expect(res.status).toBe(405);
    await res.text();
    // A bare GET (no headers) is refused too, whatever the reason.
    const bare = await fetch(url);
    expect(bare.status).toBeGreaterThanOrEqual(400);
    expect(bare.status).toBeLessThan(500);
    await bare.text();
    expect(await api().eventsOf('DATABASE', name)).toEqual([]);
  });

  it('an unsupported content type is refused with a 4xx', async () => {
    const res = await post(JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'text/plain' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('a syntax error is refused with a code', async () => {
    const res = await api().request('mutation { createDatabase(input: { name: "x" ');
    expectRefused(res);
    expectNoLeak(res);
  });

  it('an unknown field in an input is refused and appends nothing', async () => {
    const name = randomId('db');
    const inline = await api().request(`mutation { createDatabase(input: { name: "${name}", color: "red" }) { seq } }`);
    expectRefused(inline);
    const viaVariables = await api().createDatabase({ name, color: 'red' });
    expectRefused(viaVariables);
    expect(await api().eventsOf('DATABASE', name)).toEqual([]);
  });

  it('a wrongly typed variable is refused and appends nothing', async () => {
    const { database } = await api().newDatabase();
    const res = await api().deleteDatabase({ name: database.name, expectedSeq: 'one' });
    expectRefused(res);
    const missing = await api().createDatabase({ label: 'no name' });
    expectRefused(missing);
    expect(await api().eventsOf('DATABASE', database.name)).toHaveLength(2);
  });

  it('a wrong property type is BAD_USER_INPUT and appends nothing', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'k', [{ name: 'v', type: 'INT' }]);
    const err = expectError(
      await api().createInstance({ database: database.name, classId: 'k', id: 'i', properties: { v: 'seven' } }),
      'BAD_USER_INPUT',
    );
    expect(err.extensions).toMatchObject({ field: expect.stringMatching(/v/), reason: expect.any(String) });
    expect(await api().eventsOf('INSTANCE', `${database.name}/i`)).toEqual([]);
  });

  it.each([
    ['an uppercase database name', { name: 'UPPER' }],
    ['a database name with ../', { name: '../x' }],
  ])('%s is BAD_USER_INPUT', async (_, input) => {
    const err = expectError(await api().createDatabase(input), 'BAD_USER_INPUT');
    expect(err.extensions).toMatchObject({ field: expect.any(String), reason: expect.any(String) });
  });

  it.each([
    ['a class id with ../', '../x'],
    ['a 500-character id', 'x'.repeat(500)],
  ])('%s is BAD_USER_INPUT for classes and instances', async (_, id) => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'k', []);
    const cls = expectError(
      await api().createOntologyClass({ database: database.name, id, properties: [] }),
      'BAD_USER_INPUT',
    );
    expect(cls.extensions).toMatchObject({ field: expect.any(String), reason: expect.any(String) });
    expectError(
      await api().createInstance({ database: database.name, classId: 'k', id, properties: {} }),
      'BAD_USER_INPUT',
    );
    expectError(await api().ontologyClass(database.name, id), 'BAD_USER_INPUT');
  });

  it('deeply nested JSON in a property is accepted or refused, never an internal error', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'k', [{ name: 's', type: 'JSON' }]);
    const deep: unknown = JSON.parse(`${'['.repeat(2_000)}${']'.repeat(2_000)}`);
    const res = await api().createInstance({
      database: database.name,
      classId: 'k',
      id: 'deep',
      properties: { s: deep },
    });
    // Deeply nested JSON may be accepted or refused, but never an internal error.
    if (res.body.errors) expectRefused(res);
    expectNoLeak(res);
  });

  it('a __proto__ property is refused as an unknown property and pollutes nothing', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'k', [{ name: 'v', type: 'INT' }]);
    // Raw JSON: a JS object literal would set the prototype instead of adding a key.
    const body = `{"query": ${JSON.stringify(OPS.createInstance)}, "variables": {"input": {"database": "${database.name}",
      "classId": "k", "id": "p", "properties": {"__proto__": {"v": "polluted", "isAdmin": true}}}}}`;
    const res = await post(body);
    expectError(res, 'BAD_USER_INPUT');
    const ok = await api().newInstance(database.name, 'k', { v: 1 }, 'q');
    expect(ok.instance.properties).toEqual({ v: 1 });
    expect(await api().eventsOf('INSTANCE', `${database.name}/p`)).toEqual([]);
  });

  it('introspection is on, and the contract’s type names exist', async () => {
    const res = expectData(
      await api().request<{ __schema: { types: { name: string }[] } }>('{ __schema { types { name } } }'),
    );
    const names = new Set(res.__schema.types.map((t) => t.name));
    const contract = [
      'JSON',
      'DateTime',
      'CreateDatabaseInput',
      'DeleteDatabaseInput',
      'CreateOntologyClassInput',
      'UpdateOntologyClassInput',
      'DeleteOntologyClassInput',
      'CreateInstanceInput',
      'UpdateInstanceInput',
      'DeleteInstanceInput',
      'PropertyInput',
      'InstanceWhere',
      'InstanceOrder',
      'AggregateType',
      'PropertyType',
      'OrderDirection',
      'ChangeType',
      'EventKind',
      'Database',
      'OntologyClass',
      'PropertyDefinition',
      'Instance',
      'Event',
      'DatabasePayload',
      'OntologyClassPayload',
      'InstancePayload',
      'DeletePayload',
      'DatabaseConnection',
      'OntologyClassConnection',
      'InstanceConnection',
      'DatabaseEdge',
      'OntologyClassEdge',
      'InstanceEdge',
      'PageInfo',
      'InstanceChange',
      'AggregateChange',
    ];
    for (const name of contract) expect(names, name).toContain(name);
  });

  it('argument types follow the contract (ids ID, seqs Int, after String, where/orderBy lists)', async () => {
    type TypeRef = { kind: string; name: string | null; ofType: TypeRef | null };
    type Field = { name: string; args: { name: string; type: TypeRef }[] };
    const typeRef = 'kind name ofType { kind name ofType { kind name ofType { kind name } } }';
    const res = expectData(
      await api().request<{ query: { fields: Field[] }; subscription: { fields: Field[] } }>(
        `{ query: __type(name: "Query") { fields { name args { name type { ${typeRef} } } } }
           subscription: __type(name: "Subscription") { fields { name args { name type { ${typeRef} } } } } }`,
      ),
    );
    const show = (t: TypeRef | null): string =>
      !t
        ? '?'
        : t.kind === 'NON_NULL'
          ? `${show(t.ofType)}!`
          : t.kind === 'LIST'
            ? `[${show(t.ofType)}]`
            : (t.name ?? '?');
    const sig = (fields: Field[], name: string) =>
      Object.fromEntries((fields.find((f) => f.name === name)?.args ?? []).map((a) => [a.name, show(a.type)]));
    const q = res.query.fields;
    expect(sig(q, 'database')).toEqual({ name: 'ID!', minSeq: 'Int' });
    expect(sig(q, 'databases')).toMatchObject({ first: 'Int', after: 'String' });
    expect(sig(q, 'ontologyClass')).toEqual({ database: 'ID!', id: 'ID!', minSeq: 'Int' });
    expect(sig(q, 'ontologyClasses')).toMatchObject({ database: 'ID!', first: 'Int', after: 'String' });
    expect(sig(q, 'instance')).toEqual({ database: 'ID!', id: 'ID!', minSeq: 'Int' });
    expect(sig(q, 'instances')).toMatchObject({
      database: 'ID!',
      classId: 'ID',
      where: '[InstanceWhere!]',
      search: 'String',
      orderBy: '[InstanceOrder!]',
      first: 'Int',
      after: 'String',
    });
    expect(sig(q, 'events')).toMatchObject({
      aggregateType: 'AggregateType!',
      aggregateId: 'ID!',
      fromSeq: 'Int',
      first: 'Int',
    });
    const s = res.subscription.fields;
    expect(sig(s, 'instanceChanged')).toEqual({ database: 'ID!', classId: 'ID', id: 'ID' });
    expect(sig(s, 'aggregateChanged')).toEqual({ aggregateType: 'AggregateType', aggregateId: 'ID' });
  });

  it('keeps an idle keep-alive connection open past the 5 s of a bare Node server (a request on it meets no reset)', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ask = () =>
      new Promise<{ status: number; port: number }>((resolve, reject) => {
        const req = httpRequest(
          `${gateway().http}`,
          { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, port: req.socket?.localPort ?? -1 }));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ query: '{ __typename }' }));
      });
    try {
      const first = await ask();
      await new Promise((r) => setTimeout(r, 6_000));
      const second = await ask();
      expect([first.status, second.status]).toEqual([200, 200]);
      // The same socket: the gateway did not close it while idle.
      expect(second.port).toBe(first.port);
    } finally {
      agent.destroy();
    }
  }, 15_000);

  it('/health answers 200 with { status, profile, dependencies: { name: { status, detail } } }', async () => {
    const res = await fetch(`${gateway().base}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/json/);
    const body = (await res.json()) as Health;
    expect(typeof body.status).toBe('string');
    expect(body.profile).toBe(profile);
    expect(Object.keys(body.dependencies).length).toBeGreaterThan(0);
    for (const dep of Object.values(body.dependencies)) {
      expect(typeof dep.status).toBe('string');
      expect(dep).toHaveProperty('detail');
    }
  });

  it('/metrics is Prometheus text', async () => {
    await api().newDatabase();
    const res = await fetch(`${gateway().base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# HELP \S+ .+$/m);
    expect(text).toMatch(/^# TYPE \S+ (counter|gauge|histogram|summary|untyped)$/m);
    const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?([0-9.e+-]+|NaN|\+Inf|-Inf)( -?\d+)?$/;
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      expect(line).toMatch(sample);
    }
  });

  it('/metrics?name= answers only the metrics named (a histogram by its _count too), nothing for an unknown name', async () => {
    await api().newDatabase();
    const named = async (...names: string[]) => {
      const res = await fetch(`${gateway().base}/metrics?${names.map((n) => `name=${n}`).join('&')}`);
      expect(res.status).toBe(200);
      return res.text();
    };
    const families = (text: string) => [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);

    expect(families(await named('cairn_mutation_duration_seconds_count'))).toEqual(['cairn_mutation_duration_seconds']);
    const two = await named('cairn_subscriptions_active', 'cairn_mutation_duration_seconds');
    expect(families(two).sort()).toEqual(['cairn_mutation_duration_seconds', 'cairn_subscriptions_active']);
    expect(two).toMatch(/^cairn_mutation_duration_seconds_count\{.*\} [1-9]\d*$/m);
    expect(await named('cairn_no_such_metric')).toBe('');
    // The full scrape holds more (the process metrics among them).
    expect(families(await (await fetch(`${gateway().base}/metrics`)).text()).length).toBeGreaterThan(5);
  });

  it('/metrics shows how long each stage after a mutation took (relay, projector, change delivery)', async () => {
    // Embedded: one process has every role; production: each stage is measured by its own process.
    const base = (role: string) =>
      profile === 'embedded' || role === 'gateway' ? gateway().base : cluster().base(role);
    const count = async (role: string, name: string) => {
      const text = await (await fetch(`${base(role)}/metrics`)).text();
      return Number(new RegExp(`^${name}_count (\\d+)$`, 'm').exec(text)?.[1] ?? 'NaN');
    };
    const stages = [
      ['relay', 'cairn_relay_lag_seconds'],
      ['projector', 'cairn_projector_lag_seconds'],
      ['gateway', 'cairn_change_delivery_lag_seconds'],
    ] as const;
    const before = await Promise.all(stages.map(([role, name]) => count(role, name)));
    const name = randomId('db');
    const sub = await subscribe(
      gateway().ws,
      'subscription($id: ID!) { aggregateChanged(aggregateType: DATABASE, aggregateId: $id) { aggregateId } }',
      { id: name },
    );
    await api().newDatabase({ name });
    expect(await sub.next()).toEqual({ aggregateChanged: { aggregateId: name } });
    await sub.close();
    const after = await Promise.all(stages.map(([role, name]) => count(role, name)));
    for (const [i, n] of after.entries()) expect(n, stages[i]![1]).toBeGreaterThan(before[i]!);
  });

  it('an unknown path is 404', async () => {
    const res = await fetch(`${gateway().base}/nope`);
    expect(res.status).toBe(404);
    await res.text();
  });

  it('keeps serving after all of the above', async () => {
    const health = await fetch(`${gateway().base}/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as Health).status).toMatch(/\S/);
    const d = await api().newDatabase({ label: 'still alive' });
    expect(expectData(await api().database(d.database.name, d.seq)).database).toMatchObject({ label: 'still alive' });
  });
});
