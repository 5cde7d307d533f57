/**
 * A hint that the event store has new commits, so a relay in another process wakes at once instead
 * of waiting for its next poll. Best effort: a lost signal only costs one polling interval.
 */
export interface AppendSignal {
  /** Tells listeners that something was appended (coalesced; never throws). */
  notify(): void;
  /** Calls `listener` on each signal. Returns a function that stops listening. */
  listen(listener: () => void): Promise<() => Promise<void>>;
}
