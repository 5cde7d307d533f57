import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalEventStore } from '../../src/adapters/eventStore/local.js';
import { createLocalIdempotencyStore, type LocalIdempotencyStore } from '../../src/adapters/idempotencyStore/local.js';
import { createMemoryReadModel } from '../../src/adapters/readModel/memory.js';
import { createLocalSequenceStore, type LocalSequenceStore } from '../../src/adapters/sequenceStore/local.js';
import { applyCommits, createAggregateRepository } from '../../src/app/aggregateRepository.js';
import { type CommandService, createCommandService } from '../../src/app/commandService.js';
import { rebuildReadModel } from '../../src/app/rebuild.js';
import { initialState } from '../../src/core/domain/index.js';
import { stateToDoc } from '../../src/core/projection.js';
import type { EventStore } from '../../src/ports/eventStore.js';
import type { ProjectedDoc, ReadModel } from '../../src/ports/readModel.js';

const INSTANCES = 60;
const meta = { idempotencyKey: null, actor: 'test', correlationId: 'c' };
let dir: string;
let eventStore: EventStore;
let sequenceStore: LocalSequenceStore;
let idempotencyStore: LocalIdempotencyStore;
let service: CommandService;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-rb-'));
  eventStore = createLocalEventStore({ dir: join(dir, 'store') });
  sequenceStore = await createLocalSequenceStore({ file: join(dir, 'ledger.jsonl') });
  idempotencyStore = await createLocalIdempotencyStore({ file: join(dir, 'idem.jsonl') });
  service = createCommandService({
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

/**
 * A read model whose rebuild's bulk writes take a while, recording how many overlap; `failOn` fails
 * that call; `during` runs once, while the first bulk is being written.
 */
function slowReadModel(failOn?: number, during?: () => Promise<void>) {
  const inner = createMemoryReadModel();
  const stats = { calls: 0, inFlight: 0, maxInFlight: 0 };
  const readModel: ReadModel = {
    ...inner,
    async beginRebuild() {
      const target = await inner.beginRebuild();
      return {
        ...target,
        async apply(docs: ProjectedDoc[]) {
          const call = ++stats.calls;
          if (call === 1) await during?.();
          stats.inFlight++;
          stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
          await new Promise((r) => setTimeout(r, 15));
          stats.inFlight--;
          if (call === failOn) throw new Error('bulk refused');
          await target.apply(docs);
        },
      };
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

describe('rebuild: a new generation, swapped in when complete', () => {
  const ids = (docs: ProjectedDoc[]) => docs.map((d) => d.id).sort();
  const instances = (readModel: ReadModel) =>
    readModel.searchInstances({ database: 'db', where: [], orderBy: [], first: 1000 }).then((p) => p.docs);

  it('keeps the read model as it was until the rebuild is complete, and when it fails', async () => {
    let seenDuring: ProjectedDoc[] = [];
    const { readModel, inner } = slowReadModel(3, async () => {
      seenDuring = await instances(inner);
    });
    const stale = { ...stateToDoc(await folded('INSTANCE', 'db/i0')), id: 'stale', aggregateId: 'db/stale' };
    await inner.apply([stale]);
    await expect(rebuildReadModel({ eventStore, readModel, sequenceStore }, { batchSize: 10 })).rejects.toThrow(
      'bulk refused',
    );
    expect(ids(seenDuring)).toEqual(['stale']);
    expect(ids(await instances(inner))).toEqual(['stale']);

    await rebuildReadModel({ eventStore, readModel: inner, sequenceStore }, { batchSize: 10 });
    expect(await instances(inner)).toHaveLength(INSTANCES); // the stale doc went with its generation
  });

  it('catches up, after the swap, on what a projector wrote to the old generation meanwhile', async () => {
    const id = 'i1';
    const { readModel, inner } = slowReadModel(undefined, async () => {
      const { seq } = (await folded('INSTANCE', `db/${id}`)) as { seq: number };
      await service.execute(
        { type: 'UpdateInstance', input: { database: 'db', id, expectedSeq: seq, set: { n: -1 } } },
        meta,
      );
      await inner.apply([stateToDoc(await folded('INSTANCE', `db/${id}`))]); // the projector, on the old generation
    });
    const result = await rebuildReadModel({ eventStore, readModel, sequenceStore }, { batchSize: 10 });
    expect(result.caughtUp).toBe(1);
    const [doc] = await inner.getMany('INSTANCE', [`db/${id}`]);
    expect(doc).toMatchObject({ data: { properties: { n: -1 } } });
    expect(doc!.seq).toBe((await folded('INSTANCE', `db/${id}`)).seq);
  });
});

/** An aggregate's state folded from the store. */
async function folded(aggregateType: 'INSTANCE', aggregateId: string) {
  const ref = { aggregateType, aggregateId };
  return applyCommits(initialState(ref), await eventStore.readAggregate(ref));
}
