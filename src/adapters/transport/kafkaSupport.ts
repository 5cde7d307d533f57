import {
  type Admin,
  type Consumer,
  type ConsumerGroupJoinEvent,
  type ConsumerRunConfig,
  type ConsumerSubscribeTopics,
  type ICustomPartitioner,
  Partitioners,
} from 'kafkajs';
import { isCairnError, UnavailableError } from '../../core/errors.js';

/**
 * Pieces shared by the Kafka transport and the Kafka change feed: error translation, topic creation,
 * starting a consumer and waiting until it really consumes.
 */

/** Kafka failures (connection refused, retries exhausted, timeouts, protocol errors) → UnavailableError. */
export function toUnavailable(error: unknown): Error {
  if (isCairnError(error)) return error;
  return new UnavailableError('kafka', error);
}

/**
 * A lazily started resource shared by concurrent callers; a failed start is forgotten so that the
 * next call tries again (the broker may be back).
 */
export function lazy<T>(start: () => Promise<T>): { get: () => Promise<T>; peek: () => Promise<T> | undefined } {
  let pending: Promise<T> | undefined;
  return {
    get: () => {
      if (!pending) {
        const started = start();
        pending = started;
        started.catch(() => {
          if (pending === started) pending = undefined;
        });
      }
      return pending;
    },
    peek: () => pending,
  };
}

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** -1: the broker's default. */
  replicationFactor: number;
  configEntries?: { name: string; value: string }[];
}

/** Creates the topic if it is missing (concurrent creators are fine) and waits for its leaders. */
export async function ensureTopic(admin: Admin, spec: TopicSpec): Promise<void> {
  const existing = await admin.listTopics();
  if (!existing.includes(spec.topic)) {
    try {
      await admin.createTopics({ waitForLeaders: true, timeout: 10_000, topics: [spec] });
    } catch (error) {
      // Lost a creation race: fine if it exists now.
      if (!(await admin.listTopics()).includes(spec.topic)) throw error;
    }
  }
  await waitForLeaders(admin, spec.topic);
}

/**
 * Until every partition has a leader in this client's metadata: right after a topic is created (by
 * us or a concurrent starter) the broker may still answer "not the leader" to the first requests.
 */
async function waitForLeaders(admin: Admin, topic: string, timeoutMs = 15_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = topics[0]?.partitions ?? [];
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return;
      if (Date.now() > giveUpAt) throw new Error(`topic ${topic} has partitions without a leader`);
    } catch (error) {
      if (Date.now() > giveUpAt) throw error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Retries a metadata-sized admin call on the transient errors of a topic that was just created. */
export async function withTopicRetry<T>(call: () => Promise<T>, attempts = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (error) {
      if (i >= attempts) throw error;
      await new Promise((r) => setTimeout(r, 100 * i));
    }
  }
}

export interface StartConsumerOptions {
  subscription: ConsumerSubscribeTopics;
  run: ConsumerRunConfig;
  /** Give up (and disconnect) after this long without joining. */
  joinTimeoutMs: number;
  /**
   * Called synchronously on the first GROUP_JOIN, before the first fetch (a `consumer.seek` made here
   * applies to that fetch).
   */
  onFirstJoin?: (event: ConsumerGroupJoinEvent) => void;
  /**
   * Also wait for the first fetch after the join: by then the position of every assigned partition
   * is resolved (a new group's "latest" is looked up in that fetch).
   */
  waitForFirstFetch: boolean;
}

/**
 * Connects, subscribes and runs the consumer, and resolves once it has joined its group and got its
 * assignment (and fetched once if asked). Any failure before that disconnects it and rejects with
 * UnavailableError; a consumer that crashes later restarts itself (kafkajs' restartOnFailure).
 */
export async function startConsumer(consumer: Consumer, options: StartConsumerOptions): Promise<void> {
  const removers: (() => void)[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    let joined = false;
    removers.push(
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        if (joined) return;
        joined = true;
        options.onFirstJoin?.(event);
        if (!options.waitForFirstFetch) resolve();
      }),
      consumer.on(consumer.events.FETCH, () => {
        if (joined) resolve();
      }),
      // A fresh broker answers "not the coordinator" until its offsets topic exists; kafkajs restarts
      // the consumer after such retriable crashes, so only a crash it gives up on fails the start.
      consumer.on(consumer.events.CRASH, (event) => {
        if (!event.payload.restart) reject(event.payload.error);
      }),
    );
    timer = setTimeout(
      () => reject(new Error(`consumer did not join its group within ${options.joinTimeoutMs} ms`)),
      options.joinTimeoutMs,
    );
  });
  ready.catch(() => {}); // observed below
  const started = (async () => {
    await consumer.connect();
    await consumer.subscribe(options.subscription);
    await consumer.run(options.run);
  })();
  started.catch(() => {});
  try {
    // A join timeout or a crash wins even while connect() is still retrying.
    await Promise.race([started.then(() => ready), ready]);
  } catch (error) {
    // If connect() was still pending, make sure the consumer does not come to life afterwards.
    void started.then(() => consumer.disconnect()).catch(() => {});
    await consumer.disconnect().catch(() => {});
    throw toUnavailable(error);
  } finally {
    clearTimeout(timer);
    for (const remove of removers) remove();
  }
}

/**
 * kafkajs's DefaultPartitioner (the Java client's murmur2 of the key) with each string key's
 * partition remembered per topic: a commit's envelopes share their key and hot aggregates recur,
 * while murmur2 in JavaScript and the partitioner's per-message scan of the partition metadata were
 * ~9 % of the relay's busy time (`npm run bench -- --cpu-prof`). Every answer is DefaultPartitioner's
 * own (computed by it on a miss), so a key keeps its partition across versions: an aggregate's
 * records must never move. A topic whose partition count changes starts a new memo.
 */
export function memoizedDefaultPartitioner(capacity = 50_000): ICustomPartitioner {
  return () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const memos = new Map<string, { partitions: number; byKey: Map<string, number> }>();
    return (args) => {
      const { topic, partitionMetadata, message } = args;
      if (typeof message.key !== 'string' || (message.partition !== null && message.partition !== undefined)) {
        return partitioner(args);
      }
      let memo = memos.get(topic);
      if (!memo || memo.partitions !== partitionMetadata.length) {
        memo = { partitions: partitionMetadata.length, byKey: new Map() };
        memos.set(topic, memo);
      }
      let partition = memo.byKey.get(message.key);
      if (partition === undefined) {
        partition = partitioner(args);
        // Bounded by starting over: cheaper than keeping an LRU order on every message.
        if (memo.byKey.size >= capacity) memo.byKey.clear();
        memo.byKey.set(message.key, partition);
      }
      return partition;
    };
  };
}
