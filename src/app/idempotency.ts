import { createHash } from 'node:crypto';
import { IdempotencyKeyReusedError, UnavailableError } from '../core/errors.js';
import type { IdempotencyStore } from '../ports/idempotencyStore.js';
import { type Deadline, NO_DEADLINE, timeLeft, withDeadline } from './deadline.js';

/** Stable JSON: object keys sorted, so "the same input" does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export const hashRequest = (input: unknown): string => createHash('sha256').update(canonicalJson(input)).digest('hex');

/**
 * Runs `execute` at most once per (scope, key): a replay with the same input gets the first answer,
 * another input is IDEMPOTENCY_KEY_REUSED, a concurrent duplicate waits for the first to finish.
 */
export async function runIdempotent<T>(
  store: IdempotencyStore,
  request: { scope: string; key: string; input: unknown; leaseMs: number; waitMs: number; deadline?: Deadline },
  execute: () => Promise<T>,
): Promise<T> {
  const hash = hashRequest(request.input);
  const requestDeadline = request.deadline ?? NO_DEADLINE;
  const deadline = Date.now() + Math.min(request.waitMs, timeLeft(requestDeadline));
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    const begun = await withDeadline(
      'idempotencyStore',
      request.leaseMs,
      () => store.begin(request.scope, request.key, hash, request.leaseMs),
      requestDeadline,
    );
    if (begun.state === 'completed') return begun.response as T;
    if (begun.state === 'mismatch') throw new IdempotencyKeyReusedError(request.key);
    if (begun.state === 'started') break;
    if (Date.now() + delay > deadline)
      throw new UnavailableError('idempotency', new Error('a request with this key is still running'));
    await new Promise((r) => setTimeout(r, delay));
  }
  let result: T;
  try {
    result = await execute();
  } catch (e) {
    // Bounded by the budget: unreleased, the key's lease expires by itself.
    await withDeadline(
      'idempotencyStore',
      request.leaseMs,
      () => store.release(request.scope, request.key),
      requestDeadline,
    ).catch(() => undefined);
    throw e;
  }
  await completeOrGiveUp(store, request, result);
  return result;
}

/**
 * The command is durable once `execute` resolved, so its answer must reach the client even if the
 * key's bookkeeping fails (answering UNAVAILABLE would say "nothing was appended", which is false).
 * Recording the answer is retried for a third of the key's lease (at most until the request's budget
 * is spent: the answer is then returned unrecorded), while the key is still ours; if the
 * store stays down longer, the lease expires and a retry with this key executes again (an update or
 * delete then meets CONFLICT; a create with a generated id would create again: the window is small).
 */
async function completeOrGiveUp<T>(
  store: IdempotencyStore,
  request: { scope: string; key: string; leaseMs: number; deadline?: Deadline },
  result: T,
): Promise<void> {
  const requestDeadline = request.deadline ?? NO_DEADLINE;
  const deadline = Date.now() + Math.min(request.leaseMs / 3, timeLeft(requestDeadline));
  for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
    try {
      await withDeadline(
        'idempotencyStore',
        request.leaseMs,
        () => store.complete(request.scope, request.key, result),
        requestDeadline,
      );
      return;
    } catch {
      if (Date.now() + delay >= deadline) return;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
