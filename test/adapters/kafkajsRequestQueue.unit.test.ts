import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * kafkajs 2.2.4 re-arms a timer after every check of a connection's request queue, even with nothing
 * pending: a 1 ms loop per broker connection for the life of the client (tulios/kafkajs#1556,
 * #1704), ~4-6 % of a core per idle Cairn process. `patches/kafkajs+2.2.4.patch` (applied by
 * patch-package on `npm install`) stops it; these tests fail if the patch is not applied.
 */

interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
  destroy(): void;
}
type RequestQueueClass = new (options: Record<string, unknown>) => RequestQueue;

const require = createRequire(import.meta.url);
const RequestQueueImpl = require('kafkajs/src/network/requestQueue/index.js') as RequestQueueClass;
const silent = { debug() {}, info() {}, warn() {}, error() {}, namespace: () => silent };

const queues: RequestQueue[] = [];
const newQueue = (): RequestQueue => {
  const q = new RequestQueueImpl({
    maxInFlightRequests: 1,
    requestTimeout: 1_000,
    enforceRequestTimeout: false,
    clientId: 'test',
    broker: 'localhost:9092',
    logger: silent,
  });
  queues.push(q);
  return q;
};

afterEach(() => {
  for (const q of queues.splice(0)) {
    if (q.throttleCheckTimeoutId) clearTimeout(q.throttleCheckTimeoutId);
    q.destroy();
  }
});

describe('kafkajs request queue (patched)', () => {
  it('arms no timer when nothing is pending and nothing is throttled', () => {
    const q = newQueue();
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('still checks again later while throttled, so a request queued then is sent', () => {
    const q = newQueue();
    q.throttledUntil = Date.now() + 50;
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
  });

  it('still checks again later while requests are pending', () => {
    const q = newQueue();
    q.throttledUntil = Date.now() + 1_000;
    q.pending.push({});
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
  });
});
