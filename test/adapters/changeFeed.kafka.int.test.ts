import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createKafkaChangeFeed, type KafkaChangeFeed } from '../../src/adapters/changeFeed/kafka.js';
import { UnavailableError } from '../../src/core/errors.js';
import type { ChangeNotification } from '../../src/ports/changeFeed.js';
import { describeChangeFeedContract, makeChange } from '../contract/changeFeed.contract.js';
import { randomId } from '../support/ids.js';
import { waitFor } from '../support/wait.js';

const kafka = new Kafka({
  clientId: randomId('cairn-test-'),
  brokers: inject('engines').KAFKA_BROKERS.split(','),
  logLevel: logLevel.NOTHING,
});
const topics: string[] = [];

const newFeed = (): KafkaChangeFeed => {
  const topic = randomId('cairn-changes-');
  topics.push(topic);
  return createKafkaChangeFeed({ kafka, topic });
};

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics, timeout: 10_000 }).catch(() => {});
  await admin.disconnect();
});

describeChangeFeedContract(
  'kafka',
  async () => {
    const feed = newFeed();
    return { feed, cleanup: () => feed.close() };
  },
  { waitMs: 30_000 },
);

const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

describe('kafka change feed', () => {
  it('never misses a change published right after subscribe() resolved (8 subscriptions at once)', async () => {
    const feed = newFeed();
    const id = `${randomId('d')}/i`;
    await feed.publish([makeChange(id, 1)]); // the topic exists and has data before anyone subscribes
    const inboxes = Array.from({ length: 8 }, () => [] as ChangeNotification[]);
    await Promise.all(
      inboxes.map(async (inbox, i) => {
        await feed.subscribe((changes) => inbox.push(...changes));
        await feed.publish([makeChange(id, 100 + i)]);
      }),
    );
    await feed.publish([makeChange(id, 999)]);
    for (const [i, inbox] of inboxes.entries()) {
      await waitFor(() => (inbox.some((c) => c.seq === 999) ? true : undefined), { timeoutMs: 30_000 });
      const seqs = inbox.map((c) => c.seq);
      expect(seqs).toContain(100 + i);
      expect(seqs).not.toContain(1);
      expect(seqs.at(-1)).toBe(999); // published last, after every other one had resolved
    }
    await feed.close();
  });

  it('deletes the subscription group on unsubscribe', async () => {
    const feed = newFeed();
    const before = await listGroups();
    const unsubscribe = await feed.subscribe(() => {});
    const during = (await listGroups()).filter((g) => !before.includes(g));
    expect(during).toHaveLength(1);
    await unsubscribe();
    expect(await listGroups()).not.toContain(during[0]);
    await feed.close();
  });

  it('reports an unreachable broker as UnavailableError, quickly', async () => {
    const unreachable = new Kafka({
      clientId: randomId('cairn-test-'),
      brokers: ['127.0.0.1:1'],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 300,
      requestTimeout: 1_000,
      retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
    });
    const feed = createKafkaChangeFeed({ kafka: unreachable, topic: randomId('cairn-changes-') });
    const started = Date.now();
    await expect(feed.publish([makeChange('db/x', 1)])).rejects.toBeInstanceOf(UnavailableError);
    await expect(feed.subscribe(() => {})).rejects.toMatchObject({ code: 'UNAVAILABLE', retriable: true });
    expect(Date.now() - started).toBeLessThan(10_000);
    await feed.close();
  });

  it('carries a publish in few messages and keeps each aggregate in order on a topic of 3 partitions', async () => {
    const topic = randomId('cairn-changes-');
    topics.push(topic);
    const feed = createKafkaChangeFeed({ kafka, topic, partitions: 3, maxMessageBytes: 16 * 1024 });
    const received: ChangeNotification[] = [];
    await feed.subscribe((changes) => received.push(...changes));
    const ids = Array.from({ length: 12 }, (_, i) => `${randomId('d')}/i${i}`);
    const published: ChangeNotification[] = [];
    for (let round = 0; round < 3; round++) {
      const changes = Array.from({ length: 100 }, (_, i) => makeChange(ids[i % ids.length]!, round * 100 + i + 1));
      await feed.publish(changes);
      published.push(...changes);
    }
    await waitFor(() => (received.length >= published.length ? true : undefined), { timeoutMs: 30_000 });
    expect(received).toHaveLength(published.length);
    for (const id of ids) {
      const seqs = received.filter((c) => c.aggregateId === id).map((c) => c.seq);
      expect(seqs).toEqual(published.filter((c) => c.aggregateId === id).map((c) => c.seq));
    }
    expect(received.find((c) => c.seq === 1)).toEqual(published[0]);
    // 300 changes of ~600 bytes, 16 KiB messages: a handful per partition and publish, not 300.
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const messages = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
    expect(offsets.filter((o) => Number(o.high) > 0).length).toBeGreaterThan(1);
    expect(messages).toBeLessThan(40);
    expect(messages).toBeGreaterThanOrEqual(9);
    await feed.close();
  });

  it('delivers a message holding one notification, as older projectors wrote it', async () => {
    const topic = randomId('cairn-changes-');
    topics.push(topic);
    const feed = createKafkaChangeFeed({ kafka, topic });
    const received: ChangeNotification[] = [];
    await feed.subscribe((changes) => received.push(...changes));
    const single = makeChange(`${randomId('d')}/old`, 7);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'INSTANCE:x', value: JSON.stringify(single) }] });
    await producer.disconnect();
    await feed.publish([makeChange(single.aggregateId, 8)]);
    await waitFor(() => (received.length >= 2 ? true : undefined), { timeoutMs: 30_000 });
    expect(received.map((c) => c.seq)).toEqual([7, 8]);
    expect(received[0]).toEqual(single);
    await feed.close();
  });

  it('measures publish → deliver latency', async () => {
    const feed = newFeed();
    const id = `${randomId('d')}/i`;
    let arrived: ((seq: number) => void) | undefined;
    await feed.subscribe((changes) => {
      for (const c of changes) arrived?.(c.seq);
    });
    await feed.publish([makeChange(id, 0)]); // warm the producer
    const latencies: number[] = [];
    for (let seq = 1; seq <= 100; seq++) {
      const delivered = new Promise<void>((resolve) => {
        arrived = (s) => s === seq && resolve();
      });
      const started = performance.now();
      await feed.publish([makeChange(id, seq)]);
      await delivered;
      latencies.push(performance.now() - started);
    }
    const s = sorted(latencies);
    const at = (p: number): number =>
      Math.round(s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]! * 10) / 10;
    console.log('[kafka change feed] publish→deliver ms over 100 changes:', {
      median: at(50),
      p95: at(95),
      max: at(100),
    });
    expect(at(50)).toBeLessThan(1_000);
    await feed.close();
  });
});

async function listGroups(): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.listGroups()).groups.map((g) => g.groupId);
  } finally {
    await admin.disconnect();
  }
}
