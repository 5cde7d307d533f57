import { Lru } from '../app/lru.js';
import type { ChangeFeed, ChangeNotification } from '../ports/changeFeed.js';

/**
 * Fans the change feed out inside one gateway: one feed subscription, many listeners. Listeners are
 * called synchronously in feed order, which keeps per-aggregate order for every subscriber. The feed
 * is at-least-once (a projector that fails before mark-done notifies again), so a change at or below
 * the last seq passed on for its aggregate is dropped: each subscriber gets each change once, in seq
 * order (for the last `rememberAggregates` aggregates seen).
 */
export interface ChangeHub {
  listen(listener: (change: ChangeNotification) => void): () => void;
  /** Async iterator of the changes accepted by `filter`, for a GraphQL subscription. */
  iterate<T>(filter: (c: ChangeNotification) => boolean, map: (c: ChangeNotification) => T): AsyncIterableIterator<T>;
  size(): number;
  close(): Promise<void>;
}

export async function createChangeHub(
  feed: ChangeFeed,
  options: { maxQueue?: number; rememberAggregates?: number } = {},
): Promise<ChangeHub> {
  const listeners = new Set<(c: ChangeNotification) => void>();
  const maxQueue = options.maxQueue ?? 10_000;
  const isRepeat = repeatFilter(options.rememberAggregates ?? 100_000);
  const unsubscribe = await feed.subscribe((changes) => {
    for (const change of changes) {
      if (isRepeat(change)) continue;
      for (const l of listeners) l(change);
    }
  });

  function listen(listener: (c: ChangeNotification) => void) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  function iterate<T>(filter: (c: ChangeNotification) => boolean, map: (c: ChangeNotification) => T) {
    const queue: T[] = [];
    let waiting: ((r: IteratorResult<T>) => void) | null = null;
    let done = false;
    const finish = (): Promise<IteratorResult<T>> => {
      done = true;
      stop();
      waiting?.({ value: undefined, done: true });
      waiting = null;
      return Promise.resolve({ value: undefined, done: true });
    };
    const stop = listen((change) => {
      if (done || !filter(change)) return;
      const value = map(change);
      if (waiting) {
        const w = waiting;
        waiting = null;
        w({ value, done: false });
      } else if (queue.length < maxQueue) queue.push(value);
      else void finish(); // a subscriber that cannot keep up is closed rather than buffered forever
    });
    const iterator: AsyncIterableIterator<T> = {
      next() {
        if (queue.length > 0) return Promise.resolve({ value: queue.shift() as T, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          waiting = resolve;
        });
      },
      return: finish,
      throw: (e?: unknown) => {
        void finish();
        return Promise.reject(e);
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  return { listen, iterate, size: () => listeners.size, close: unsubscribe };
}

/** Whether a change is at or below the last seq seen for its aggregate (the last `capacity` aggregates). */
function repeatFilter(capacity: number): (change: ChangeNotification) => boolean {
  const lastSeq = new Lru<string, number>(capacity);
  return (change) => {
    const key = `${change.aggregateType}:${change.aggregateId}`;
    const last = lastSeq.get(key);
    if (last !== undefined && change.seq <= last) return true;
    lastSeq.set(key, change.seq);
    return false;
  };
}
