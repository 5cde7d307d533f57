import { hash, randomUUID } from 'node:crypto';
import { type Admin, type Consumer, type Kafka, Partitioners, type Producer } from 'kafkajs';
import type { ChangeFeed, ChangeNotification } from '../../ports/changeFeed.js';
import { ensureTopic, lazy, startConsumer, toUnavailable, withTopicRetry } from '../transport/kafkaSupport.js';

export interface KafkaChangeFeedOptions {
  /** A configured client from the composition root. */
  kafka: Kafka;
  topic: string;
  /** Partitions when this adapter creates the topic (one keeps fetches cheap for every gateway). @default 1 */
  partitions?: number;
  /** -1 = the broker's default. @default -1 */
  replicationFactor?: number;
  /** Notifications are only useful live: the topic keeps them this long. @default 3_600_000 */
  retentionMs?: number;
  /**
   * Fetch long-poll of a subscription: a fetch returns as soon as data arrives, so this only sets how
   * often an idle subscription asks (25 ms cost an idle gateway ~5 % of a core and the broker ~4 %).
   * @default 500
   */
  maxWaitTimeInMs?: number;
  /** @default 30_000 */
  sessionTimeoutMs?: number;
  /** @default 3_000 */
  heartbeatIntervalMs?: number;
  /** `subscribe` gives up (UnavailableError) if its consumer has not joined by then. @default 30_000 */
  joinTimeoutMs?: number;
  /** Told when a listener throws or a message is not a notification. @default ignore */
  onListenerError?: (error: unknown) => void;
  /** Largest message: a publish becomes as few messages of at most this size as it can. @default 256 KiB */
  maxMessageBytes?: number;
}

export interface KafkaChangeFeed extends ChangeFeed {
  /** Ends every subscription and disconnects producer and admin. */
  close(): Promise<void>;
}

/**
 * Change notifications over a Kafka topic. One message carries many notifications (a JSON array; a
 * message holding one object, as older projectors wrote, still reads): the projector publishes its
 * changes a batch at a time, and a record per change cost the projector ~12 % of its CPU in kafkajs
 * encoding alone (and every gateway as much decoding). A message goes to the partition its
 * notifications' aggregates hash to (grouped per partition), so one aggregate's changes keep their
 * order however many partitions the topic has. Every subscription is its own consumer group
 * (`<topic>-<uuid>`), so each gateway sees every change.
 *
 * No change published after `subscribe` resolved is missed: before joining, the subscription reads the
 * topic's end offsets and seeks there on its first join (committing that position), so where it starts
 * does not depend on when the consumer's first fetch happens. Unsubscribing deletes the group.
 */
