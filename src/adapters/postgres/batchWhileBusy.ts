/**
 * Group commit for independent requests: a request that arrives while a batch is running waits, and
 * shares the next one. One batch runs at a time, so a lone request waits for nothing, and under load
 * N concurrent requests cost one statement (one round trip, one transaction, one WAL flush) instead
 * of N.
 *
 * `run` answers one result per request, in order. When it throws, every request of that batch
 * rejects with the error (each caller then handles it as it would a failure of its own statement).
 */
export function batchWhileBusy<I, O>(
  run: (items: I[]) => Promise<O[]>,
  options: {
    maxBatch: number;
    /**
     * For requests nobody waits on promptly (a confirmation): how long the first of a batch waits
     * for others to join it when nothing is running. @default 0 (a lone request runs at once)
     */
    lingerMs?: number;
  },
): (item: I) => Promise<O> {
  interface Waiting {
    item: I;
    resolve: (value: O) => void;
    reject: (error: unknown) => void;
  }
  let queue: Waiting[] = [];
  let running = false;

  const linger = options.lingerMs ?? 0;

  async function drain(): Promise<void> {
    running = true;
    if (linger > 0) await new Promise((resolve) => setTimeout(resolve, linger));
    while (queue.length > 0) {
      const batch = queue.slice(0, options.maxBatch);
      queue = queue.slice(batch.length);
      try {
        const results = await run(batch.map((w) => w.item));
        if (results.length !== batch.length)
          throw new Error(`A batch of ${batch.length} answered ${results.length} results`);
        for (const [i, w] of batch.entries()) w.resolve(results[i]!);
      } catch (e) {
        for (const w of batch) w.reject(e);
      }
    }
    running = false;
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!running) void drain();
    });
}
