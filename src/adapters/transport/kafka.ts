import { type Admin, CompressionTypes, type EachBatchPayload, type IHeaders, type Kafka, type Producer } from 'kafkajs';
import type { EnvelopeKind } from '../../core/envelope.js';
import type { ConsumedBatch, Transport, TransportConsumer, TransportMessage } from '../../ports/transport.js';
import { type BackoffOptions, backoffMs } from './backoff.js';
import { ensureTopic, lazy, memoizedDefaultPartitioner, startConsumer, toUnavailable } from './kafkaSupport.js';

export interface KafkaConsumerOptions {
  /** The broker drops a member it has not heard from for this long. @default 30_000 */
  sessionTimeoutMs?: number;
  /** How often a member heartbeats; also how fast it notices a rebalance. @default 3_000 */
  heartbeatIntervalMs?: number;
  /** How long the broker waits for every member to rejoin during a rebalance. @default 60_000 */
  rebalanceTimeoutMs?: number;
  /**
   * Fetch long-poll: a fetch returns as soon as data arrives, so this only sets how often an idle
   * consumer asks (each empty fetch costs the consumer and the broker CPU). @default 500
   */
  maxWaitTimeInMs?: number;
  /** Partitions handled at once by one consumer (`handle` may then run concurrently). @default 1 */
  partitionsConsumedConcurrently?: number;
  /**
   * Most messages handed to `handle` at once (a fetched batch is split). A consumer catching up
   * pays its round trips per batch (the projector: a claim, a bulk, a notification, a mark-done), and
   * folds an aggregate's events within one into a single write. @default 2000
   */
  maxBatchSize?: number;
  /**
   * Most bytes one fetch brings of a partition (kafkajs's default, 1 MiB, holds ~1,000 envelopes,
   * fewer than maxBatchSize). Live traffic fetches what has arrived, so this only matters when
   * behind. @default 4 MiB
   */
  maxBytesPerPartition?: number;
  /** Backoff before a failed batch is redelivered. @default { initialMs: 100, maxMs: 5_000 } */
  retry?: BackoffOptions;
  /** `consume` gives up (UnavailableError) if the consumer has not joined its group by then. @default 30_000 */
  joinTimeoutMs?: number;
}

export interface KafkaTransportOptions {
  /** A configured client (brokers, client id, SSL/SASL, retries, log level) from the composition root. */
  kafka: Kafka;
  topic: string;
  /** Partitions when this adapter creates the topic (an existing topic is left as it is). @default 12 */
  partitions?: number;
  /** Replicas when this adapter creates the topic; -1 = the broker's default. @default -1 */
  replicationFactor?: number;
  /** Extra topic configs at creation, e.g. { 'retention.ms': '-1' }. @default {} */
  topicConfig?: Record<string, string>;
  /**
   * Idempotent producer: the broker drops duplicates caused by the producer's own retries. Off by
   * default: kafkajs then retries a send forever (retries = MAX_SAFE_INTEGER), so `publish` would hang
   * through an outage instead of failing with UnavailableError. Order per key holds either way (one
   * request in flight per broker); duplicates are within the at-least-once contract. @default false
   */
  idempotent?: boolean;
  /** Upper bound of one produce request; a bigger publish is split, in order. @default 900_000 */
  maxSendBytes?: number;
  /** @default CompressionTypes.None */
  compression?: CompressionTypes;
  consumer?: KafkaConsumerOptions;
}

export interface KafkaTransport extends Transport {
  /** Stops every consumer it started (finishing batches in hand) and disconnects producer and admin. */
  close(): Promise<void>;
}

/** The Kafka record of a message: the envelope's kind, when known, as the header `kind`. */
const toRecord = ({ key, value, kind }: TransportMessage) =>
  kind ? { key, value, headers: { kind } } : { key, value };

/** The kind a record's header says, if it is one. */
const kindOf = (headers: IHeaders | undefined): { kind?: EnvelopeKind } => {
  const kind = headers?.kind?.toString();
  return kind === 'command' || kind === 'domain' ? { kind } : {};
};

