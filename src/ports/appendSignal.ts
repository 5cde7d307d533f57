import type { WrittenEntry } from './eventStore.js';

/**
 * A hint that the event store has new commits, so a relay in another process acts at once instead
 * of waiting for its next poll. Best effort: a lost signal only costs one polling interval.
 *
 * A signal can carry durable commits of an outbox entry, or its size (EventStoreHooks.onEntryWritten):
 * the relay then publishes the commits, and removes the entry once it has published as many as its
 * size, without listing or reading the outbox. Without an entry (or for a commit too large to
 * carry) the signal only says "list the outbox".
 */
export interface AppendSignal {
  /** Tells listeners that something was appended, or hands them durable commits of an entry (or its size). Never throws. */
  notify(entry?: WrittenEntry): void;
  /** Calls `listener` on each signal, with the entry when it carried one. Returns a function that stops listening. */
  listen(listener: (entry?: WrittenEntry) => void): Promise<() => Promise<void>>;
}
