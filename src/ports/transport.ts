/** The transport carrying envelopes from the relay to the projectors (Kafka, or an in-process log). */
export interface TransportMessage {
  /** Partitioning key: the aggregate key, so one aggregate's events stay in order. */
  key: string;
  /** The envelope bytes, exactly as stored. */
  value: string;
}

export interface ConsumedBatch {
  partition: number;
  messages: (TransportMessage & { offset: string })[];
}

export interface TransportConsumer {
  /** Stops consuming after the batch in hand; commits offsets of handled batches. */
  stop(): Promise<void>;
}

export interface Transport {
  /** Resolves when every message is durably accepted, in order per key. */
  publish(messages: TransportMessage[]): Promise<void>;
  /**
   * Delivers batches to `handle` at least once, in order within a partition; a batch's offsets are
   * committed only after `handle` resolves. Consumers sharing `groupId` split the partitions.
   */
  consume(
    options: { groupId: string; fromBeginning: boolean },
    handle: (batch: ConsumedBatch) => Promise<void>,
  ): Promise<TransportConsumer>;
  ping(): Promise<void>;
}
