import { appendFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalIdempotencyStore, type LocalIdempotencyStore } from '../../src/adapters/idempotencyStore/local.js';
import { describeIdempotencyStoreContract } from '../contract/idempotencyStore.contract.js';

describeIdempotencyStoreContract('local', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-idem-'));
  const store = await createLocalIdempotencyStore({ file: join(dir, 'idempotency.jsonl') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('local IdempotencyStore durability', () => {
  let dir: string;
  let file: string;
  const open: LocalIdempotencyStore[] = [];
  const openStore = async (compactAfterBytes?: number): Promise<LocalIdempotencyStore> => {
    const store = await createLocalIdempotencyStore({ file, compactAfterBytes });
    open.push(store);
    return store;
  };
  const closeAll = async (): Promise<void> => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-idem-'));
    file = join(dir, 'idempotency.jsonl');
  });
  afterEach(async () => {
    await closeAll();
    await rm(dir, { recursive: true, force: true });
  });

  it('sees completed, started and released keys again after a reopen', async () => {
    const first = await openStore();
    await first.begin('s', 'done', 'h1', 60_000);
    await first.complete('s', 'done', { seq: 1, id: 'x' });
    await first.begin('s', 'running', 'h1', 60_000);
    await first.begin('s', 'released', 'h1', 60_000);
    await first.release('s', 'released');
    await closeAll();

    const second = await openStore();
    expect(await second.begin('s', 'done', 'h1', 60_000)).toEqual({
      state: 'completed',
      response: { seq: 1, id: 'x' },
    });
    expect(await second.begin('s', 'done', 'h2', 60_000)).toEqual({ state: 'mismatch' });
    expect(await second.begin('s', 'running', 'h1', 60_000)).toEqual({ state: 'in_progress' });
    expect(await second.begin('s', 'released', 'h2', 60_000)).toEqual({ state: 'started' });
  });

  it('keeps purges across a reopen', async () => {
    const first = await openStore();
    await first.begin('s', 'a', 'h', 60_000);
    expect(await first.purge(-1_000)).toBe(1);
    await closeAll();
    const second = await openStore();
    expect(await second.begin('s', 'a', 'h2', 60_000)).toEqual({ state: 'started' });
  });

  it('ignores a torn last line', async () => {
    const first = await openStore();
    await first.begin('s', 'a', 'h', 60_000);
    await first.complete('s', 'a', 1);
    await closeAll();
    await appendFile(file, '{"put":{"scope":"s","key":"b","ha');
    const second = await openStore();
    expect(await second.begin('s', 'a', 'h', 60_000)).toEqual({ state: 'completed', response: 1 });
    expect(await second.begin('s', 'b', 'h', 60_000)).toEqual({ state: 'started' });
  });

  it('compacts away purged and overwritten keys', async () => {
    const store = await openStore(1 << 30);
    const payload = { text: 'x'.repeat(500) };
    for (let i = 0; i < 200; i++) {
      await store.begin('s', `k${i}`, 'h', 60_000);
      await store.complete('s', `k${i}`, payload);
    }
    await store.begin('s', 'keep', 'h', 60_000);
    const before = (await stat(file)).size;
    await store.purge(-1_000);
    await store.begin('s', 'keep2', 'h', 60_000);
    await store.compact();
    expect((await stat(file)).size).toBeLessThan(before / 20);
    await closeAll();
    const reopened = await openStore();
    expect(await reopened.begin('s', 'keep2', 'h', 60_000)).toEqual({ state: 'in_progress' });
    expect(await reopened.begin('s', 'k1', 'other', 60_000)).toEqual({ state: 'started' });
  });
});
