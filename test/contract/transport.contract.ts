import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConsumedBatch, Transport, TransportConsumer, TransportMessage } from '../../src/ports/transport.js';
import { randomId } from '../support/ids.js';
import { waitFor } from '../support/wait.js';

/** Gives each test a transport on its own, empty log (its own topic) and a cleanup. */
export type TransportFactory = () => Promise<{ transport: Transport; cleanup: () => Promise<void> }>;

export interface TransportContractOptions {
  /** Longest wait for a delivery (Kafka group joins and rebalances take seconds). @default 15_000 */
  waitMs?: number;
}

type Delivered = TransportMessage & { offset: string; partition: number };

/** Collects what a consumer was handed, in delivery order. */
class Recorder {
  readonly batches: ConsumedBatch[] = [];
  readonly handle = async (batch: ConsumedBatch): Promise<void> => {
    this.batches.push(batch);
  };
  get messages(): Delivered[] {
    return this.batches.flatMap((b) => b.messages.map((m) => ({ ...m, partition: b.partition })));
  }
  values(): Set<string> {
    return new Set(this.messages.map((m) => m.value));
  }
}

/** `count` messages over `keys` keys: key `<prefix>k<i>`, value `<key>#<n>` with n counting per key. */
function makeMessages(prefix: string, count: number, keys: number): TransportMessage[] {
  const next = new Map<string, number>();
  return Array.from({ length: count }, (_, i) => {
    const key = `${prefix}k${i % keys}`;
    const n = next.get(key) ?? 0;
    next.set(key, n + 1);
    return { key, value: `${key}#${n}` };
  });
}

const covers = (delivered: TransportMessage[], published: TransportMessage[]): boolean => {
  const values = new Set(delivered.map((m) => m.value));
  return published.every((m) => values.has(m.value));
};

const nOf = (value: string): number => Number(value.slice(value.lastIndexOf('#') + 1));

/** Per key, the order in which each message was first seen is the publish order, and nothing is missing. */
function expectPerKeyOrder(delivered: TransportMessage[], published: TransportMessage[]): void {
  const firstSeen = new Map<string, number[]>();
  const seen = new Set<string>();
  for (const m of delivered) {
    if (seen.has(m.value)) continue;
    seen.add(m.value);
    firstSeen.set(m.key, [...(firstSeen.get(m.key) ?? []), nOf(m.value)]);
  }
  const expected = new Map<string, number[]>();
  for (const m of published) expected.set(m.key, [...(expected.get(m.key) ?? []), nOf(m.value)]);
  expect(Object.fromEntries(firstSeen)).toEqual(Object.fromEntries(expected));
}

/**
 * The behaviour every Transport adapter must have (at-least-once delivery, order per key, consumer
 * groups with committed offsets, redelivery of failed batches).
 */
