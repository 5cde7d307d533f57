import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalEventStore } from '../../src/adapters/eventStore/local.js';
import { createLocalIdempotencyStore, type LocalIdempotencyStore } from '../../src/adapters/idempotencyStore/local.js';
import { createLocalSequenceStore, type LocalSequenceStore } from '../../src/adapters/sequenceStore/local.js';
import { createAggregateRepository } from '../../src/app/aggregateRepository.js';
import { createCommandService } from '../../src/app/commandService.js';
import type { EventStore } from '../../src/ports/eventStore.js';

const meta = { idempotencyKey: null, actor: 'test', correlationId: 'c' };
let dir: string;
let sequenceStore: LocalSequenceStore;
let idempotencyStore: LocalIdempotencyStore;
let raw: EventStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-repo-'));
  raw = createLocalEventStore({ dir: join(dir, 'store') });
  sequenceStore = await createLocalSequenceStore({ file: join(dir, 'ledger.jsonl') });
  idempotencyStore = await createLocalIdempotencyStore({ file: join(dir, 'idem.jsonl') });
});
afterAll(async () => {
  await sequenceStore.close();
  await idempotencyStore.close();
  await rm(dir, { recursive: true, force: true });
});

/** The event store, counting listings and by-key reads. */
function counted() {
  const reads = { listings: 0, byKey: 0 };
  const eventStore: EventStore = {
    ...raw,
    readAggregate: (...a) => {
      reads.listings++;
      return raw.readAggregate(...a);
    },
    readCommits: (refs) => {
      reads.byKey += refs.length;
      return raw.readCommits(refs);
    },
  };
  return { eventStore, reads };
}

function gateway() {
  const { eventStore, reads } = counted();
  const repository = createAggregateRepository({ eventStore, cacheSize: 100, ledger: sequenceStore });
  const service = createCommandService({
    eventStore,
    sequenceStore,
    idempotencyStore,
    repository,
    options: { dependencyTimeoutMs: 2_000, trustCache: false },
  });
  return { service, repository, reads };
}

describe('aggregate repository with a ledger', () => {
  it('reads nothing from the store for a current cache, and only the missing commits when behind', async () => {
    const a = gateway();
    const b = gateway();
    await a.service.execute({ type: 'CreateDatabase', input: { name: 'repo' } }, meta);
    const ref = { aggregateType: 'DATABASE', aggregateId: 'repo' } as const;

    a.reads.listings = a.reads.byKey = 0;
    expect((await a.repository.load(ref)).seq).toBe(1);
    expect(a.reads).toEqual({ listings: 0, byKey: 0 }); // cache at the ledger's seq

    expect((await b.repository.load(ref)).seq).toBe(1); // b never saw it: one by-key read
    expect(b.reads).toEqual({ listings: 0, byKey: 1 });

    await b.service.execute({ type: 'DeleteDatabase', input: { name: 'repo', expectedSeq: 1 } }, meta);
    const state = await a.repository.load(ref);
    expect([state.seq, state.exists]).toEqual([2, false]);
    expect(a.reads).toEqual({ listings: 0, byKey: 1 }); // only seq 2
  });

  it('answers an aggregate the ledger never saw without reading the store', async () => {
    const a = gateway();
    const ref = { aggregateType: 'INSTANCE', aggregateId: 'repo/none' } as const;
    const state = await a.repository.load(ref);
    expect([state.seq, state.exists]).toEqual([0, false]);
    // Asked again (its empty state is now cached): still nothing to read.
    expect((await a.repository.load(ref)).seq).toBe(0);
    expect(a.reads).toEqual({ listings: 0, byKey: 0 });
  });
});