export function createKafkaChangeFeed({
  kafka,
  topic,
  partitions = 1,
  replicationFactor = -1,
  retentionMs = 3_600_000,
  maxWaitTimeInMs = 500,
  sessionTimeoutMs = 30_000,
  heartbeatIntervalMs = 3_000,
  joinTimeoutMs = 30_000,
  onListenerError,
  maxMessageBytes = 256 * 1024,
}: KafkaChangeFeedOptions): KafkaChangeFeed {
  /** The topic's partition count, read once it exists (it may differ from `partitions` if made elsewhere). */
  const partitionCount = lazy(async (): Promise<number> => {
    const client = await admin.get();
    const metadata = await withTopicRetry(() => client.fetchTopicMetadata({ topics: [topic] }));
    return Math.max(1, metadata.topics[0]?.partitions.length ?? 1);
  });

  const admin = lazy(async (): Promise<Admin> => {
    const client = kafka.admin();
    try {
      await client.connect();
      await ensureTopic(client, {
        topic,
        numPartitions: partitions,
        replicationFactor,
        configEntries: [{ name: 'retention.ms', value: String(retentionMs) }],
      });
      return client;
    } catch (error) {
      await client.disconnect().catch(() => {});
      throw error;
    }
  });

  const producer = lazy(async (): Promise<Producer> => {
    await admin.get();
    const client = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.disconnect().catch(() => {});
      throw error;
    }
  });

  const subscriptions = new Set<() => Promise<void>>();

  const startSubscription = async (
    client: Admin,
    listener: (changes: ChangeNotification[]) => void,
  ): Promise<() => Promise<void>> => {
    const groupId = `${topic}-${randomUUID()}`;
    const ends = await withTopicRetry(() => client.fetchTopicOffsets(topic));
    const consumer: Consumer = kafka.consumer({
      groupId,
      maxWaitTimeInMs,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs,
      allowAutoTopicCreation: false,
    });
    let active = true;
    await startConsumer(consumer, {
      subscription: { topics: [topic], fromBeginning: false },
      run: {
        autoCommit: true,
        // The position is committed at most once a second (and on stop or a rebalance), not after
        // every batch: a rejoin after a broker restart rereads at most that second, which the
        // gateways drop as repeats (ChangeHub), instead of one broker write per batch.
        autoCommitInterval: 1_000,
        eachBatch: async ({ batch }) => {
          if (!active) return;
          const changes: ChangeNotification[] = [];
          for (const m of batch.messages) {
            try {
              const value = JSON.parse(m.value?.toString('utf8') ?? 'null') as
                | ChangeNotification
                | ChangeNotification[];
              if (Array.isArray(value)) changes.push(...value);
              else changes.push(value);
            } catch (error) {
              onListenerError?.(error);
            }
          }
          if (changes.length === 0 || !active) return;
          try {
            listener(changes);
          } catch (error) {
            onListenerError?.(error);
          }
        },
      },
      joinTimeoutMs,
      // The seek is applied (and committed) by the first fetch; nothing published from here on can
      // be before that position.
      onFirstJoin: () => {
        for (const { partition, offset } of ends) consumer.seek({ topic, partition, offset });
      },
      waitForFirstFetch: false,
    });

    let ending: Promise<void> | undefined;
    const unsubscribe = (): Promise<void> => {
      ending ??= (async () => {
        active = false;
        subscriptions.delete(unsubscribe);
        await consumer.disconnect().catch(() => {});
        // Best effort: an empty group would otherwise linger until offsets.retention.minutes.
        await client.deleteGroups([groupId]).catch(() => {});
      })();
      return ending;
    };
    subscriptions.add(unsubscribe);
    return unsubscribe;
  };

  return {
    async publish(changes) {
      if (changes.length === 0) return;
      try {
        const client = await producer.get();
        const messages = messagesOf(changes, await partitionCount.get(), maxMessageBytes);
        await client.send({ topic, acks: -1, messages });
      } catch (error) {
        throw toUnavailable(error);
      }
    },

    async subscribe(listener) {
      try {
        return await startSubscription(await admin.get(), listener);
      } catch (error) {
        throw toUnavailable(error);
      }
    },

    async close() {
      await Promise.all([...subscriptions].map((unsubscribe) => unsubscribe()));
      const clients = await Promise.allSettled([producer.peek(), admin.peek()]);
      await Promise.all(
        clients.map((c) => (c.status === 'fulfilled' && c.value ? c.value.disconnect().catch(() => {}) : undefined)),
      );
    },
  };
}

/** A stable partition for an aggregate: its changes always go to the same one. */
const partitionOf = (key: string, count: number): number =>
  // One-shot hash: a Hash object per change was ~2 % of a projector's CPU.
  count === 1 ? 0 : hash('sha1', key, 'buffer').readUInt32BE(0) % count;

/**
 * The messages for one publish: per partition, the notifications in publish order, as JSON arrays
 * of at most `maxBytes` (a notification larger than that travels alone).
 */
export function messagesOf(
  changes: ChangeNotification[],
  partitions: number,
  maxBytes: number,
): { partition: number; value: string }[] {
  const byPartition = new Map<number, string[]>();
  for (const c of changes) {
    const partition = partitionOf(`${c.aggregateType}:${c.aggregateId}`, partitions);
    const texts = byPartition.get(partition) ?? [];
    if (texts.length === 0) byPartition.set(partition, texts);
    texts.push(JSON.stringify(c));
  }
  const messages: { partition: number; value: string }[] = [];
  for (const [partition, texts] of byPartition) {
    let part: string[] = [];
    let bytes = 2;
    for (const text of texts) {
      const size = Buffer.byteLength(text);
      if (part.length > 0 && bytes + size + 1 > maxBytes) {
        messages.push({ partition, value: `[${part.join(',')}]` });
        part = [];
        bytes = 2;
      }
      part.push(text);
      bytes += size + 1;
    }
    if (part.length > 0) messages.push({ partition, value: `[${part.join(',')}]` });
  }
  return messages;
}
