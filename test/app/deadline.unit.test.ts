import { describe, expect, it } from 'vitest';
import { bounded, deadlineIn, NO_DEADLINE, timeLeft, withDeadline } from '../../src/app/deadline.js';
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

describe('request deadline', () => {
  it('a call outside any request has only its own deadline', async () => {
    expect(timeLeft(NO_DEADLINE)).toBe(Number.POSITIVE_INFINITY);
    const { ms, error } = await timed(withDeadline('s3', 50, never));
    expect(error).toMatchObject({ code: 'UNAVAILABLE', extensions: { dependency: 's3' } });
    expect(ms).toBeGreaterThanOrEqual(45);
  });

  it('calls made in turn share the deadline: the one that would run past it fails, naming its dependency', async () => {
    const deadline = deadlineIn(150);
    const { ms, error } = await timed(
      (async () => {
        await withDeadline('postgres', 1_000, () => sleep(100), deadline);
        await withDeadline('s3', 1_000, never, deadline); // 1 s of its own, but only ~50 ms left
      })(),
    );
    expect(error).toMatchObject({ code: 'UNAVAILABLE', extensions: { dependency: 's3' } });
    expect(ms).toBeLessThan(600);
  });

  it('a passed deadline refuses the next call at once, without calling it', async () => {
    const deadline = deadlineIn(20);
    await sleep(40);
    let called = false;
    const { error } = await timed(
      withDeadline(
        'postgres',
        1_000,
        async () => {
          called = true;
        },
        deadline,
      ),
    );
    expect(error).toMatchObject({ code: 'UNAVAILABLE', extensions: { dependency: 'postgres' } });
    expect(called).toBe(false);
  });

  it('bounded() caps every method of a port by the deadline and passes results through', async () => {
    const port = { fast: async (x: number) => x * 2, slow: async () => never() };
    await expect(bounded('readModel', port, deadlineIn(100)).fast(21)).resolves.toBe(42);
    const { ms, error } = await timed(bounded('readModel', port, deadlineIn(100)).slow());
    expect(error).toMatchObject({ code: 'UNAVAILABLE', extensions: { dependency: 'readModel' } });
    expect(ms).toBeLessThan(600);
    expect(bounded('readModel', port, NO_DEADLINE)).toBe(port);
  });

  it('waiting for a running duplicate of an idempotent request ends at the deadline', async () => {
    const busy: IdempotencyStore = {
      begin: async () => ({ state: 'in_progress' }),
      complete: async () => {},
      release: async () => {},
    } as unknown as IdempotencyStore;
    const request = {
      scope: 's',
      key: 'k',
      input: { a: 1 },
      leaseMs: 30_000,
      waitMs: 30_000,
      deadline: deadlineIn(200),
    };
    const { ms, error } = await timed(runIdempotent(busy, request, async () => 1));
    expect(error).toMatchObject({ code: 'UNAVAILABLE' });
    expect(ms).toBeLessThan(1_000);
  });
});
