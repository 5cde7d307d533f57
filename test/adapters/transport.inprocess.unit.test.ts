import { describe, expect, it } from 'vitest';
import { createInProcessTransport } from '../../src/adapters/transport/inProcess.js';
import type { ConsumedBatch } from '../../src/ports/transport.js';
import { describeTransportContract } from '../contract/transport.contract.js';
import { waitFor } from '../support/wait.js';

describeTransportContract('in-process', async () => {
  const transport = createInProcessTransport({ partitions: 4, retry: { initialMs: 10, maxMs: 100 } });
  return { transport, cleanup: () => transport.close() };
});

describe('in-process transport', () => {
  it('hands out at most maxBatchSize messages at once and one batch per partition at a time', async () => {
    const transport = createInProcessTransport({ partitions: 1, maxBatchSize: 7 });
    const sizes: number[] = [];
    let active = 0;
    let maxActive = 0;
    const consumer = await transport.consume({ groupId: 'g', fromBeginning: true }, async (batch: ConsumedBatch) => {
      maxActive = Math.max(maxActive, ++active);
      await new Promise((r) => setTimeout(r, 1));
      sizes.push(batch.messages.length);
      active--;
    });
    await transport.publish(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: String(i) })));
    await waitFor(() => (sizes.reduce((a, b) => a + b, 0) === 50 ? true : undefined), { what: 'all 50' });
    expect(Math.max(...sizes)).toBeLessThanOrEqual(7);
    expect(maxActive).toBe(1);
    await consumer.stop();
    await transport.close();
  });

  it('lets stop() finish the batch in hand and commit it', async () => {
    const transport = createInProcessTransport({ partitions: 1 });
    let release: (() => void) | undefined;
    const handled: string[] = [];
    const consumer = await transport.consume({ groupId: 'g', fromBeginning: true }, async (batch) => {
      await new Promise<void>((r) => {
        release = r;
      });
      handled.push(...batch.messages.map((m) => m.value));
    });
    await transport.publish([{ key: 'k', value: 'v1' }]);
    const inHand = await waitFor(() => release, { what: 'a batch in hand' });
    const stopped = consumer.stop();
    inHand();
    await stopped;
    expect(handled).toEqual(['v1']);

    const again: string[] = [];
    const next = await transport.consume({ groupId: 'g', fromBeginning: true }, async (batch) => {
      again.push(...batch.messages.map((m) => m.value));
    });
    await transport.publish([{ key: 'k', value: 'v2' }]);
    await waitFor(() => (again.length > 0 ? true : undefined), { what: 'the next message' });
    expect(again).toEqual(['v2']);
    await next.stop();
    await transport.close();
  });
});
