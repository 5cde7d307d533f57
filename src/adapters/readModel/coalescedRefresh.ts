/**
 * Refreshes of one index, shared: a caller gets a refresh that *starts after it asked*, so it sees
 * every write acknowledged before the call. While one refresh runs, every caller that arrives joins
 * the single refresh queued behind it; so N concurrent callers cost at most two refreshes.
 */
export function createCoalescedRefresh(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;

  const start = (): Promise<void> => {
    const current = run().finally(() => {
      if (running === current) running = null;
    });
    running = current;
    return current;
  };

  return () => {
    if (!running) return start();
    if (!queued) {
      // Started only once the running one settles (whatever its outcome): it may predate the caller's writes.
      queued = running
        .catch(() => undefined)
        .then(() => {
          queued = null;
          return start();
        });
    }
    return queued;
  };
}
