import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ReadModel } from '../../src/ports/readModel.js';
import { type RunningCairn, startCairn } from '../../src/runtime/cairn.js';
import { createEmbeddedAdapters } from '../../src/runtime/embedded.js';

/** Counts read-model calls per method while a real Cairn (embedded) serves over HTTP. */
describe('DataLoader batching of Instance.class and Instance.ref', () => {
  let dir: string;
  let cairn: RunningCairn;
  const calls: { method: string; size: number }[] = [];

  const gql = async (query: string) => {
    const res = await fetch(cairn.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    const body = (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    return body.data!;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-dl-'));
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', CAIRN_DATA_DIR: dir, LOG_LEVEL: 'silent' });
    const adapters = await createEmbeddedAdapters(config);
    const inner: ReadModel = adapters.readModel;
    adapters.readModel = {
      ...inner,
      getMany: (type, ids) => {
        calls.push({ method: `getMany:${type}`, size: ids.length });
        return inner.getMany(type, ids);
      },
    };
    cairn = await startCairn(config, adapters, createLogger('silent'));
    await gql('mutation { createDatabase(input: { name: "dl" }) { seq } }');
    await gql(`mutation { createOntologyClass(input: { database: "dl", id: "person", properties: [
      { name: "name", type: STRING, required: true }, { name: "friend", type: REFERENCE, target: "person" } ] }) { seq } }`);
    let previous: string | null = null;
    for (let i = 0; i < 100; i++) {
      const id = `p${String(i).padStart(3, '0')}`;
      const friend: string = previous ? `, friend: "${previous}"` : '';
      await gql(
        `mutation { createInstance(input: { database: "dl", classId: "person", id: "${id}", properties: { name: "n${i}"${friend} } }) { seq } }`,
      );
      previous = id;
    }
    await gql('{ instance(database: "dl", id: "p099", minSeq: 1) { id } }');
  });

  afterAll(async () => {
    await cairn?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves class and ref for a page of 100 with one batched read per type', async () => {
    calls.length = 0;
    const data = await gql(
      '{ instances(database: "dl", first: 100) { edges { node { id class { id } ref(property: "friend") { id } } } } }',
    );
    const edges = (
      data.instances as { edges: { node: { id: string; class: { id: string }; ref: { id: string } | null } }[] }
    ).edges;
    expect(edges).toHaveLength(100);
    expect(edges.every((e) => e.node.class.id === 'person')).toBe(true);
    expect(edges.filter((e) => e.node.ref !== null)).toHaveLength(99);
    expect(calls.filter((c) => c.method === 'getMany:ONTOLOGY_CLASS')).toEqual([
      { method: 'getMany:ONTOLOGY_CLASS', size: 1 },
    ]);
    const instanceReads = calls.filter((c) => c.method === 'getMany:INSTANCE');
    expect(instanceReads).toHaveLength(1);
    expect(instanceReads[0]!.size).toBe(99);
  });
});
