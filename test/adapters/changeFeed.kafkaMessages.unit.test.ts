import { describe, expect, it } from 'vitest';
import { messagesOf } from '../../src/adapters/changeFeed/kafka.js';
import type { ChangeNotification } from '../../src/ports/changeFeed.js';
import { makeChange } from '../contract/changeFeed.contract.js';

const unpack = (messages: { value: string }[]): ChangeNotification[] =>
  messages.flatMap((m) => JSON.parse(m.value) as ChangeNotification[]);

describe('change feed messages (Kafka)', () => {
  const changes = Array.from({ length: 60 }, (_, i) => makeChange(`db/i${i % 7}`, i + 1));

  it('packs a publish into one message per partition when it fits', () => {
    const one = messagesOf(changes, 1, 1024 * 1024);
    expect(one).toHaveLength(1);
    expect(unpack(one)).toEqual(changes);
  });

  it('splits at the size cap, in order, a notification larger than the cap alone', () => {
    const size = Buffer.byteLength(JSON.stringify(changes[0]));
    const split = messagesOf(changes, 1, size * 10);
    expect(split.length).toBeGreaterThanOrEqual(6);
    for (const m of split) expect(Buffer.byteLength(m.value)).toBeLessThanOrEqual(size * 10 + 40);
    expect(unpack(split)).toEqual(changes);
    expect(messagesOf(changes.slice(0, 3), 1, 10)).toHaveLength(3);
  });

  it('sends an aggregate to the same partition every time, its changes in publish order', () => {
    const messages = messagesOf(changes, 4, 1024 * 1024);
    expect(new Set(messages.map((m) => m.partition)).size).toBeGreaterThan(1);
    const partitionOf = new Map<string, number>();
    for (const m of [...messages, ...messagesOf(changes.slice().reverse(), 4, 1024 * 1024)]) {
      for (const c of JSON.parse(m.value) as ChangeNotification[]) {
        expect(partitionOf.get(c.aggregateId) ?? m.partition).toBe(m.partition);
        partitionOf.set(c.aggregateId, m.partition);
      }
    }
    for (const m of messages) {
      const seqs = (JSON.parse(m.value) as ChangeNotification[]).map((c) => c.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    expect(unpack(messages).sort((a, b) => a.seq - b.seq)).toEqual(changes);
  });
});
