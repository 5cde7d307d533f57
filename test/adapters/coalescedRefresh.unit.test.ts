import { describe, expect, it } from 'vitest';
import { createCoalescedRefresh } from '../../src/adapters/readModel/coalescedRefresh.js';

/** A refresh the test completes by hand; records when each run started. */
function manualRefresh() {
  const runs: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const refresh = createCoalescedRefresh(() => new Promise<void>((resolve, reject) => runs.push({ resolve, reject })));
  return { runs, refresh };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('coalesced refresh', () => {
  it('runs at once when idle', async () => {
    const { runs, refresh } = manualRefresh();
    const done = refresh();
    expect(runs).toHaveLength(1);
    runs[0]!.resolve();
    await expect(done).resolves.toBeUndefined();
  });

  it('gives callers that arrive during a run one shared run that starts after it', async () => {
    const { runs, refresh } = manualRefresh();
    const first = refresh();
    const later = Array.from({ length: 10 }, () => refresh());
    await tick();
    expect(runs).toHaveLength(1); // the later callers' writes may postdate the running refresh
    let laterDone = false;
    void Promise.all(later).then(() => {
      laterDone = true;
    });
    runs[0]!.resolve();
    await first;
    await tick();
    expect(runs).toHaveLength(2);
    expect(laterDone).toBe(false);
    runs[1]!.resolve();
    await Promise.all(later);
    expect(runs).toHaveLength(2);
  });

  it('passes a failure to the callers of that run only; the queued run still happens', async () => {
    const { runs, refresh } = manualRefresh();
    const first = refresh();
    const second = refresh();
    runs[0]!.reject(new Error('down'));
    await expect(first).rejects.toThrow('down');
    await tick();
    expect(runs).toHaveLength(2);
    runs[1]!.resolve();
    await expect(second).resolves.toBeUndefined();
    const third = refresh();
    expect(runs).toHaveLength(3);
    runs[2]!.resolve();
    await expect(third).resolves.toBeUndefined();
  });
});
