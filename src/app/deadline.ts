import { AsyncLocalStorage } from 'node:async_hooks';
import { UnavailableError } from '../core/errors.js';

/** The absolute time (ms since the epoch) by which the current request must be answered. */
const requestDeadline = new AsyncLocalStorage<number>();

/**
 * Runs one request with a time budget shared by every dependency call it makes: a request makes
 * several calls in turn (idempotency key, ledger, store, …), and a deadline per call alone would let
 * their sum grow past what a client can be told. Calls made under it stop at whichever ends first.
 */
export function withRequestBudget<T>(ms: number, run: () => Promise<T>): Promise<T> {
  return requestDeadline.run(Date.now() + ms, run);
}

/** Milliseconds left of the current request's budget (Infinity outside a request). */
export function remainingBudget(): number {
  const deadline = requestDeadline.getStore();
  return deadline === undefined ? Number.POSITIVE_INFINITY : deadline - Date.now();
}

/**
 * Runs a call to a dependency with a deadline (`ms`, or what is left of the request's budget if that
 * is less): past it, UnavailableError(dependency), so a request never hangs on a slow engine and the
 * client gets a retriable contract error.
 */
export async function withDeadline<T>(dependency: string, ms: number, call: () => Promise<T>): Promise<T> {
  const limit = Math.min(ms, remainingBudget());
  if (limit <= 0) throw new UnavailableError(dependency, new Error('the request ran out of time before this call'));
  if (limit === Number.POSITIVE_INFINITY) return call();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UnavailableError(dependency, new Error(`timed out after ${Math.round(limit)} ms`))),
      limit,
    );
  });
  try {
    return await Promise.race([call(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The port with every method's call bounded by the request's budget (the adapter keeps its own timeouts). */
export function bounded<T extends object>(dependency: string, port: T): T {
  return new Proxy(port, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        withDeadline(dependency, Number.POSITIVE_INFINITY, () => Promise.resolve(value.apply(target, args)));
    },
  });
}
