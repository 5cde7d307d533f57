import { type PartitionerArgs, Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { memoizedDefaultPartitioner } from '../../src/adapters/transport/kafkaSupport.js';

const metadata = (n: number) =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }));
const args = (topic: string, partitions: number, key: string | null, partition?: number): PartitionerArgs => ({
  topic,
  partitionMetadata: metadata(partitions),
  message: { key, value: 'v', ...(partition === undefined ? {} : { partition }) },
});

describe('memoizedDefaultPartitioner', () => {
  it("answers DefaultPartitioner's partition for every key, remembered or not, across partition counts", () => {
    const reference = Partitioners.DefaultPartitioner();
    const memoized = memoizedDefaultPartitioner(100)();
    let spread = new Set<number>();
    for (const partitions of [4, 7, 4, 12]) {
      spread = new Set();
      // 300 keys twice over, through a memo of 100: hits, misses and restarts of the memo.
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 300; i++) {
          const a = args('events', partitions, `INSTANCE:db/${i}`);
          const p = memoized(a);
          expect(p).toBe(reference(a));
          spread.add(p);
        }
      }
    }
    expect(spread.size).toBe(12); // not one constant answer
  });

  it('keeps an explicit partition and partitions unkeyed messages as DefaultPartitioner does', () => {
    const memoized = memoizedDefaultPartitioner()();
    expect(memoized(args('events', 4, 'INSTANCE:db/a', 3))).toBe(3);
    const unkeyed = new Set(Array.from({ length: 8 }, () => memoized(args('events', 4, null))));
    expect(unkeyed.size).toBeGreaterThan(1); // round robin, never remembered under a key
  });

  it('keeps a memo per topic', () => {
    const reference = Partitioners.DefaultPartitioner();
    const memoized = memoizedDefaultPartitioner()();
    for (const [topic, n] of [
      ['a', 3],
      ['b', 5],
    ] as const) {
      for (let i = 0; i < 50; i++) expect(memoized(args(topic, n, `k${i}`))).toBe(reference(args(topic, n, `k${i}`)));
    }
  });
});
