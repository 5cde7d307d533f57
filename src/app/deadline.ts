import { UnavailableError } from '../core/errors.js';

/**
 * Runs a call to a dependency with a deadline: past it, UnavailableError(dependency), so a request
 * never hangs on a slow engine and the client gets a retriable contract error.
 */
export async function withDeadline<T>(dependency: string, ms: number, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError(dependency, new Error(`timed out after ${ms} ms`))), ms);
  });
  try {
    return await Promise.race([call(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
