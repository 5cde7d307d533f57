import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalEventStore } from '../../src/adapters/eventStore/local.js';
import { createLocalIdempotencyStore, type LocalIdempotencyStore } from '../../src/adapters/idempotencyStore/local.js';
import { createMemoryReadModel } from '../../src/adapters/readModel/memory.js';
import { createLocalSequenceStore, type LocalSequenceStore } from '../../src/adapters/sequenceStore/local.js';
import { createAggregateRepository } from '../../src/app/aggregateRepository.js';
import { createCommandService } from '../../src/app/commandService.js';
import { rebuildReadModel } from '../../src/app/rebuild.js';
import type { EventStore } from '../../src/ports/eventStore.js';
import type { ProjectedDoc, ReadModel } from '../../src/ports/readModel.js';

const INSTANCES = 60;
const meta = { idempotencyKey: null, actor: 'test', correlationId: 'c' };
let dir: string;
let eventStore: EventStore;
let sequenceStore: LocalSequenceStore;
let idempotencyStore: LocalIdempotencyStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-rb-'));
  eventStore = createLocalEventStore({ dir: join(dir, 'store') });
  sequenceStore = await createLocalSequenceStore({ file: join(dir, 'ledger.jsonl') });
  idempotencyStore = await createLocalIdempotencyStore({ file: join(dir, 'idem.jsonl') });
  const service = createCommandService({
    eventStore,
    sequenceStore,
    idempotencyStore,
    repository: createAggregateRepository({ eventStore, cacheSize: 100, ledger: sequenceStore }),
    options: { dependencyTimeoutMs: 5_000, trustCache: false },
  });
  await service.execute({ type: 'CreateDatabase', input: { name: 'db' } }, meta);
  await service.execute(
    { type: 'CreateOntologyClass', input: { database: 'db', id: 'c', properties: [{ name: 'n', type: 'INT' }] } },
    meta,
  );
  for (let i = 0; i < INSTANCES; i++) {
    await service.execute(
      { type: 'CreateInstance', input: { database: 'db', classId: 'c', id: `i${i}`, properties: { n: i } } },
      meta,
    );
  }
});
afterAll(async () => {
  await sequenceStore.close();
  await idempotencyStore.close();
  await rm(dir, { recursive: true, force: true });
});

/** A read model whose bulk writes take a while, recording how many overlap; `failOn` fails that call. */
function slowReadModel(failOn?: number) {
  const inner = createMemoryReadModel();
  const stats = { calls: 0, inFlight: 0, maxInFlight: 0 };
  const readModel: ReadModel = {
    ...inner,
    async apply(docs: ProjectedDoc[]) {
      const call = ++stats.calls;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      await new Promise((r) => setTimeout(r, 15));
      stats.inFlight--;
      if (call === failOn) throw new Error('bulk refused');
      await inner.apply(docs);
    },
  };
  return { readModel, inner, stats };
}

describe('rebuild: bulk writes', () => {
  for (const full of [false, true]) {
    it(`keeps two bulks in flight, reports progress in order and writes every doc (${full ? 'scan' : 'ledger'})`, async () => {
      const { readModel, inner, stats } = slowReadModel();
      const progress: number[] = [];
      const result = await rebuildReadModel(
        { eventStore, readModel, sequenceStore },
        { full, batchSize: 10, onProgress: (p) => progress.push(p.aggregates) },
      );
      expect(result.aggregates).toBe(INSTANCES + 2);
      expect(stats.maxInFlight).toBe(2);
      expect(stats.inFlight).toBe(0); // every bulk had landed when the rebuild resolved
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      const page = await inner.searchInstances({ database: 'db', where: [], orderBy: [], first: 1000 });
      expect(page.docs.map((d) => d.id).sort()).toEqual(Array.from({ length: INSTANCES }, (_, i) => `i${i}`).sort());
    });
  }

  it('fails when a bulk fails, once the bulks in flight have landed, and sends no more', async () => {
    const { readModel, stats } = slowReadModel(2);
    await expect(rebuildReadModel({ eventStore, readModel, sequenceStore }, { batchSize: 10 })).rejects.toThrow(
      'bulk refused',
    );
    expect(stats.inFlight).toBe(0);
    expect(stats.calls).toBe(3); // the one sent while the failing one was in flight, and no more
  });
});
