import { describe, expect, it } from 'vitest';
import { coalesceSmallBatches } from '../../workers/coalesceBatches.js';

const settle = (p: Promise<void>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );

describe('coalesceSmallBatches', () => {
  it('runs the small batches handed over in one turn as one, and a large one by itself', async () => {
    const runs: number[][] = [];
    const handle = coalesceSmallBatches(
      async (items: number[]) => {
        runs.push(items);
      },
      { alone: 3 },
    );
    // As a consumer hands over a fetch: each batch a few promise hops after the previous one.
    const hop = async (items: number[]) => {
      await Promise.resolve();
      await Promise.resolve();
      return handle(items);
    };
    await Promise.all([handle([1]), hop([2, 3]), hop([4, 5, 6]), hop([7])]);
    expect(runs).toEqual([
      [4, 5, 6],
      [1, 2, 3, 7],
    ]);
    await handle([8]);
    expect(runs).toEqual([[4, 5, 6], [1, 2, 3, 7], [8]]);
  });

  it('fails every batch of a merged run that fails, and none of the next run', async () => {
    let calls = 0;
    const handle = coalesceSmallBatches(
      async (items: string[]) => {
        calls++;
        if (items.includes('poison')) throw new Error('bulk refused');
      },
      { alone: 100 },
    );
    expect(await Promise.all([settle(handle(['a'])), settle(handle(['poison'])), settle(handle(['b']))])).toEqual([
      'bulk refused',
      'bulk refused',
      'bulk refused',
    ]);
    expect(await settle(handle(['a']))).toBe('ok');
    expect(calls).toBe(2);
  });
});
