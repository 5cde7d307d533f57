import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalEventStore } from '../../src/adapters/eventStore/local.js';
import { serializeCommit } from '../../src/core/envelope.js';
import { EventAlreadyExistsError } from '../../src/core/errors.js';
import { commitKey, indexRefOf, plainIndexRef } from '../../src/ports/eventStore.js';
import { describeEventStoreContract, makeCommit } from '../contract/eventStore.contract.js';

const tempDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'cairn-es-'));

describeEventStoreContract('local', async (hooks) => {
  const dir = await tempDir();
  return {
    store: createLocalEventStore({ dir, ...hooks }),
    another: () => createLocalEventStore({ dir }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('local event store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('never shows a leftover temp file (a torn write) and sweeps stale ones', async () => {
    const store = createLocalEventStore({ dir, staleTempMs: 0 });
    await store.ping();
    const torn = serializeCommit(makeCommit('INSTANCE', 'db/x', 1)).slice(0, 50);
    await writeFile(join(dir, '.tmp', 'crashed-1'), torn);

    expect(await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/x' })).toEqual([]);
    expect(await store.listUnpublished(10)).toEqual([]);
    const scanned = [];
    for await (const c of store.scan()) scanned.push(c);
    expect(scanned).toEqual([]);

    const c = makeCommit('INSTANCE', 'db/x', 1);
    await store.append(c);
    expect(await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/x' })).toEqual([c]);
    // The first write swept the stale temp; no temp of a finished append remains.
    await expect.poll(() => readdir(join(dir, '.tmp'))).toEqual([]);
  });

  it('lays keys out as the bucket does and sees everything after a reopen', async () => {
    const first = createLocalEventStore({ dir });
    const a = makeCommit('INSTANCE', 'db/inst-1', 1);
    const b = makeCommit('INSTANCE', 'db/inst-1', 2);
    await first.append(a);
    await first.append(b);
    await first.putCheckpoint('relay', { at: 2 });
    await first.markPublished([indexRefOf(a)]);
    expect(await readdir(join(dir, 'events/INSTANCE/db/inst-1'))).toEqual(['0000000001.jsonl', '0000000002.jsonl']);

    const reopened = createLocalEventStore({ dir });
    expect(await reopened.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/inst-1' })).toEqual([a, b]);
    expect((await reopened.listUnpublished(10)).map(plainIndexRef)).toEqual([indexRefOf(b)]);
    expect(await reopened.getCheckpoint('relay')).toEqual({ at: 2 });
    await expect(reopened.append(makeCommit('INSTANCE', 'db/inst-1', 2))).rejects.toBeInstanceOf(
      EventAlreadyExistsError,
    );
    expect(await reopened.readCommits([b])).toEqual([b]);
  });

  it('lets exactly one of two store instances on one directory win a position', async () => {
    const one = createLocalEventStore({ dir });
    const two = createLocalEventStore({ dir });
    const results = await Promise.allSettled([
      one.append(makeCommit('DATABASE', 'shop', 1)),
      two.append(makeCommit('DATABASE', 'shop', 1)),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('removes emptied outbox folders so the outbox listing stays small, and re-creates them', async () => {
    const store = createLocalEventStore({ dir });
    const commits = Array.from({ length: 5 }, (_, i) => makeCommit('INSTANCE', `db/i${i}`, 1));
    await Promise.all(commits.map((c) => store.append(c)));
    await store.markPublished(commits.map(indexRefOf));
    expect(await readdir(join(dir, 'indexes/by-date'))).toEqual([]);

    // Appends racing a prune recreate the folder.
    const next = commits.map((c) => makeCommit('INSTANCE', c.aggregateId, 2));
    await Promise.all([...next.map((c) => store.append(c)), store.markPublished(commits.map(indexRefOf))]);
    expect(await store.listUnpublished(10)).toHaveLength(5);
    expect(commitKey(next[0]!)).toBe('events/INSTANCE/db/i0/0000000002.jsonl');
  });

  it('reports an unusable directory as unavailable', async () => {
    await writeFile(join(dir, 'file'), 'x');
    const store = createLocalEventStore({ dir: join(dir, 'file') });
    await expect(store.ping()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(store.append(makeCommit('DATABASE', 'shop', 1))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
