import { describe, expect, it } from 'vitest';
import { runLoop } from '../../bench/workload.js';

const sleepOp = (ms: number) => async () => {
  await new Promise((r) => setTimeout(r, ms));
  return { ms, ok: true };
};

describe('bench runLoop', () => {
  it('measures calls slower than the whole window instead of reporting none', async () => {
    const r = await runLoop(2, 10, 50, sleepOp(120));
    expect(r.latencies.length).toBeGreaterThan(0);
    expect(r.seconds).toBeGreaterThan(0.05);
  });

  it('counts every call sent in the window as a latency, only those done in it as throughput', async () => {
    const r = await runLoop(4, 0, 100, sleepOp(30));
    // 4 clients × ~3 calls completed by 100 ms; the calls sent at ~90 ms complete after the window.
    expect(r.latencies.length).toBeGreaterThan(r.completed);
    expect(r.completed).toBeGreaterThanOrEqual(4);
    expect(r.seconds).toBeCloseTo(0.1, 1);
  });

  it('stops waiting for a first completion when calls fail', async () => {
    const r = await runLoop(1, 0, 20, async () => {
      await new Promise((res) => setTimeout(res, 30));
      return { ms: 30, ok: false, error: 'down' };
    });
    expect(r.latencies).toEqual([]);
    expect(r.errors).toBe(1);
    expect(r.firstErrors).toEqual(['down']);
  });
});
