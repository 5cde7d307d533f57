import { UnavailableError } from '../core/errors.js';

/**
 * The absolute time (ms since the epoch) by which a request must be answered; `NO_DEADLINE` outside
 * a request. A request makes several dependency calls in turn (idempotency key, ledger, store, …),
 * and a deadline per call alone would let their sum grow past what a client can be told: each call
 * stops at whichever ends first, its own timeout or the request's deadline.
 *
 * Passed explicitly (request context, command meta) rather than through AsyncLocalStorage: on Node 20
 * an active AsyncLocalStorage hooks every promise of the process (~0.2 µs each, measured), a tax on
 * every request and on every subscriber of a fan-out.
 */
export type Deadline = number;

export const NO_DEADLINE: Deadline = Number.POSITIVE_INFINITY;

/** The deadline of a request with a budget of `ms` starting now. */
export const deadlineIn = (ms: number): Deadline => Date.now() + ms;

/** Milliseconds left before `deadline` (Infinity for NO_DEADLINE). */
export const timeLeft = (deadline: Deadline): number => deadline - Date.now();

/**
 * Runs a call to a dependency with a deadline (`ms`, or what is left before the request's `deadline`
 * if that is less): past it, UnavailableError(dependency), so a request never hangs on a slow engine
 * and the client gets a retriable contract error.
 */
export async function withDeadline<T>(
  dependency: string,
  ms: number,
  call: () => Promise<T>,
  deadline: Deadline = NO_DEADLINE,
): Promise<T> {
  const limit = Math.min(ms, timeLeft(deadline));
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

/**
 * The port with every method's call bounded by `deadline` (the adapter keeps its own timeouts); the
 * port itself when there is no deadline.
 */
export function bounded<T extends object>(dependency: string, port: T, deadline: Deadline): T {
  if (deadline === NO_DEADLINE) return port;
  return new Proxy(port, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        withDeadline(dependency, Number.POSITIVE_INFINITY, () => Promise.resolve(value.apply(target, args)), deadline);
    },
  });
}
