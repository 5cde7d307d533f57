import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalSequenceStore, type LocalSequenceStore } from '../../src/adapters/sequenceStore/local.js';
import type { ReservationRequest } from '../../src/ports/sequenceStore.js';
import { describeSequenceStoreContract } from '../contract/sequenceStore.contract.js';

describeSequenceStoreContract('local', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-ledger-'));
  const store = await createLocalSequenceStore({ file: join(dir, 'ledger.jsonl') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const request = (
  key: string,
  expectedSeq: number,
  overrides: Partial<ReservationRequest> = {},
): ReservationRequest => ({
  key,
  expectedSeq,
  nextSeq: expectedSeq + 1,
  liveAfter: true,
  parent: null,
  requireLive: [],
  forbidLiveChildren: false,
  ...overrides,
});

describe('local SequenceStore durability', () => {
  let dir: string;
  let file: string;
  const open: LocalSequenceStore[] = [];
  const openStore = async (compactAfterBytes?: number): Promise<LocalSequenceStore> => {
    const store = await createLocalSequenceStore({ file, compactAfterBytes });
    open.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-ledger-'));
    file = join(dir, 'nested', 'ledger.jsonl');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('sees its state again after a reopen', async () => {
    const first = await openStore();
    await first.reserve(request('db', 0));
    await first.reserve(request('db/c', 0, { parent: 'db', requireLive: ['db'] }));
    await first.reserve(request('db/c', 1, { nextSeq: 3, parent: 'db' }));
    await first.confirm('db/c', 2);
    await first.reserve(request('db/gone', 0, { parent: 'db' }));
    await first.reserve(request('db/gone', 1, { parent: 'db', liveAfter: false }));
    await first.close();

    const second = await openStore();
    expect(await second.get('db')).toMatchObject({ seq: 1, live: true });
    expect(await second.get('db/c')).toMatchObject({ seq: 3, live: true, parent: 'db', confirmedSeq: 2 });
    expect((await second.liveChildren('db', 10)).map((e) => e.key)).toEqual(['db/c']);
    expect(await second.reserve(request('db', 1, { liveAfter: false, forbidLiveChildren: true }))).toEqual({
      ok: false,
      reason: 'has_live_children',
      count: 1,
    });
    expect(await second.reserve(request('db/c', 3))).toMatchObject({ ok: true });
  });

  it('is durable when reserve resolves, without close (crash after acknowledgement)', async () => {
    const first = await openStore();
    await Promise.all(Array.from({ length: 50 }, (_, i) => first.reserve(request(`a${i}`, 0))));
    // A second process-like instance reads the file as a crash would leave it.
    const copy = join(dir, 'copy.jsonl');
    await writeFile(copy, await readFile(file));
    const second = await createLocalSequenceStore({ file: copy });
    open.push(second);
    for (let i = 0; i < 50; i++) expect(await second.get(`a${i}`)).toMatchObject({ seq: 1 });
  });

  it('ignores a torn last line and appends after it cleanly', async () => {
    const first = await openStore();
    await first.reserve(request('a', 0));
    await first.reserve(request('b', 0));
    await first.close();
    open.length = 0;
    await appendFile(file, '{"key":"c","seq":1,"live":tr');

    const second = await openStore();
    expect(await second.get('a')).toMatchObject({ seq: 1 });
    expect(await second.get('c')).toBeNull();
    await second.reserve(request('c', 0));
    await second.close();
    open.length = 0;

    const third = await openStore();
    expect(await third.get('c')).toMatchObject({ seq: 1 });
    expect(await third.get('b')).toMatchObject({ seq: 1 });
  });

  it('ignores a torn tail of garbage bytes, even with newlines', async () => {
    const first = await openStore();
    await first.reserve(request('a', 0));
    await first.close();
    open.length = 0;
    await appendFile(file, Buffer.concat([Buffer.alloc(40), Buffer.from('\n'), Buffer.alloc(10)]));
    const second = await openStore();
    expect(await second.get('a')).toMatchObject({ seq: 1 });
    await second.reserve(request('a', 1));
    expect(await second.get('a')).toMatchObject({ seq: 2 });
  });

  it('refuses to open a journal corrupted in the middle', async () => {
    const first = await openStore();
    await first.reserve(request('a', 0));
    await first.close();
    open.length = 0;
    const lines = (await readFile(file, 'utf8')).split('\n');
    await writeFile(file, [lines[0], '{broken', lines[1], ''].join('\n'));
    await expect(createLocalSequenceStore({ file })).rejects.toThrow(/corrupt/);
  });

  it('refuses a journal of another kind', async () => {
    await writeFile(file.replace('nested/', ''), '{"journal":"cairn-idempotency","v":1}\n');
    await expect(createLocalSequenceStore({ file: file.replace('nested/', '') })).rejects.toThrow(/idempotency/);
  });

  it('compacts a large journal into a snapshot and keeps the state', async () => {
    const store = await openStore(20_000);
    await store.reserve(request('hot', 0));
    let seq = 1;
    for (let i = 0; i < 300; i++) {
      await store.reserve(request('hot', seq));
      seq++;
    }
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.reserve(request(`cold${i}`, 0))));
    const size = (await stat(file)).size;
    expect(size).toBeLessThan(20_000 * 2);
    await store.compact();
    expect((await stat(file)).size).toBeLessThan(5_000);
    await store.reserve(request('hot', seq));
    await store.close();
    open.length = 0;

    const reopened = await openStore();
    expect(await reopened.get('hot')).toMatchObject({ seq: seq + 1 });
    expect(await reopened.get('cold19')).toMatchObject({ seq: 1 });
  });

  it('group-commits concurrent reserves', async () => {
    const store = await openStore();
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 2_000 }, (_, i) => store.reserve(request(`k${i}`, 0))));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('rejects calls after close', async () => {
    const store = await openStore();
    await store.close();
    await expect(store.reserve(request('a', 0))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
