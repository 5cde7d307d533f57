import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { randomId } from '../support/ids.js';
import { waitFor } from '../support/wait.js';

/**
 * kafkajs 2.2.4 commits a consumer's resolved offsets after every batch, even with an
 * `autoCommitInterval`: at low rates one OffsetCommit (a broker write) per message. With
 * `patches/kafkajs+2.2.4.patch` an interval or threshold is honoured, and what is resolved is
 * committed on stop. These tests fail if the patch is not applied.
 */
const kafka = new Kafka({
  clientId: randomId('cairn-test-'),
  brokers: inject('engines').KAFKA_BROKERS.split(','),
  logLevel: logLevel.NOTHING,
});
const topic = randomId('cairn-commits-');

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic], timeout: 10_000 }).catch(() => {});
  await admin.disconnect();
});

describe('kafkajs offset commits (patched)', () => {
  it('commits at most once per autoCommitInterval, and what is left on stop', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    const groupId = randomId('g');
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50 });
    let commits = 0;
    consumer.on(consumer.events.COMMIT_OFFSETS, () => commits++);
    let handled = 0;
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: true,
      autoCommitInterval: 60_000,
      eachBatch: async ({ batch }) => {
        handled += batch.messages.length;
      },
    });
    try {
      // One message at a time, each its own batch: unpatched, each batch is an OffsetCommit.
      for (let i = 1; i <= 10; i++) {
        await producer.send({ topic, messages: [{ value: `m${i}` }] });
        await waitFor(() => (handled >= i ? true : undefined), { timeoutMs: 20_000, what: `message ${i}` });
      }
      expect(commits).toBe(0);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
    expect(commits).toBe(1); // on stop
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(committed?.partitions[0]?.offset).toBe('10');
    await admin.disconnect();
  });
});
