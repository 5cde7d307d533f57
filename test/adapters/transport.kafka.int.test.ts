import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createKafkaTransport, type KafkaTransport } from '../../src/adapters/transport/kafka.js';
import { UnavailableError } from '../../src/core/errors.js';
import type { TransportMessage } from '../../src/ports/transport.js';
import { describeTransportContract } from '../contract/transport.contract.js';
import { randomId } from '../support/ids.js';
import { waitFor } from '../support/wait.js';

const kafka = new Kafka({
  clientId: randomId('cairn-test-'),
  brokers: inject('engines').KAFKA_BROKERS.split(','),
  logLevel: logLevel.NOTHING,
});
const topics: string[] = [];

/** A transport on a fresh topic; quick heartbeats so that rebalances settle in about a second. */
const newTransport = (options: { idempotent?: boolean; partitions?: number } = {}): KafkaTransport => {
  const topic = randomId('cairn-events-');
  topics.push(topic);
  return createKafkaTransport({
    kafka,
    topic,
    partitions: options.partitions ?? 4,
    idempotent: options.idempotent ?? false,
    consumer: { heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000, retry: { initialMs: 50, maxMs: 500 } },
  });
};

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics, timeout: 10_000 }).catch(() => {});
  await admin.disconnect();
});

describeTransportContract(
  'kafka',
  async () => {
    const transport = newTransport();
    return { transport, cleanup: () => transport.close() };
  },
  { waitMs: 30_000 },
);

describe('kafka transport', () => {
  it('reports an unreachable broker as UnavailableError, quickly', async () => {
    const unreachable = new Kafka({
      clientId: randomId('cairn-test-'),
      brokers: ['127.0.0.1:1'],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 300,
      requestTimeout: 1_000,
      retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
    });
    const transport = createKafkaTransport({ kafka: unreachable, topic: randomId('cairn-events-') });
    const started = Date.now();
    await expect(transport.ping()).rejects.toBeInstanceOf(UnavailableError);
    await expect(transport.publish([{ key: 'k', value: 'v' }])).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      retriable: true,
      extensions: { dependency: 'kafka' },
    });
    await expect(transport.consume({ groupId: 'g', fromBeginning: true }, async () => {})).rejects.toBeInstanceOf(
      UnavailableError,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    await transport.close();
  });

  it('publishes 10,000 messages in batches of 500 (throughput, idempotent vs not)', async () => {
    const value = JSON.stringify({ payload: 'x'.repeat(400) });
    const messages: TransportMessage[] = Array.from({ length: 10_000 }, (_, i) => ({ key: `k${i % 500}`, value }));
    const report: Record<string, number> = {};
    for (const idempotent of [true, false]) {
      const transport = newTransport({ idempotent, partitions: 12 });
      await transport.publish(messages.slice(0, 10)); // connect + create the topic outside the timing
      const started = performance.now();
      for (let i = 0; i < messages.length; i += 500) await transport.publish(messages.slice(i, i + 500));
      const seconds = (performance.now() - started) / 1000;
      report[idempotent ? 'idempotent msg/s' : 'non-idempotent msg/s'] = Math.round(messages.length / seconds);

      const oneCall = performance.now();
      await transport.publish(messages);
      report[idempotent ? 'idempotent msg/s (one call)' : 'non-idempotent msg/s (one call)'] = Math.round(
        messages.length / ((performance.now() - oneCall) / 1000),
      );
      await transport.close();
    }
    console.log('[kafka transport] produce throughput, 10,000 × ~420 B:', report);
    expect(Object.values(report).every((x) => x > 0)).toBe(true);
  });

  it('hands a consumer catching up batches of up to 2,000 messages, beyond one 1 MiB fetch', async () => {
    // 2,400 envelope-sized messages on one partition: ~2.4 MiB, more than kafkajs fetches of a
    // partition by default (1 MiB, ~1,000 of them), so a batch this large needs the larger fetch.
    const transport = newTransport({ partitions: 1 });
    const value = JSON.stringify({ payload: 'x'.repeat(1_000) });
    await transport.publish(Array.from({ length: 2_400 }, (_, i) => ({ key: `k${i}`, value })));
    const sizes: number[] = [];
    const consumer = await transport.consume({ groupId: randomId('g'), fromBeginning: true }, async (batch) => {
      sizes.push(batch.messages.length);
    });
    await waitFor(() => (sizes.reduce((a, b) => a + b, 0) >= 2_400 ? true : undefined), { what: 'every message' });
    await consumer.stop();
    await transport.close();
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2_400);
    expect(Math.max(...sizes)).toBe(2_000);
  });

  it('measures group join and rebalance times', async () => {
    const transport = newTransport();
    const groupId = randomId('g');
    const t0 = performance.now();
    const a = await transport.consume({ groupId, fromBeginning: true }, async () => {});
    const t1 = performance.now();
    const b = await transport.consume({ groupId, fromBeginning: true }, async () => {});
    const t2 = performance.now();
    await a.stop();
    const t3 = performance.now();
    const seen: string[] = [];
    const c = await transport.consume({ groupId: randomId('g'), fromBeginning: false }, async (batch) => {
      seen.push(...batch.messages.map((m) => m.value));
    });
    const sent = performance.now();
    await transport.publish([{ key: 'k', value: 'v' }]);
    await waitFor(() => (seen.length > 0 ? true : undefined), { what: 'the message' });
    const latency = performance.now() - sent;
    await Promise.all([b.stop(), c.stop()]);
    console.log('[kafka transport] timings (ms):', {
      firstJoin: Math.round(t1 - t0),
      secondJoinWithRebalance: Math.round(t2 - t1),
      stopWithRebalance: Math.round(t3 - t2),
      publishToHandle: Math.round(latency),
    });
    await transport.close();
  });
});
