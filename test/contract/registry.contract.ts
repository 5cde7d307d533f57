import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClaimOutcome, ClaimRequest, ProcessedEventRegistry } from '../../src/ports/registry.js';
import { randomId } from '../support/ids.js';
import { waitFor } from '../support/wait.js';

export type RegistryFactory = () => Promise<{ store: ProcessedEventRegistry; cleanup: () => Promise<void> }>;

const LONG_LEASE_MS = 60_000;
const SHORT_LEASE_MS = 80;

const elapse = (ms: number): Promise<true> => {
  const from = Date.now();
  return waitFor(() => (Date.now() - from >= ms ? true : undefined), { intervalMs: 5, timeoutMs: ms + 5_000 });
};

const fenceOf = (outcome: ClaimOutcome | undefined): number => {
  if (outcome?.outcome !== 'claimed') throw new Error(`expected a claim, got ${JSON.stringify(outcome)}`);
  return outcome.fence;
};

/**
 * The ProcessedEventRegistry contract, run against every adapter. Each test uses its own random
 * handler, so a factory may hand out registries sharing one database.
 */
export function describeRegistryContract(name: string, factory: RegistryFactory): void {
  describe(`ProcessedEventRegistry contract: ${name}`, () => {
    let store: ProcessedEventRegistry;
    let cleanup: () => Promise<void>;
    let handler: string;

    const ev = (eventId: string, seq = 1, aggregateKey = 'INSTANCE:db/a'): ClaimRequest => ({
      eventId,
      aggregateKey,
      seq,
    });
    const claimOne = async (owner: string, request: ClaimRequest, leaseMs = LONG_LEASE_MS): Promise<ClaimOutcome> =>
      (await store.claim(handler, owner, leaseMs, [request]))[0]!;
    const done = async (request: ClaimRequest, fence: number): Promise<string[]> =>
      store.markDone(handler, [
        { eventId: request.eventId, fence, aggregateKey: request.aggregateKey, seq: request.seq },
      ]);

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      handler = randomId('h');
    });
    afterEach(async () => {
      await cleanup();
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('claims new events with fence 1, one outcome per event in request order', async () => {
      const outcomes = await store.claim(handler, 'w1', LONG_LEASE_MS, [ev('e2', 2), ev('e1', 1), ev('e3', 1, 'X')]);
      expect(outcomes).toEqual([
        { eventId: 'e2', outcome: 'claimed', fence: 1 },
        { eventId: 'e1', outcome: 'claimed', fence: 1 },
        { eventId: 'e3', outcome: 'claimed', fence: 1 },
      ]);
      expect(await store.claim(handler, 'w1', LONG_LEASE_MS, [])).toEqual([]);
    });

    it('answers busy while another owner holds the lease; the owner itself re-claims with a new fence', async () => {
      await claimOne('w1', ev('e1'));
      expect(await claimOne('w2', ev('e1'))).toEqual({ eventId: 'e1', outcome: 'busy' });
      expect(await claimOne('w1', ev('e1'))).toEqual({ eventId: 'e1', outcome: 'claimed', fence: 2 });
      expect(await done(ev('e1'), 1)).toEqual(['e1']);
    });

    it('gives a repeated event id within a batch the outcome of its first occurrence', async () => {
      const outcomes = await store.claim(handler, 'w1', LONG_LEASE_MS, [ev('e1'), ev('e2', 2), ev('e1')]);
      expect(outcomes).toEqual([
        { eventId: 'e1', outcome: 'claimed', fence: 1 },
        { eventId: 'e2', outcome: 'claimed', fence: 1 },
        { eventId: 'e1', outcome: 'claimed', fence: 1 },
      ]);
    });

    it('lets exactly one of two (or ten) racing owners claim an event', async () => {
      const two = await Promise.all(['w1', 'w2'].map((owner) => claimOne(owner, ev('e1'))));
      expect(two.filter((o) => o.outcome === 'claimed')).toHaveLength(1);
      expect(two.filter((o) => o.outcome === 'busy')).toHaveLength(1);

      const ten = await Promise.all(Array.from({ length: 10 }, (_, i) => claimOne(`o${i}`, ev('e2', 2))));
      expect(ten.filter((o) => o.outcome === 'claimed')).toHaveLength(1);
      expect(ten.filter((o) => o.outcome === 'busy')).toHaveLength(9);
    });

    it('claims each event once when owners race with overlapping batches in different orders', async () => {
      const events = Array.from({ length: 100 }, (_, i) => ev(`e${String(i).padStart(3, '0')}`, 1, `agg${i}`));
      const batches = [
        events,
        [...events].reverse(),
        events.filter((_, i) => i % 2 === 0),
        [...events].sort(() => 0.5 - Math.random()),
      ];
      const results = await Promise.all(batches.map((batch, i) => store.claim(handler, `w${i}`, LONG_LEASE_MS, batch)));
      const claimedBy = new Map<string, number>();
      for (const outcomes of results) {
        for (const o of outcomes) {
          expect(['claimed', 'busy']).toContain(o.outcome);
          if (o.outcome === 'claimed') claimedBy.set(o.eventId, (claimedBy.get(o.eventId) ?? 0) + 1);
        }
      }
      expect(claimedBy.size).toBe(100);
      expect([...claimedBy.values()].every((n) => n === 1)).toBe(true);
    });

    it('answers done for an applied event, whoever asks', async () => {
      const fence = fenceOf(await claimOne('w1', ev('e1')));
      expect(await done(ev('e1'), fence)).toEqual([]);
      expect(await claimOne('w1', ev('e1'))).toEqual({ eventId: 'e1', outcome: 'done' });
      expect(await claimOne('w2', ev('e1'))).toEqual({ eventId: 'e1', outcome: 'done' });
    });

    it('ignores events at or below the aggregate applied seq (stale)', async () => {
      const e5 = ev('e5', 5, 'A');
      await done(e5, fenceOf(await claimOne('w1', e5)));
      const outcomes = await store.claim(handler, 'w1', LONG_LEASE_MS, [
        ev('e3', 3, 'A'),
        ev('e5b', 5, 'A'),
        ev('e6', 6, 'A'),
        ev('b1', 1, 'B'),
      ]);
      expect(outcomes).toEqual([
        { eventId: 'e3', outcome: 'stale', lastSeq: 5 },
        { eventId: 'e5b', outcome: 'stale', lastSeq: 5 },
        { eventId: 'e6', outcome: 'claimed', fence: 1 },
        { eventId: 'b1', outcome: 'claimed', fence: 1 },
      ]);
    });

    it('advances the applied seq monotonically and reports only known aggregates', async () => {
      const [o7, o4] = await store.claim(handler, 'w1', LONG_LEASE_MS, [ev('e7', 7, 'A'), ev('e4', 4, 'A')]);
      expect(await done(ev('e7', 7, 'A'), fenceOf(o7))).toEqual([]);
      expect(await done(ev('e4', 4, 'A'), fenceOf(o4))).toEqual([]);
      const applied = await store.lastAppliedSeq(handler, ['A', 'never']);
      expect([...applied.entries()]).toEqual([['A', 7]]);
      expect((await store.lastAppliedSeq(handler, [])).size).toBe(0);
    });

    it('takes over an expired lease with a higher fence and refuses the old owner', async () => {
      const e1 = ev('e1', 3, 'A');
      const oldFence = fenceOf(await claimOne('w1', e1, SHORT_LEASE_MS));
      expect(await claimOne('w2', e1)).toEqual({ eventId: 'e1', outcome: 'busy' });
      const takeover = await waitFor(
        async () => {
          const o = await claimOne('w2', e1);
          return o.outcome === 'busy' ? undefined : o;
        },
        { timeoutMs: 5_000, intervalMs: 10, what: 'the lease to expire' },
      );
      const newFence = fenceOf(takeover);
      expect(newFence).toBeGreaterThan(oldFence);

      expect(await store.heartbeat(handler, 'w1', LONG_LEASE_MS, [{ eventId: 'e1', fence: oldFence }])).toEqual(['e1']);
      expect(await done(e1, oldFence)).toEqual(['e1']);
      expect(await store.markFailed(handler, { eventId: 'e1', fence: oldFence }, 'late', 1)).toBe('retry');
      expect(await store.lastAppliedSeq(handler, ['A'])).toEqual(new Map());

      expect(await store.heartbeat(handler, 'w2', LONG_LEASE_MS, [{ eventId: 'e1', fence: newFence }])).toEqual([]);
      expect(await done(e1, newFence)).toEqual([]);
      expect(await store.lastAppliedSeq(handler, ['A'])).toEqual(new Map([['A', 3]]));
    });

    it('extends a lease on heartbeat, even one that expired but was not taken over', async () => {
      const fence = fenceOf(await claimOne('w1', ev('e1'), 1));
      await elapse(10);
      expect(await store.heartbeat(handler, 'w1', LONG_LEASE_MS, [{ eventId: 'e1', fence }])).toEqual([]);
      expect(await claimOne('w2', ev('e1'))).toEqual({ eventId: 'e1', outcome: 'busy' });
    });

    it('reports lost leases on heartbeat: wrong owner, wrong fence, unknown, done', async () => {
      const [a, b, c] = await store.claim(handler, 'w1', LONG_LEASE_MS, [
        ev('a', 1, 'A'),
        ev('b', 1, 'B'),
        ev('c', 1, 'C'),
      ]);
      await done(ev('c', 1, 'C'), fenceOf(c));
      const lost = await store.heartbeat(handler, 'w1', LONG_LEASE_MS, [
        { eventId: 'a', fence: fenceOf(a) },
        { eventId: 'b', fence: fenceOf(b) + 1 },
        { eventId: 'c', fence: fenceOf(c) },
        { eventId: 'zz', fence: 1 },
      ]);
      expect(lost.sort()).toEqual(['b', 'c', 'zz']);
      expect(await store.heartbeat(handler, 'w2', LONG_LEASE_MS, [{ eventId: 'a', fence: fenceOf(a) }])).toEqual(['a']);
    });

    it('marks a batch done, refusing only the stale claims, and accepts a repeat', async () => {
      const outcomes = await store.claim(handler, 'w1', LONG_LEASE_MS, [
        ev('a', 1, 'A'),
        ev('b', 2, 'A'),
        ev('c', 1, 'C'),
      ]);
      const claims = [
        { eventId: 'a', fence: fenceOf(outcomes[0]), aggregateKey: 'A', seq: 1 },
        { eventId: 'b', fence: fenceOf(outcomes[1]) + 7, aggregateKey: 'A', seq: 2 },
        { eventId: 'c', fence: fenceOf(outcomes[2]), aggregateKey: 'C', seq: 1 },
        { eventId: 'unknown', fence: 1, aggregateKey: 'U', seq: 9 },
      ];
      expect((await store.markDone(handler, claims)).sort()).toEqual(['b', 'unknown']);
      expect(await store.lastAppliedSeq(handler, ['A', 'C', 'U'])).toEqual(
        new Map([
          ['A', 1],
          ['C', 1],
        ]),
      );
      expect(await store.markDone(handler, [claims[0]!])).toEqual([]);
      expect(await store.markDone(handler, [])).toEqual([]);
    });

    it('retries failures, then parks after maxAttempts, and unparks for replay', async () => {
      const e1 = ev('e1', 4, 'A');
      const f1 = fenceOf(await claimOne('w1', e1));
      expect(await store.markFailed(handler, { eventId: 'e1', fence: f1 }, 'boom 1', 3)).toBe('retry');
      expect(await store.heartbeat(handler, 'w1', LONG_LEASE_MS, [{ eventId: 'e1', fence: f1 }])).toEqual(['e1']);
      // The lease was released: another owner retries at once.
      const f2 = fenceOf(await claimOne('w2', e1));
      expect(f2).toBeGreaterThan(f1);
      expect(await store.markFailed(handler, { eventId: 'e1', fence: f2 }, 'boom 2', 3)).toBe('retry');
      const f3 = fenceOf(await claimOne('w1', e1));
      expect(await store.parked(handler, 10)).toEqual([]);
      expect(await store.markFailed(handler, { eventId: 'e1', fence: f3 }, 'boom 3', 3)).toBe('parked');

      expect(await claimOne('w1', e1)).toEqual({ eventId: 'e1', outcome: 'parked' });
      expect(await store.markFailed(handler, { eventId: 'e1', fence: f3 }, 'again', 3)).toBe('parked');
      expect(await store.parked(handler, 10)).toEqual([{ eventId: 'e1', aggregateKey: 'A', seq: 4, error: 'boom 3' }]);
      expect(await store.lastAppliedSeq(handler, ['A'])).toEqual(new Map());

      await store.unpark(handler, 'e1');
      expect(await store.parked(handler, 10)).toEqual([]);
      const again = await claimOne('w1', e1);
      expect(again.outcome).toBe('claimed');
      expect(await store.markFailed(handler, { eventId: 'e1', fence: fenceOf(again) }, 'boom 4', 2)).toBe('retry');
    });

    it('parks at once with maxAttempts 1 and lists parked events oldest first, up to the limit', async () => {
      for (const id of ['p1', 'p2', 'p3']) {
        const fence = fenceOf(await claimOne('w1', ev(id, 1, id)));
        expect(await store.markFailed(handler, { eventId: id, fence }, `err ${id}`, 1)).toBe('parked');
        await elapse(5);
      }
      expect((await store.parked(handler, 2)).map((p) => p.eventId)).toEqual(['p1', 'p2']);
      await store.unpark(handler, 'p1');
      await store.unpark(handler, 'not-parked');
      expect((await store.parked(handler, 10)).map((p) => p.eventId)).toEqual(['p2', 'p3']);
    });

    it('does not count a failure reported with a stale fence', async () => {
      const e1 = ev('e1');
      const f1 = fenceOf(await claimOne('w1', e1));
      const f2 = fenceOf(await claimOne('w1', e1));
      expect(await store.markFailed(handler, { eventId: 'e1', fence: f1 }, 'stale', 1)).toBe('retry');
      expect(await store.parked(handler, 10)).toEqual([]);
      expect(await done(e1, f2)).toEqual([]);
    });

    it('keeps handlers apart', async () => {
      const other = `${handler}-other`;
      const e1 = ev('e1', 1, 'A');
      await done(e1, fenceOf(await claimOne('w1', e1)));
      expect(await store.claim(other, 'w1', LONG_LEASE_MS, [e1])).toEqual([
        { eventId: 'e1', outcome: 'claimed', fence: 1 },
      ]);
      expect(await store.lastAppliedSeq(other, ['A'])).toEqual(new Map());
    });

    it('purges old done records only, and a purged event still claims as stale', async () => {
      const old = ev('old', 1, 'A');
      await done(old, fenceOf(await claimOne('w1', old)));
      const parkedFence = fenceOf(await claimOne('w1', ev('parked', 1, 'P')));
      await store.markFailed(handler, { eventId: 'parked', fence: parkedFence }, 'x', 1);
      await claimOne('w1', ev('working', 1, 'W'));
      await elapse(400);
      const recent = ev('recent', 1, 'R');
      await done(recent, fenceOf(await claimOne('w1', recent)));

      expect(await store.purge(handler, 250)).toBe(1);
      expect(await store.purge(handler, 250)).toBe(0);
      expect(await claimOne('w2', old)).toEqual({ eventId: 'old', outcome: 'stale', lastSeq: 1 });
      expect(await claimOne('w2', recent)).toEqual({ eventId: 'recent', outcome: 'done' });
      expect(await claimOne('w2', ev('parked', 1, 'P'))).toEqual({ eventId: 'parked', outcome: 'parked' });
      expect(await claimOne('w2', ev('working', 1, 'W'))).toEqual({ eventId: 'working', outcome: 'busy' });
      expect(await store.lastAppliedSeq(handler, ['A', 'R'])).toEqual(
        new Map([
          ['A', 1],
          ['R', 1],
        ]),
      );
    });

    it('handles a batch of 500 events per call', async () => {
      const events = Array.from({ length: 500 }, (_, i) => ev(`e${i}`, (i % 50) + 1, `agg${Math.floor(i / 50)}`));
      const outcomes = await store.claim(handler, 'w1', LONG_LEASE_MS, events);
      expect(outcomes.every((o) => o.outcome === 'claimed')).toBe(true);
      const claims = outcomes.map((o, i) => ({
        eventId: o.eventId,
        fence: fenceOf(o),
        aggregateKey: events[i]!.aggregateKey,
        seq: events[i]!.seq,
      }));
      expect(await store.heartbeat(handler, 'w1', LONG_LEASE_MS, claims)).toEqual([]);
      expect(await store.markDone(handler, claims)).toEqual([]);
      const applied = await store.lastAppliedSeq(
        handler,
        Array.from({ length: 10 }, (_, i) => `agg${i}`),
      );
      expect(applied.size).toBe(10);
      expect([...applied.values()].every((seq) => seq === 50)).toBe(true);
    });
  });
}
