import { describe, expect, it } from 'vitest';
import { bounded, remainingBudget, withDeadline, withRequestBudget } from '../../src/app/deadline.js';
import { runIdempotent } from '../../src/app/idempotency.js';
import type { IdempotencyStore } from '../../src/ports/idempotencyStore.js';

const never = () => new Promise<never>(() => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with how long `promise` took to settle and its rejection (if any). */
async function timed(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  return { ms: Date.now() - started, error };
}

describe('request budget', () => {
  it('a call outside any request has only its own deadline', async () => {
    expect(remainingBudget()).toBe(Number.POSITIVE_INFINITY);
    const { ms, error } = await timed(withDeadline('s3', 50, never));
    expect(error).toMatchObject({ code: 'UNAVAILABLE', extensions: { dependency: 's3' } });
    expect(ms).toBeGreaterThanOrEqual(45);
  });

  it('calls made in turn share the budget: the one that would run past it fails, naming its dependency', async () => {
    const { ms, error } = await timed(
      withRequestBudget(150, async () => {
        await withDeadline('postgres', 1_000, () => sleep(100));
        await withDeadline('s3', 1_000, never); // 1 s of its own, but only ~50 ms of the budget left
      }),
    );
    expect(error).toMatchObject({ code: 'UNAVAILABLE', extensions: { dependency: 's3' } });
    expect(ms).toBeLessThan(600);
  });

  it('a spent budget refuses the next call at once', async () => {
    const { error } = await timed(
      withRequestBudget(20, async () => {
        await sleep(40);
        await withDeadline('postgres', 1_000, () => Promise.resolve('never called'));
      }),
    );
    expect(error).toMatchObject({ code: 'UNAVAILABLE', extensions: { dependency: 'postgres' } });
  });

  it('bounded() caps every method of a port by the budget and passes results through', async () => {
    const port = bounded('readModel', {
      fast: async (x: number) => x * 2,
      slow: async () => never(),
    });
    await expect(withRequestBudget(100, () => port.fast(21))).resolves.toBe(42);
    const { ms, error } = await timed(withRequestBudget(100, () => port.slow()));
    expect(error).toMatchObject({ code: 'UNAVAILABLE', extensions: { dependency: 'readModel' } });
    expect(ms).toBeLessThan(600);
  });

  it('waiting for a running duplicate of an idempotent request ends with the budget', async () => {
    const busy: IdempotencyStore = {
      begin: async () => ({ state: 'in_progress' }),
      complete: async () => {},
      release: async () => {},
    } as unknown as IdempotencyStore;
    const request = { scope: 's', key: 'k', input: { a: 1 }, leaseMs: 30_000, waitMs: 30_000 };
    const { ms, error } = await timed(withRequestBudget(200, () => runIdempotent(busy, request, async () => 1)));
    expect(error).toMatchObject({ code: 'UNAVAILABLE' });
    expect(ms).toBeLessThan(1_000);
  });
});
