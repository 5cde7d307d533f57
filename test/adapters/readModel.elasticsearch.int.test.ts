import { afterAll, describe, expect, inject, it } from 'vitest';
import { createElasticsearchReadModel } from '../../src/adapters/readModel/elasticsearch.js';
import { type Client, createElasticsearchClient } from '../../src/adapters/readModel/elasticsearchClient.js';
import { DOC_VALUE, indexBody, toSource } from '../../src/adapters/readModel/elasticsearchIndexes.js';
import { isUnavailable } from '../../src/core/errors.js';
import { describeReadModelContract, instanceDoc } from '../contract/readModel.contract.js';
import { randomId } from '../support/ids.js';

const url = inject('engines').ELASTICSEARCH_URL;
const clients: Client[] = [];
const newClient = (node = url): Client => {
  const client = createElasticsearchClient({ node, maxRetries: 0, requestTimeout: 10_000 });
  clients.push(client);
  return client;
};
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

describeReadModelContract('elasticsearch', async () => {
  const readModel = createElasticsearchReadModel({ client: newClient(), indexPrefix: randomId('rm') });
  return { readModel, cleanup: () => readModel.dropIndexes() };
});

describe('elasticsearch read model', () => {
  it('maps one property name of two types to two fields, never dynamically by name', async () => {
    const client = newClient();
    const indexPrefix = randomId('rm');
    const rm = createElasticsearchReadModel({ client, indexPrefix });
    try {
      await rm.apply([
        instanceDoc('db', 'a', 'A', { age: 30, when: '2024-01-01T00:00:00Z', obj: { nested: 'x' } }),
        instanceDoc('db', 'b', 'B', { age: 'thirty', when: 5, obj: [1, 'two'] }),
      ]);
      const { body } = await client.indices.getMapping<Record<string, { mappings: Record<string, unknown> }>>({
        index: `${indexPrefix}-instances`,
      });
      const mapping = Object.values(body)[0]!.mappings as {
        properties: Record<string, { properties?: Record<string, { type: string }>; enabled?: boolean }>;
      };
      expect(mapping.properties.data?.enabled).toBe(false);
      expect(mapping.properties.p_num?.properties).toEqual({ age: { type: 'double' }, when: { type: 'double' } });
      expect(Object.keys(mapping.properties.p_str?.properties ?? {}).sort()).toEqual(['age', 'when']);
      expect(mapping.properties.obj).toBeUndefined();
    } finally {
      await rm.dropIndexes();
    }
  });

  it('fails a bulk one of whose docs Elasticsearch refuses, naming it (stale ones are not failures)', async () => {
    const indexPrefix = randomId('rm');
    const rm = createElasticsearchReadModel({ client: newClient(), indexPrefix, maxFields: 40 });
    try {
      await rm.apply([instanceDoc('db', 'a', 'A', { v: 1 }, 2)]);
      const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`p${i}`, i]));
      const bulk = [instanceDoc('db', 'a', 'A', { v: 0 }, 1), instanceDoc('db', 'wide', 'A', many)];
      await expect(rm.apply(bulk)).rejects.toThrow(
        /refused db\/wide: illegal_argument_exception: Limit of total fields/,
      );
      // The stale write in the same bulk was a 409: ignored, the newer doc kept.
      expect((await rm.getMany('INSTANCE', ['db/a']))[0]?.data).toEqual({ properties: { v: 1 } });
    } finally {
      await rm.dropIndexes();
    }
  });

  it('reads docs an older version wrote without the doc value, and adds the field to its index', async () => {
    const client = newClient();
    const indexPrefix = randomId('rm');
    // The instances index as versions before DOC_VALUE made it, holding two docs they wrote.
    const old = indexBody('INSTANCE', { shards: 1, replicas: 0, maxFields: 1_000 }) as {
      mappings: { properties: Record<string, unknown> };
    };
    delete old.mappings.properties[DOC_VALUE];
    await client.indices.create({
      index: `${indexPrefix}-instances-g0`,
      body: { ...old, aliases: { [`${indexPrefix}-instances`]: {} } },
    });
    const written = [instanceDoc('db', 'a', 'C', { n: 1 }), instanceDoc('db', 'b', 'C', { n: 2 })];
    await client.bulk({
      refresh: true,
      body: written.flatMap((d) => {
        const { [DOC_VALUE]: _, ...source } = toSource(d);
        return [{ index: { _index: `${indexPrefix}-instances`, _id: d.aggregateId } }, source];
      }),
    });
    const rm = createElasticsearchReadModel({ client, indexPrefix });
    const byNDesc = {
      database: 'db',
      classId: 'C',
      where: [],
      orderBy: [{ property: 'n', direction: 'DESC' as const }],
      first: 10,
    };
    try {
      const page = await rm.searchInstances(byNDesc);
      expect(page.docs).toEqual([written[1], written[0]]);
      // A doc written now carries the doc value; the old one beside it is still read by id.
      const updated = { ...written[0]!, seq: 2, data: { properties: { n: 3 } } };
      await rm.apply([updated]);
      const again = await rm.searchInstances(byNDesc);
      expect(again.docs).toEqual([updated, written[1]]);
    } finally {
      await rm.dropIndexes();
    }
  });

  it('creates its indexes once, even when two instances race', async () => {
    const indexPrefix = randomId('rm');
    const a = createElasticsearchReadModel({ client: newClient(), indexPrefix });
    const b = createElasticsearchReadModel({ client: newClient(), indexPrefix });
    try {
      await Promise.all([a.ensureIndexes(), b.ensureIndexes()]);
      await a.apply([instanceDoc('db', 'x', 'C', { v: 1 })]);
      expect((await b.getMany('INSTANCE', ['db/x']))[0]?.seq).toBe(1);
    } finally {
      await a.dropIndexes();
    }
  });

  it('reads at once from indexes another instance is still creating (no shard-not-ready failures)', async () => {
    // A gateway's first read can land between the projector's index creation and its primary
    // shard starting; 20 rounds make that window likely to be hit if reads do not wait for it.
    for (let round = 0; round < 20; round++) {
      const indexPrefix = randomId('rm');
      const creator = createElasticsearchReadModel({ client: newClient(), indexPrefix });
      const reader = createElasticsearchReadModel({ client: newClient(), indexPrefix });
      try {
        const creating = creator.ensureIndexes();
        await new Promise((r) => setTimeout(r, round * 3));
        await expect(reader.getMany('INSTANCE', ['db/x'])).resolves.toEqual([null]);
        await creating;
      } finally {
        await creator.dropIndexes();
      }
    }
  });

  it('a search in another process sees every write acknowledged before it started (bulks do not refresh)', async () => {
    const indexPrefix = randomId('rm');
    const writer = createElasticsearchReadModel({ client: newClient(), indexPrefix });
    const reader = createElasticsearchReadModel({ client: newClient(), indexPrefix });
    try {
      // Well inside the periodic refresh (1 s): each round is found only if the search refreshes first.
      for (let i = 0; i < 20; i++) {
        await writer.apply([instanceDoc('db', `p${i}`, 'C', { n: i })]);
        const page = await reader.searchInstances({
          database: 'db',
          where: [{ property: 'n', op: 'eq', value: i }],
          orderBy: [],
          first: 10,
        });
        expect(page.docs.map((d) => d.id)).toEqual([`p${i}`]);
        expect((await reader.list('DATABASE', { first: 10 })).totalCount).toBe(0);
      }
    } finally {
      await writer.dropIndexes();
    }
  });

  it('concurrent searches share refreshes', async () => {
    const client = newClient();
    const indexPrefix = randomId('rm');
    const rm = createElasticsearchReadModel({ client, indexPrefix });
    try {
      await rm.apply([instanceDoc('db', 'a', 'C', { n: 1 })]);
      const refreshes = async () => {
        const { body } = await client.indices.stats<{ _all: { primaries: { refresh: { total: number } } } }>({
          index: `${indexPrefix}-instances`,
          metric: 'refresh',
        });
        return body._all.primaries.refresh.total;
      };
      const before = await refreshes();
      const pages = await Promise.all(
        Array.from({ length: 32 }, () => rm.searchInstances({ database: 'db', where: [], orderBy: [], first: 10 })),
      );
      for (const page of pages) expect(page.totalCount).toBe(1);
      // One running and one queued behind it; a periodic refresh may add one.
      expect((await refreshes()) - before).toBeLessThanOrEqual(3);
    } finally {
      await rm.dropIndexes();
    }
  });

  it('fails fast with UnavailableError when Elasticsearch cannot be reached', async () => {
    const rm = createElasticsearchReadModel({ client: newClient('http://127.0.0.1:1'), indexPrefix: randomId('rm') });
    const started = Date.now();
    for (const op of [
      () => rm.ping(),
      () => rm.getMany('DATABASE', ['x']),
      () => rm.apply([instanceDoc('d', 'i', 'C', {})]),
    ]) {
      const error = await op().catch((e: unknown) => e);
      expect(isUnavailable(error)).toBe(true);
      expect(error).toMatchObject({
        code: 'UNAVAILABLE',
        retriable: true,
        extensions: { dependency: 'elasticsearch' },
      });
    }
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
