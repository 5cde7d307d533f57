/**
 * Small batches handed over in the same turn of the event loop run as one. A Kafka consumer hands
 * the batches of one fetch (one per partition) to concurrent handlers at once, and fetches again only
 * once every one of them is done; at live rates each holds a message or two, and each paid its own
 * round trips (for the projector: a claim, a bulk, a notification, a mark-done). Merged, the fetch
 * pays them once.
 *
 * Order per key holds: a key's messages are in one partition, whose next batch is handed over only
 * after this one settled. A batch of `alone` items or more runs by itself (a consumer catching up:
 * several large runs overlap their round trips better than one larger still). When a merged run
 * fails, every batch in it fails, and each is redelivered as it would be after its own failure.
 */
export function coalesceSmallBatches<T>(
  run: (items: T[]) => Promise<void>,
  options: { alone: number },
): (items: T[]) => Promise<void> {
  interface Waiting {
    items: T[];
    resolve: () => void;
    reject: (error: unknown) => void;
  }
  let waiting: Waiting[] = [];

  const runWaiting = async (): Promise<void> => {
    const merged = waiting;
    waiting = [];
    try {
      await run(merged.flatMap((w) => w.items));
      for (const w of merged) w.resolve();
    } catch (e) {
      for (const w of merged) w.reject(e);
    }
  };

  return (items) => {
    if (items.length >= options.alone) return run(items);
    return new Promise<void>((resolve, reject) => {
      // The other batches of the fetch arrive within this turn, a few promise hops later.
      if (waiting.length === 0) setImmediate(() => void runWaiting());
      waiting.push({ items, resolve, reject });
    });
  };
}
