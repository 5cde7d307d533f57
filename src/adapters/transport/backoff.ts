/** Redelivery backoff shared by the transport adapters: doubles from `initialMs` up to `maxMs`. */
export interface BackoffOptions {
  /** @default 100 */
  initialMs?: number;
  /** @default 5_000 */
  maxMs?: number;
}

/** Delay before the `attempt`-th redelivery (1-based), with ±20 % jitter so retries do not align. */
export function backoffMs(attempt: number, { initialMs = 100, maxMs = 5_000 }: BackoffOptions = {}): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
