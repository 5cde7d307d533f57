import type { WrittenEntry } from './eventStore.js';

/**
 * A hint that the event store has new commits, so a relay in another process acts at once instead
 * of waiting for its next poll. Best effort: a lost signal only costs one polling interval.
 *
 * A signal can carry an outbox entry whose commits are durable (EventStoreHooks.onEntryWritten): the relay then
 * publishes its commits and removes it without listing or reading the outbox. Without an entry (or
 * when it is too large to carry) the signal only says "list the outbox".
 */
export interface AppendSignal {
  /** Tells listeners that something was appended, or that this entry's commits are durable. Never throws. */
  notify(entry?: WrittenEntry): void;
  /** Calls `listener` on each signal, with the entry when it carried one. Returns a function that stops listening. */
  listen(listener: (entry?: WrittenEntry) => void): Promise<() => Promise<void>>;
}
