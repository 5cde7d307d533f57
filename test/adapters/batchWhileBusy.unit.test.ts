import { describe, expect, it } from 'vitest';
import { batchWhileBusy } from '../../src/adapters/postgres/batchWhileBusy.js';

/** A `run` whose batches finish when the test says so. */
function controlledRun() {
  const batches: { items: number[]; finish: (results?: number[]) => void; fail: (e: unknown) => void }[] = [];
  const run = (items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      batches.push({ items, finish: (results) => resolve(results ?? items.map((i) => i * 10)), fail: reject });
    });
  return { run, batches };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('batchWhileBusy', () => {
  it('runs a lone request at once, alone', async () => {
    const { run, batches } = controlledRun();
    const call = batchWhileBusy(run, { maxBatch: 10 });
    const answer = call(1);
    expect(batches.map((b) => b.items)).toEqual([[1]]);
    batches[0]!.finish();
    expect(await answer).toBe(10);
  });

  it('with lingerMs, holds a lone request that long so that later ones share its batch', async () => {
    const { run, batches } = controlledRun();
    const call = batchWhileBusy(run, { maxBatch: 10, lingerMs: 30 });
    const answers = [call(1)];
    await new Promise((r) => setTimeout(r, 10));
    answers.push(call(2));
    expect(batches).toEqual([]);
    await new Promise((r) => setTimeout(r, 40));
    expect(batches.map((b) => b.items)).toEqual([[1, 2]]);
    batches[0]!.finish();
    expect(await Promise.all(answers)).toEqual([10, 20]);
  });

  it('gathers the requests that arrive while a batch runs into the next one, each answered its own result', async () => {
    const { run, batches } = controlledRun();
    const call = batchWhileBusy(run, { maxBatch: 10 });
    const first = call(1);
    const rest = [call(2), call(3), call(4)];
    expect(batches.map((b) => b.items)).toEqual([[1]]);
    batches[0]!.finish();
    await tick();
    expect(batches.map((b) => b.items)).toEqual([[1], [2, 3, 4]]);
    batches[1]!.finish([20, 30, 40]);
    expect(await first).toBe(10);
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
  });

  it('splits a long queue into batches of at most maxBatch, one at a time', async () => {
    const { run, batches } = controlledRun();
    const call = batchWhileBusy(run, { maxBatch: 2 });
    const answers = [1, 2, 3, 4, 5].map(call);
    batches[0]!.finish();
    await tick();
    expect(batches.map((b) => b.items)).toEqual([[1], [2, 3]]);
    batches[1]!.finish();
    await tick();
    expect(batches.map((b) => b.items)).toEqual([[1], [2, 3], [4, 5]]);
    batches[2]!.finish();
    expect(await Promise.all(answers)).toEqual([10, 20, 30, 40, 50]);
  });

  it('rejects every request of a failed batch, and the next batch still runs', async () => {
    const { run, batches } = controlledRun();
    const call = batchWhileBusy(run, { maxBatch: 10 });
    const first = call(1);
    const failing = [call(2), call(3)].map((p) => p.catch((e: Error) => e.message));
    batches[0]!.finish();
    await tick();
    expect(batches[1]?.items).toEqual([2, 3]);
    const later = call(4);
    batches[1]!.fail(new Error('database down'));
    expect(await Promise.all(failing)).toEqual(['database down', 'database down']);
    await tick();
    expect(batches[2]?.items).toEqual([4]);
    batches[2]!.finish();
    expect(await first).toBe(10);
    expect(await later).toBe(40);
  });

  it('rejects a batch whose run answers a different number of results', async () => {
    const { run, batches } = controlledRun();
    const call = batchWhileBusy(run, { maxBatch: 10 });
    const answer = call(1).catch((e: Error) => e.message);
    batches[0]!.finish([]);
    expect(await answer).toMatch(/A batch of 1 answered 0 results/);
  });
});
