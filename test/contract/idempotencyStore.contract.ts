import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IdempotencyStore } from '../../src/ports/idempotencyStore.js';
import { randomId } from '../support/ids.js';
import { waitFor } from '../support/wait.js';

export type IdempotencyStoreFactory = () => Promise<{ store: IdempotencyStore; cleanup: () => Promise<void> }>;

const LONG_LEASE_MS = 60_000;
const SHORT_LEASE_MS = 80;

/** Lets a little wall-clock time pass (shorter than any lease the tests rely on holding). */
const elapse = (ms: number): Promise<true> => {
  const from = Date.now();
  return waitFor(() => (Date.now() - from >= ms ? true : undefined), { intervalMs: 5, timeoutMs: ms + 5_000 });
};

/**
 * The IdempotencyStore contract, run against every adapter. Each test uses its own random scope,
 * so a factory may hand out stores sharing one database.
 */
export function describeIdempotencyStoreContract(name: string, factory: IdempotencyStoreFactory): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    let store: IdempotencyStore;
    let cleanup: () => Promise<void>;
    let scope: string;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      scope = `${randomId('db')}:createInstance`;
    });
    afterEach(async () => {
      await cleanup();
    });

    it('starts a new key, then answers in_progress for the same request while its lease runs', async () => {
      expect(await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS)).toEqual({ state: 'started' });
      expect(await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS)).toEqual({ state: 'in_progress' });
    });

    it('returns the stored answer once completed', async () => {
      const response = { instance: { id: 'i-1', properties: { name: 'Ada', tags: ['x', 'ü'], n: 1.5 } }, seq: 1 };
      await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS);
      await store.complete(scope, 'k1', response);
      expect(await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS)).toEqual({ state: 'completed', response });
      expect(await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS)).toEqual({ state: 'completed', response });
    });

    it('stores null and scalar answers', async () => {
      await store.begin(scope, 'null', 'h', LONG_LEASE_MS);
      await store.complete(scope, 'null', null);
      expect(await store.begin(scope, 'null', 'h', LONG_LEASE_MS)).toEqual({ state: 'completed', response: null });
      await store.begin(scope, 'str', 'h', LONG_LEASE_MS);
      await store.complete(scope, 'str', 'done');
      expect(await store.begin(scope, 'str', 'h', LONG_LEASE_MS)).toEqual({ state: 'completed', response: 'done' });
    });

    it('keeps the first answer', async () => {
      await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS);
      await store.complete(scope, 'k1', { seq: 1 });
      await store.complete(scope, 'k1', { seq: 2 });
      expect(await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS)).toEqual({ state: 'completed', response: { seq: 1 } });
    });

    it('answers mismatch for another request hash, started or completed', async () => {
      await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS);
      expect(await store.begin(scope, 'k1', 'h2', LONG_LEASE_MS)).toEqual({ state: 'mismatch' });
      await store.complete(scope, 'k1', { ok: true });
      expect(await store.begin(scope, 'k1', 'h2', LONG_LEASE_MS)).toEqual({ state: 'mismatch' });
    });

    it('scopes keys', async () => {
      expect(await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS)).toEqual({ state: 'started' });
      expect(await store.begin(`${scope}-other`, 'k1', 'h2', LONG_LEASE_MS)).toEqual({ state: 'started' });
    });

    it('releases a started key so a retry executes again, but never a completed one', async () => {
      await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS);
      await store.release(scope, 'k1');
      expect(await store.begin(scope, 'k1', 'h2', LONG_LEASE_MS)).toEqual({ state: 'started' });
      await store.complete(scope, 'k1', 42);
      await store.release(scope, 'k1');
      expect(await store.begin(scope, 'k1', 'h2', LONG_LEASE_MS)).toEqual({ state: 'completed', response: 42 });
    });

    it('ignores complete and release of an absent key', async () => {
      await store.complete(scope, 'ghost', { x: 1 });
      await store.release(scope, 'ghost');
      expect(await store.begin(scope, 'ghost', 'h1', LONG_LEASE_MS)).toEqual({ state: 'started' });
    });

    it('takes over a key whose owner let the lease expire', async () => {
      expect(await store.begin(scope, 'k1', 'h1', SHORT_LEASE_MS)).toEqual({ state: 'started' });
      const takeover = await waitFor(
        async () => {
          const r = await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS);
          if (r.state !== 'in_progress') return r;
          return undefined;
        },
        { timeoutMs: 5_000, intervalMs: 10, what: 'the lease to expire' },
      );
      expect(takeover).toEqual({ state: 'started' });
      expect(await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS)).toEqual({ state: 'in_progress' });
      await store.complete(scope, 'k1', 'second owner');
      expect(await store.begin(scope, 'k1', 'h1', LONG_LEASE_MS)).toEqual({
        state: 'completed',
        response: 'second owner',
      });
    });

    it('still answers mismatch for another hash after the lease expired', async () => {
      await store.begin(scope, 'k1', 'h1', 1);
      await elapse(30);
      expect(await store.begin(scope, 'k1', 'h2', LONG_LEASE_MS)).toEqual({ state: 'mismatch' });
    });

    it('lets exactly one of 10 concurrent begins start', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store.begin(scope, 'race', 'h1', LONG_LEASE_MS)),
      );
      expect(results.filter((r) => r.state === 'started')).toHaveLength(1);
      expect(results.filter((r) => r.state === 'in_progress')).toHaveLength(9);
    });

    it('lets exactly one of 10 concurrent begins take over an expired key', async () => {
      await store.begin(scope, 'race', 'h1', 1);
      await elapse(30);
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store.begin(scope, 'race', 'h1', LONG_LEASE_MS)),
      );
      expect(results.filter((r) => r.state === 'started')).toHaveLength(1);
      expect(results.filter((r) => r.state === 'in_progress')).toHaveLength(9);
    });

    it('purges keys older than the retention and keeps newer ones', async () => {
      await store.begin(scope, 'old', 'h1', LONG_LEASE_MS);
      await store.complete(scope, 'old', 'first');
      await elapse(400);
      await store.begin(scope, 'new', 'h1', LONG_LEASE_MS);

      expect(await store.purge(250)).toBeGreaterThanOrEqual(1);
      expect(await store.begin(scope, 'old', 'h2', LONG_LEASE_MS)).toEqual({ state: 'started' });
      expect(await store.begin(scope, 'new', 'h1', LONG_LEASE_MS)).toEqual({ state: 'in_progress' });
    });
  });
}
