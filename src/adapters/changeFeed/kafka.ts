import { randomUUID } from 'node:crypto';
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
  /** Fetch long-poll of a subscription; a fetch returns as soon as data arrives. @default 25 */
  maxWaitTimeInMs?: number;
  /** @default 30_000 */
  sessionTimeoutMs?: number;
  /** @default 3_000 */
  heartbeatIntervalMs?: number;
  /** `subscribe` gives up (UnavailableError) if its consumer has not joined by then. @default 30_000 */
  joinTimeoutMs?: number;
  /** Told when a listener throws or a message is not a notification. @default ignore */
  onListenerError?: (error: unknown) => void;
}

export interface KafkaChangeFeed extends ChangeFeed {
  /** Ends every subscription and disconnects producer and admin. */
  close(): Promise<void>;
}

/**
 * Change notifications over a Kafka topic, key = aggregate key (order per aggregate). Every
 * subscription is its own consumer group (`<topic>-<uuid>`), so each gateway sees every change.
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
  maxWaitTimeInMs = 25,
  sessionTimeoutMs = 30_000,
  heartbeatIntervalMs = 3_000,
  joinTimeoutMs = 30_000,
  onListenerError,
}: KafkaChangeFeedOptions): KafkaChangeFeed {
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
        eachBatch: async ({ batch }) => {
          if (!active) return;
          const changes: ChangeNotification[] = [];
          for (const m of batch.messages) {
            try {
              changes.push(JSON.parse(m.value?.toString('utf8') ?? 'null') as ChangeNotification);
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
        await client.send({
          topic,
          acks: -1,
          messages: changes.map((c) => ({ key: `${c.aggregateType}:${c.aggregateId}`, value: JSON.stringify(c) })),
        });
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
