import type { EnvelopeKind } from '../core/envelope.js';

/**
 * The transport carrying envelopes from the relay to the projectors (Kafka, or an in-process log).
 *
 * Delivery is at least once. Redelivery policy: a batch whose `handle` throws is NOT skipped: its
 * offsets stay uncommitted and the transport hands the same messages again, after a backoff, to
 * whichever consumer of the group then owns the partition (the same one, or another after a
 * rebalance or a stop). The partition does not move on meanwhile. Poison events are therefore the
 * handler's business: the projector parks an event that keeps failing (bounded retries) and
 * resolves, so that its partition moves on.
 */
export interface TransportMessage {
  /** Partitioning key: the aggregate key, so one aggregate's events stay in order. */
  key: string;
  /** The envelope bytes, exactly as stored. */
  value: string;
  /**
   * The envelope's kind, when its publisher says (the relay does; Kafka: the record header `kind`),
   * so that a consumer of domain events skips commands without parsing them.
   */
  kind?: EnvelopeKind;
}

export interface ConsumedBatch {
  partition: number;
  /** Consecutive messages of one partition, in log order; `offset` is the decimal log position. */
  messages: (TransportMessage & { offset: string })[];
}

export interface TransportConsumer {
  /**
   * Stops consuming: lets the batch in hand finish, commits the offsets of the batches whose
   * `handle` resolved, and leaves the group (its partitions move to the remaining consumers). A batch
   * whose `handle` did not resolve stays uncommitted and is redelivered to the group's next consumer.
   * Idempotent.
   */
  stop(): Promise<void>;
}

export interface Transport {
  /**
   * Resolves when every message is durably accepted (Kafka: acks=all), in order per key: messages
   * with one key land in one partition in array order. On rejection some messages may have been
   * accepted: publishing the same array again is the retry (consumers see duplicates, never gaps).
   * Unreachable transport → UnavailableError.
   */
  publish(messages: TransportMessage[]): Promise<void>;
  /**
   * Delivers batches to `handle` at least once, in order within a partition; a batch's offsets are
   * committed only after `handle` resolves. Consumers sharing `groupId` split the partitions, and
   * committed offsets outlive the consumers (a group resumes where it left off).
   *
   * - `fromBeginning` only matters for a group with no committed offset: start at the oldest message
   *   (true) or at the end of the log (false: only messages published after `consume` resolved).
   * - `handle` is never called concurrently for one partition; it may be for different partitions.
   *   Keep it well under the adapter's session timeout (Kafka: a slow handler loses its partitions).
   * - If `handle` throws, `onError` is told and the batch is redelivered (see the policy above).
   *
   * Resolves once the consumer has joined the group and got its partitions, so a message published
   * after that is delivered to the group. Unreachable transport → UnavailableError.
   */
  consume(
    options: { groupId: string; fromBeginning: boolean; onError?: (error: unknown) => void },
    handle: (batch: ConsumedBatch) => Promise<void>,
  ): Promise<TransportConsumer>;
  /** Resolves when the transport is reachable; otherwise rejects with UnavailableError. */
  ping(): Promise<void>;
}
