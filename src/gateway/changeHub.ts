import type { ChangeFeed, ChangeNotification } from '../ports/changeFeed.js';

/**
 * Fans the change feed out inside one gateway: one feed subscription, many listeners. Listeners are
 * called synchronously in feed order, which keeps per-aggregate order for every subscriber.
 */
export interface ChangeHub {
  listen(listener: (change: ChangeNotification) => void): () => void;
  /** Async iterator of the changes accepted by `filter`, for a GraphQL subscription. */
  iterate<T>(filter: (c: ChangeNotification) => boolean, map: (c: ChangeNotification) => T): AsyncIterableIterator<T>;
  size(): number;
  close(): Promise<void>;
}

export async function createChangeHub(feed: ChangeFeed, options: { maxQueue?: number } = {}): Promise<ChangeHub> {
  const listeners = new Set<(c: ChangeNotification) => void>();
  const maxQueue = options.maxQueue ?? 10_000;
  const unsubscribe = await feed.subscribe((changes) => {
    for (const change of changes) for (const l of listeners) l(change);
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