export function describeTransportContract(
  name: string,
  factory: TransportFactory,
  { waitMs = 15_000 }: TransportContractOptions = {},
): void {
  describe(`Transport contract: ${name}`, () => {
    let transport: Transport;
    let cleanup: () => Promise<void>;
    let consumers: TransportConsumer[];

    const consume = async (
      groupId: string,
      handle: (batch: ConsumedBatch) => Promise<void>,
      { fromBeginning = true, onError }: { fromBeginning?: boolean; onError?: (e: unknown) => void } = {},
    ): Promise<TransportConsumer> => {
      const consumer = await transport.consume({ groupId, fromBeginning, onError }, handle);
      consumers.push(consumer);
      return consumer;
    };
    const until = (check: () => boolean, what: string): Promise<true> =>
      waitFor(() => (check() ? true : undefined), { timeoutMs: waitMs, what });
    /** Every published message was delivered to (at least one of) the recorders. */
    const hasAll = (recorders: Recorder[], published: TransportMessage[]): boolean =>
      covers(
        recorders.flatMap((r) => r.messages),
        published,
      );

    beforeEach(async () => {
      ({ transport, cleanup } = await factory());
      consumers = [];
    });
    afterEach(async () => {
      await Promise.all(consumers.map((c) => c.stop()));
      await cleanup();
    });

    it('is reachable, and publishing nothing is a no-op', async () => {
      await transport.ping();
      await transport.publish([]);
    });

    it('delivers every message at least once, in order per key, each key in one partition', async () => {
      const recorder = new Recorder();
      await consume(randomId('g'), recorder.handle);
      const published = makeMessages('a', 180, 12);
      for (let i = 0; i < published.length; i += 60) await transport.publish(published.slice(i, i + 60));

      await until(() => hasAll([recorder], published), 'every message');
      expectPerKeyOrder(recorder.messages, published);
      const partitionOfKey = new Map<string, Set<number>>();
      for (const m of recorder.messages) {
        partitionOfKey.set(m.key, (partitionOfKey.get(m.key) ?? new Set()).add(m.partition));
      }
      for (const partitions of partitionOfKey.values()) expect(partitions.size).toBe(1);
      for (const batch of recorder.batches) {
        const offsets = batch.messages.map((m) => BigInt(m.offset));
        expect(offsets).toEqual([...offsets].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      }
    });

    it("carries a message's envelope kind when its publisher gives one", async () => {
      const recorder = new Recorder();
      await consume(randomId('g'), recorder.handle);
      const published: TransportMessage[] = [
        { key: 'k', value: 'c1', kind: 'command' },
        { key: 'k', value: 'd1', kind: 'domain' },
        { key: 'k', value: 'x1' },
      ];
      await transport.publish(published);
      await until(() => recorder.messages.length >= 3, 'three messages');
      expect(recorder.messages.slice(0, 3).map(({ value, kind }) => ({ value, kind }))).toEqual([
        { value: 'c1', kind: 'command' },
        { value: 'd1', kind: 'domain' },
        { value: 'x1', kind: undefined },
      ]);
    });

    it('starts a new group at the oldest message when fromBeginning, else at the end of the log', async () => {
      const old = makeMessages('old', 30, 6);
      await transport.publish(old);
      const fromStart = new Recorder();
      const fromEnd = new Recorder();
      await Promise.all([
        consume(randomId('g'), fromStart.handle, { fromBeginning: true }),
        consume(randomId('g'), fromEnd.handle, { fromBeginning: false }),
      ]);
      const fresh = makeMessages('new', 30, 6);
      await transport.publish(fresh);

      await until(() => hasAll([fromStart], [...old, ...fresh]), 'old and new messages (fromBeginning)');
      await until(() => hasAll([fromEnd], fresh), 'new messages (from the end)');
      expect(fromEnd.messages.filter((m) => m.key.startsWith('old'))).toEqual([]);
      expectPerKeyOrder(fromStart.messages, [...old, ...fresh]);
    });

    it('splits the partitions between the consumers of one group, losing nothing', async () => {
      const groupId = randomId('g');
      const a = new Recorder();
      const b = new Recorder();
      await consume(groupId, a.handle);
      await consume(groupId, b.handle);
      const published = makeMessages('s', 200, 40);
      await transport.publish(published);

      await until(() => hasAll([a, b], published), 'every message across both consumers');
      expect(a.messages.length).toBeGreaterThan(0);
      expect(b.messages.length).toBeGreaterThan(0);
      const partitionsOfA = new Set(a.batches.map((x) => x.partition));
      expect(b.batches.filter((x) => partitionsOfA.has(x.partition))).toEqual([]);
      expectPerKeyOrder([...a.messages, ...b.messages], published);
    });

    it('hands partitions over when a consumer joins or stops mid-stream, losing nothing, order kept', async () => {
      const groupId = randomId('g');
      const delivered: TransportMessage[] = [];
      const handle = async (batch: ConsumedBatch): Promise<void> => {
        delivered.push(...batch.messages);
      };
      const published = makeMessages('m', 600, 30);
      let sent = 0;
      const publishSome = async (): Promise<void> => {
        await transport.publish(published.slice(sent, sent + 50));
        sent += 50;
      };
      const first = await consume(groupId, handle);
      await publishSome();
      await publishSome();
      const second = await consume(groupId, handle);
      await publishSome();
      await publishSome();
      await until(() => covers(delivered, published.slice(0, sent)), 'the messages so far');
      const [stopped] = await Promise.all([
        first.stop(),
        (async () => {
          while (sent < 400) await publishSome();
        })(),
      ]);
      expect(stopped).toBeUndefined();
      await consume(groupId, handle);
      await second.stop();
      while (sent < published.length) await publishSome();

      await until(() => covers(delivered, published), 'every message');
      expectPerKeyOrder(delivered, published);
    });

    it('redelivers a batch whose handler never resolved to the next consumer of the group', async () => {
      const groupId = randomId('g');
      const attempted: string[] = [];
      const failing = await consume(
        groupId,
        async (batch) => {
          attempted.push(...batch.messages.map((m) => m.value));
          throw new Error('handler failure');
        },
        { onError: () => {} },
      );
      const published = makeMessages('r', 20, 4);
      await transport.publish(published);
      await until(() => attempted.length > 0, 'a first delivery attempt');
      await failing.stop();

      const next = new Recorder();
      await consume(groupId, next.handle);
      await until(() => hasAll([next], published), 'redelivery of every message');
      for (const value of attempted) expect(next.values()).toContain(value);
      expectPerKeyOrder(next.messages, published);
    });

    it('retries a batch whose handler throws, in place: not skipped, order per key kept', async () => {
      const published = makeMessages('p', 30, 3);
      const poison = published[15]!.value;
      let poisonDeliveries = 0;
      const errors: unknown[] = [];
      const handled: TransportMessage[] = [];
      await consume(
        randomId('g'),
        async (batch) => {
          if (batch.messages.some((m) => m.value === poison) && ++poisonDeliveries <= 2) {
            throw new Error('transient failure');
          }
          handled.push(...batch.messages);
        },
        { onError: (e) => errors.push(e) },
      );
      await transport.publish(published);

      await until(() => covers(handled, published), 'every message handled');
      expect(poisonDeliveries).toBeGreaterThanOrEqual(3);
      expect(errors.length).toBeGreaterThanOrEqual(2);
      expectPerKeyOrder(handled, published);
    });

    it('resumes a group from its committed offsets: handled batches are not redelivered', async () => {
      const groupId = randomId('g');
      const first = new Recorder();
      const firstConsumer = await consume(groupId, first.handle);
      const before = makeMessages('b', 20, 4);
      await transport.publish(before);
      await until(() => hasAll([first], before), 'the first messages');
      await firstConsumer.stop();
      await firstConsumer.stop(); // idempotent

      const after = makeMessages('c', 20, 4);
      await transport.publish(after);
      const second = new Recorder();
      await consume(groupId, second.handle);
      await until(() => hasAll([second], after), 'the later messages');
      expect(second.messages.filter((m) => m.key.startsWith('b'))).toEqual([]);
    });
  });
}
