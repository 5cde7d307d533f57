import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangeFeed, ChangeNotification } from '../../src/ports/changeFeed.js';
import { randomId } from '../support/ids.js';
import { waitFor } from '../support/wait.js';

/** Gives each test a feed of its own (its own topic) and a cleanup. */
export type ChangeFeedFactory = () => Promise<{ feed: ChangeFeed; cleanup: () => Promise<void> }>;

export interface ChangeFeedContractOptions {
  /** Longest wait for a delivery. @default 15_000 */
  waitMs?: number;
}

/** A notification as the projector emits it, with a realistic projected doc. */
export function makeChange(aggregateId: string, seq: number, deleted = false): ChangeNotification {
  const [database = aggregateId, id = aggregateId] = aggregateId.split('/');
  return {
    aggregateType: 'INSTANCE',
    aggregateId,
    seq,
    eventType: deleted ? 'InstanceDeleted' : 'InstanceUpdated',
    eventId: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    doc: {
      aggregateType: 'INSTANCE',
      aggregateId,
      database,
      id,
      classId: 'Person',
      seq,
      deleted,
      createdAt: '2024-01-01T00:00:00.000Z',
      updatedAt: new Date(Date.UTC(2024, 0, 1, 0, 0, seq)).toISOString(),
      data: { properties: { name: `naïve ✓ "${id}"`, n: seq, tags: ['a', null, 2.5, true] } },
    },
  };
}

/** Collects what one subscription was handed. */
class Inbox {
  readonly deliveries: ChangeNotification[][] = [];
  readonly listener = (changes: ChangeNotification[]): void => {
    this.deliveries.push(changes);
  };
  get changes(): ChangeNotification[] {
    return this.deliveries.flat();
  }
  has(aggregateId: string, seq: number): boolean {
    return this.changes.some((c) => c.aggregateId === aggregateId && c.seq === seq);
  }
  seqsOf(aggregateId: string): number[] {
    return this.changes.filter((c) => c.aggregateId === aggregateId).map((c) => c.seq);
  }
}

/** The behaviour every ChangeFeed adapter must have: a broadcast to every live subscription. */
export function describeChangeFeedContract(
  name: string,
  factory: ChangeFeedFactory,
  { waitMs = 15_000 }: ChangeFeedContractOptions = {},
): void {
  describe(`ChangeFeed contract: ${name}`, () => {
    let feed: ChangeFeed;
    let cleanup: () => Promise<void>;
    let unsubscribes: (() => Promise<void>)[];

    const subscribe = async (inbox: Inbox): Promise<() => Promise<void>> => {
      const unsubscribe = await feed.subscribe(inbox.listener);
      unsubscribes.push(unsubscribe);
      return unsubscribe;
    };
    const until = (check: () => boolean, what: string): Promise<true> =>
      waitFor(() => (check() ? true : undefined), { timeoutMs: waitMs, what });

    beforeEach(async () => {
      ({ feed, cleanup } = await factory());
      unsubscribes = [];
    });
    afterEach(async () => {
      await Promise.all(unsubscribes.map((u) => u()));
      await cleanup();
    });

    it('delivers every change to every subscriber, in publish order per aggregate, intact', async () => {
      const [a, b] = [new Inbox(), new Inbox()];
      await Promise.all([subscribe(a), subscribe(b)]);
      const ids = ['db/x', 'db/y', 'db/z'].map((id) => `${randomId('d')}/${id.slice(3)}`);
      const all = [1, 2, 3, 4, 5].flatMap((seq) => ids.map((id) => makeChange(id, seq, seq === 5)));
      await feed.publish([]);
      for (let i = 0; i < all.length; i += 4) await feed.publish(all.slice(i, i + 4));

      for (const inbox of [a, b]) {
        await until(() => ids.every((id) => inbox.has(id, 5)), 'the last change of every aggregate');
        for (const id of ids) expect(inbox.seqsOf(id)).toEqual([1, 2, 3, 4, 5]);
        expect(inbox.changes.find((c) => c.aggregateId === ids[0] && c.seq === 5)).toEqual(all[12]);
      }
    });

    it('delivers a change published right after subscribe() resolved, never one published before', async () => {
      for (let round = 0; round < 3; round++) {
        const id = `${randomId('d')}/i`;
        await feed.publish([makeChange(id, 1)]);
        const inbox = new Inbox();
        const unsubscribe = await subscribe(inbox);
        await feed.publish([makeChange(id, 2)]);
        await until(() => inbox.has(id, 2), `the change published after subscribing (round ${round})`);
        expect(inbox.seqsOf(id)).toEqual([2]);
        await unsubscribe();
      }
    });

    it('stops delivering to a subscription once its unsubscribe resolved; others carry on', async () => {
      const [a, b] = [new Inbox(), new Inbox()];
      const [unsubscribeA] = await Promise.all([subscribe(a), subscribe(b)]);
      const id = `${randomId('d')}/i`;
      await feed.publish([makeChange(id, 1)]);
      await until(() => a.has(id, 1) && b.has(id, 1), 'the first change on both');

      await unsubscribeA();
      await unsubscribeA(); // idempotent
      await feed.publish([makeChange(id, 2)]);
      await feed.publish([makeChange(id, 3)]);
      await until(() => b.has(id, 3), 'the later changes on the remaining subscriber');
      expect(a.seqsOf(id)).toEqual([1]);
      expect(b.seqsOf(id)).toEqual([1, 2, 3]);
    });

    it('keeps delivering to a listener that threw, and to the others', async () => {
      const id = `${randomId('d')}/i`;
      const calm = new Inbox();
      const seen: number[] = [];
      await subscribe(calm);
      unsubscribes.push(
        await feed.subscribe((changes) => {
          seen.push(...changes.map((c) => c.seq));
          throw new Error('listener bug');
        }),
      );
      await feed.publish([makeChange(id, 1)]);
      await until(() => seen.includes(1), 'the first change');
      await feed.publish([makeChange(id, 2)]);
      await until(() => seen.includes(2) && calm.has(id, 2), 'the second change on both');
      expect(calm.seqsOf(id)).toEqual([1, 2]);
    });
  });
}
