import type { ChangeFeed, ChangeNotification } from '../../ports/changeFeed.js';

export interface InProcessChangeFeedOptions {
  /** Told when a listener throws (the feed and the other listeners carry on). @default ignore */
  onListenerError?: (error: unknown) => void;
}

type Listener = (changes: ChangeNotification[]) => void;

/**
 * Fan-out within one process (embedded profile, tests). Delivery is asynchronous (a microtask after
 * `publish`), in publish order, and each listener gets its own deep copy, as if it had come over the
 * wire: a listener can neither see another's mutations nor hold on to the publisher's objects.
 */
export function createInProcessChangeFeed({ onListenerError }: InProcessChangeFeedOptions = {}): ChangeFeed {
  // One entry per subscription: the same function subscribed twice is two subscriptions.
  const subscriptions = new Set<{ listener: Listener }>();

  return {
    async publish(changes) {
      if (changes.length === 0) return;
      for (const subscription of subscriptions) {
        const copy = structuredClone(changes);
        queueMicrotask(() => {
          if (!subscriptions.has(subscription)) return;
          try {
            subscription.listener(copy);
          } catch (error) {
            onListenerError?.(error);
          }
        });
      }
    },

    async subscribe(listener) {
      const subscription = { listener };
      subscriptions.add(subscription);
      return async () => {
        subscriptions.delete(subscription);
      };
    },
  };
}