/** Splits `messages` into consecutive chunks of at most `maxBytes` (a single larger message goes alone). */
function chunkBySize(messages: TransportMessage[], maxBytes: number): TransportMessage[][] {
  const chunks: TransportMessage[][] = [];
  let chunk: TransportMessage[] = [];
  let size = 0;
  for (const m of messages) {
    // Record overhead is ~70 bytes; count it so many tiny messages do not overshoot either.
    const bytes = Buffer.byteLength(m.key) + Buffer.byteLength(m.value) + 70;
    if (chunk.length > 0 && size + bytes > maxBytes) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(m);
    size += bytes;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/**
 * The production transport: one Kafka topic, key = aggregate key (kafkajs' default murmur2
 * partitioner, the Java client's), acks=all. A consumer is a kafkajs consumer in the given group,
 * committing a sub-batch's offsets only after `handle` resolved. A failed sub-batch stays uncommitted:
 * its partition is paused for a backoff, then fetched again from there, while the member's other
 * partitions go on. The consumer does not crash or restart over a handler error (which would make
 * the whole group rebalance again and again); the batch moves with its partition on a rebalance or a
 * stop.
 */
export function createKafkaTransport({
  kafka,
  topic,
  partitions = 12,
  replicationFactor = -1,
  topicConfig = {},
  idempotent = false,
  maxSendBytes = 900_000,
  compression = CompressionTypes.None,
  consumer: consumerOptions = {},
}: KafkaTransportOptions): KafkaTransport {
  const {
    sessionTimeoutMs = 30_000,
    heartbeatIntervalMs = 3_000,
    rebalanceTimeoutMs = 60_000,
    maxWaitTimeInMs = 500,
    partitionsConsumedConcurrently = 1,
    maxBatchSize = 2_000,
    maxBytesPerPartition = 4 * 2 ** 20,
    retry = {},
    joinTimeoutMs = 30_000,
  } = consumerOptions;

  const admin = lazy(async (): Promise<Admin> => {
    const client = kafka.admin();
    try {
      await client.connect();
      await ensureTopic(client, {
        topic,
        numPartitions: partitions,
        replicationFactor,
        configEntries: Object.entries(topicConfig).map(([name, value]) => ({ name, value })),
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
      idempotent,
      // One request in flight: a retried request cannot be overtaken by the next one (order per key).
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: memoizedDefaultPartitioner(),
    });
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.disconnect().catch(() => {});
      throw error;
    }
  });

  const consumers = new Set<TransportConsumer>();

  const consume: Transport['consume'] = async ({ groupId, fromBeginning, onError }, handle) => {
    try {
      await admin.get();
    } catch (error) {
      throw toUnavailable(error);
    }
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs,
      rebalanceTimeout: rebalanceTimeoutMs,
      maxWaitTimeInMs,
      maxBytesPerPartition,
      allowAutoTopicCreation: false,
    });

    // Failed partitions wait out their backoff paused, so the member's other partitions go on.
    const attempts = new Map<number, number>();
    const backoffTimers = new Set<ReturnType<typeof setTimeout>>();

    const eachBatch = async ({
      batch,
      resolveOffset,
      heartbeat,
      commitOffsetsIfNecessary,
      isRunning,
      isStale,
      pause,
    }: EachBatchPayload): Promise<void> => {
      const { partition } = batch;
      for (let from = 0; from < batch.messages.length; from += maxBatchSize) {
        if (!isRunning() || isStale()) return;
        const slice = batch.messages.slice(from, from + maxBatchSize);
        const consumed: ConsumedBatch = {
          partition,
          messages: slice.map((m) => ({
            key: m.key?.toString('utf8') ?? '',
            value: m.value?.toString('utf8') ?? '',
            offset: m.offset,
            ...kindOf(m.headers),
          })),
        };
        try {
          await handle(consumed);
        } catch (error) {
          onError?.(error);
          // Left unresolved: the partition's next fetch (by this member after the backoff, or by its
          // next owner after a rebalance or a stop) starts at this sub-batch again.
          const attempt = (attempts.get(partition) ?? 0) + 1;
          attempts.set(partition, attempt);
          const resume = pause();
          const timer = setTimeout(
            () => {
              backoffTimers.delete(timer);
              resume();
            },
            backoffMs(attempt, retry),
          );
          backoffTimers.add(timer);
          return;
        }
        attempts.delete(partition);
        resolveOffset(slice[slice.length - 1]!.offset);
        await commitOffsetsIfNecessary();
        await heartbeat();
      }
    };

    await startConsumer(consumer, {
      subscription: { topics: [topic], fromBeginning },
      run: {
        eachBatch,
        eachBatchAutoResolve: false,
        autoCommit: true,
        // Resolved offsets are committed at most once a second (patches/kafkajs+2.2.4.patch; kafkajs
        // itself commits after every fetched batch, a broker write per message at low rates), and on
        // stop or a rebalance. A crash redoes at most that second, which the handler's idempotency
        // (the projector's registry) absorbs.
        autoCommitInterval: 1_000,
        partitionsConsumedConcurrently,
      },
      joinTimeoutMs,
      waitForFirstFetch: true,
    });

    let stopping: Promise<void> | undefined;
    const handleToStop: TransportConsumer = {
      stop: () => {
        stopping ??= (async () => {
          consumers.delete(handleToStop);
          for (const timer of backoffTimers) clearTimeout(timer);
          // Lets the batch in hand finish, commits resolved offsets, leaves the group, disconnects.
          await consumer.disconnect().catch((error: unknown) => onError?.(toUnavailable(error)));
        })();
        return stopping;
      },
    };
    consumers.add(handleToStop);
    return handleToStop;
  };

  return {
    async publish(messages) {
      if (messages.length === 0) return;
      try {
        const client = await producer.get();
        for (const chunk of chunkBySize(messages, maxSendBytes)) {
          await client.send({ topic, acks: -1, compression, messages: chunk.map(toRecord) });
        }
      } catch (error) {
        throw toUnavailable(error);
      }
    },

    consume,

    async ping() {
      try {
        const client = await admin.get();
        await client.fetchTopicMetadata({ topics: [topic] });
      } catch (error) {
        throw toUnavailable(error);
      }
    },

    async close() {
      await Promise.all([...consumers].map((c) => c.stop()));
      const clients = await Promise.allSettled([producer.peek(), admin.peek()]);
      await Promise.all(
        clients.map((c) => (c.status === 'fulfilled' && c.value ? c.value.disconnect().catch(() => {}) : undefined)),
      );
    },
  };
}
