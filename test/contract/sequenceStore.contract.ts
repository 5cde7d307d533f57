import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  LedgerEntry,
  ReservationRequest,
  ReservationResult,
  SequenceStore,
} from '../../src/ports/sequenceStore.js';
import { randomId } from '../support/ids.js';

export type SequenceStoreFactory = () => Promise<{ store: SequenceStore; cleanup: () => Promise<void> }>;

/**
 * The SequenceStore contract, run against every adapter. Each test uses its own random key prefix,
 * so a factory may hand out stores sharing one database.
 */
export function describeSequenceStoreContract(name: string, factory: SequenceStoreFactory): void {
  describe(`SequenceStore contract: ${name}`, () => {
    let store: SequenceStore;
    let cleanup: () => Promise<void>;
    let prefix: string;
    const k = (s: string): string => `${prefix}${s}`;

    const request = (key: string, overrides: Partial<ReservationRequest> = {}): ReservationRequest => ({
      key,
      expectedSeq: 0,
      nextSeq: 1,
      liveAfter: true,
      parent: null,
      requireLive: [],
      forbidLiveChildren: false,
      ...overrides,
    });
    const createLive = async (key: string, parent: string | null = null, requireLive: string[] = []): Promise<void> => {
      expect(await store.reserve(request(key, { parent, requireLive }))).toMatchObject({ ok: true });
    };

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      prefix = `${randomId('k')}/`;
    });
    afterEach(async () => {
      await cleanup();
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('reads an unknown key as null', async () => {
      expect(await store.get(k('nothing'))).toBeNull();
    });

    it('reserves a create and records the row', async () => {
      const before = Date.now();
      await createLive(k('db'));
      const entry = await store.get(k('db'));
      expect(entry).toMatchObject({ key: k('db'), seq: 1, live: true, parent: null, confirmedSeq: 0 });
      expect(entry!.reservedAt).toBeGreaterThanOrEqual(before - 1_000);
      expect(entry!.reservedAt).toBeLessThanOrEqual(Date.now() + 1_000);
    });

    it('moves seq by the number of events and keeps confirmedSeq', async () => {
      await createLive(k('a'));
      await store.confirm(k('a'), 1);
      expect(await store.reserve(request(k('a'), { expectedSeq: 1, nextSeq: 4 }))).toMatchObject({ ok: true });
      expect(await store.get(k('a'))).toMatchObject({ seq: 4, live: true, confirmedSeq: 1 });
    });

    it('answers conflict with the current entry on a stale expectedSeq', async () => {
      await createLive(k('a'));
      await store.reserve(request(k('a'), { expectedSeq: 1, nextSeq: 2 }));
      const result = await store.reserve(request(k('a'), { expectedSeq: 1, nextSeq: 2, liveAfter: false }));
      expect(result).toMatchObject({ ok: false, reason: 'conflict', entry: { key: k('a'), seq: 2, live: true } });
      expect(await store.get(k('a'))).toMatchObject({ seq: 2, live: true });
    });

    it('answers conflict on a create of an existing key, and on an update of an absent one (seq 0)', async () => {
      await createLive(k('a'));
      expect(await store.reserve(request(k('a')))).toMatchObject({ ok: false, reason: 'conflict', entry: { seq: 1 } });
      const absent = await store.reserve(request(k('b'), { expectedSeq: 3, nextSeq: 4 }));
      expect(absent).toEqual({
        ok: false,
        reason: 'conflict',
        entry: { key: k('b'), seq: 0, live: false, parent: null, confirmedSeq: 0, reservedAt: 0 },
      });
      expect(await store.get(k('b'))).toBeNull();
    });

    it('continues the seq after a tombstone (delete, then re-create)', async () => {
      await createLive(k('a'));
      expect(await store.reserve(request(k('a'), { expectedSeq: 1, nextSeq: 2, liveAfter: false }))).toMatchObject({
        ok: true,
      });
      expect(await store.get(k('a'))).toMatchObject({ seq: 2, live: false });
      expect(await store.reserve(request(k('a'), { expectedSeq: 2, nextSeq: 3 }))).toMatchObject({ ok: true });
      expect(await store.get(k('a'))).toMatchObject({ seq: 3, live: true });
    });

    it('requires every requireLive key to exist and be live, reporting the first that is not', async () => {
      await createLive(k('db'));
      await createLive(k('dead'));
      await store.reserve(request(k('dead'), { expectedSeq: 1, nextSeq: 2, liveAfter: false }));

      const missing = await store.reserve(request(k('i1'), { requireLive: [k('db'), k('missing'), k('dead')] }));
      expect(missing).toEqual({ ok: false, reason: 'not_live', key: k('missing') });
      const dead = await store.reserve(request(k('i1'), { requireLive: [k('db'), k('dead')] }));
      expect(dead).toEqual({ ok: false, reason: 'not_live', key: k('dead') });
      expect(await store.get(k('i1'))).toBeNull();

      expect(await store.reserve(request(k('i1'), { parent: k('db'), requireLive: [k('db')] }))).toMatchObject({
        ok: true,
      });
      expect(await store.get(k('i1'))).toMatchObject({ seq: 1, live: true, parent: k('db') });
    });

    it('forbids live children, counting only live rows of that parent', async () => {
      await createLive(k('p'));
      await createLive(k('other'));
      await createLive(k('p/c1'), k('p'));
      await createLive(k('p/c2'), k('p'));
      await createLive(k('p/c3'), k('p'));
      await createLive(k('other/c'), k('other'));
      await store.reserve(request(k('p/c3'), { expectedSeq: 1, nextSeq: 2, liveAfter: false, parent: k('p') }));

      const del = request(k('p'), { expectedSeq: 1, nextSeq: 2, liveAfter: false, forbidLiveChildren: true });
      expect(await store.reserve(del)).toEqual({ ok: false, reason: 'has_live_children', count: 2 });
      expect(await store.get(k('p'))).toMatchObject({ seq: 1, live: true });

      for (const child of ['p/c1', 'p/c2']) {
        await store.reserve(request(k(child), { expectedSeq: 1, nextSeq: 2, liveAfter: false, parent: k('p') }));
      }
      expect(await store.reserve(del)).toMatchObject({ ok: true });
      expect(await store.get(k('p'))).toMatchObject({ seq: 2, live: false });
    });

    it('checks guards in order: conflict, then not_live, then has_live_children', async () => {
      await createLive(k('p'));
      await createLive(k('p/c'), k('p'));
      const base = { requireLive: [k('missing')], forbidLiveChildren: true, liveAfter: false };
      expect(await store.reserve(request(k('p'), { ...base, expectedSeq: 5, nextSeq: 6 }))).toMatchObject({
        reason: 'conflict',
      });
      expect(await store.reserve(request(k('p'), { ...base, expectedSeq: 1, nextSeq: 2 }))).toEqual({
        ok: false,
        reason: 'not_live',
        key: k('missing'),
      });
      await createLive(k('missing'));
      expect(await store.reserve(request(k('p'), { ...base, expectedSeq: 1, nextSeq: 2 }))).toEqual({
        ok: false,
        reason: 'has_live_children',
        count: 1,
      });
    });

    it('answers the reservation time, non-decreasing for reserves made one after the other', async () => {
      const times: number[] = [];
      for (let seq = 0; seq < 5; seq++) {
        const r = await store.reserve(request(k('t'), { expectedSeq: seq, nextSeq: seq + 1 }));
        if (!r.ok) throw new Error(`reserve ${seq} refused: ${r.reason}`);
        times.push(r.reservedAt);
      }
      expect(times[0]).toBeGreaterThan(Date.UTC(2020, 0, 1));
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect((await store.get(k('t')))?.reservedAt).toBe(times[4]);
    });

    it('requires every requireVersion key to be at its seq, reporting the first stale one with its row', async () => {
      await createLive(k('cls'));
      await store.reserve(request(k('cls'), { expectedSeq: 1, nextSeq: 2 }));
      const stale = await store.reserve(
        request(k('i'), { parent: k('cls'), requireVersion: [{ key: k('cls'), seq: 1 }] }),
      );
      expect(stale).toMatchObject({ ok: false, reason: 'stale_version', key: k('cls'), entry: { seq: 2, live: true } });
      expect(await store.get(k('i'))).toBeNull();
      const absent = await store.reserve(request(k('i'), { requireVersion: [{ key: k('nothing'), seq: 0 }] }));
      expect(absent).toMatchObject({ ok: true });
      const current = await store.reserve(
        request(k('j'), { requireLive: [k('cls')], requireVersion: [{ key: k('cls'), seq: 2 }] }),
      );
      expect(current).toMatchObject({ ok: true });
    });

    it('checks not_live before stale_version, and stale_version before has_live_children', async () => {
      await createLive(k('p'));
      await createLive(k('p/c'), k('p'));
      await createLive(k('v'));
      const base = { expectedSeq: 1, nextSeq: 2, forbidLiveChildren: true, requireVersion: [{ key: k('v'), seq: 7 }] };
      expect(await store.reserve(request(k('p'), { ...base, requireLive: [k('missing')] }))).toMatchObject({
        reason: 'not_live',
      });
      expect(await store.reserve(request(k('p'), base))).toMatchObject({ reason: 'stale_version', key: k('v') });
      expect(await store.reserve(request(k('p'), { ...base, requireVersion: [{ key: k('v'), seq: 1 }] }))).toEqual({
        ok: false,
        reason: 'has_live_children',
        count: 1,
      });
    });

    it('never lets a write validated against a version commit after that version moved on', async () => {
      for (let round = 0; round < 8; round++) {
        const cls = k(`v${round}`);
        await createLive(cls);
        const children = Array.from({ length: 6 }, (_, i) => `${cls}/i${i}`);
        const createChild = (key: string): Promise<ReservationResult> =>
          store.reserve(request(key, { parent: cls, requireLive: [cls], requireVersion: [{ key: cls, seq: 1 }] }));
        const changeClass = (): Promise<ReservationResult> =>
          store.reserve(request(cls, { expectedSeq: 1, nextSeq: 2, forbidLiveChildren: true }));
        const at = round % (children.length + 1);
        const ops = children.map((c) => () => createChild(c));
        ops.splice(at, 0, changeClass);
        const results = await Promise.all(ops.map((op) => op()));
        const changed = results[at]!;
        const created = results.filter((r, i) => i !== at && r.ok).length;
        // Either the change came first (every child saw a stale version) or a child did (the change saw it).
        if (changed.ok) expect(created).toBe(0);
        else expect(created).toBeGreaterThan(0);
      }
    });

    it('lists live children in key order, up to the limit', async () => {
      await createLive(k('p'));
      for (const c of ['c3', 'c1', 'c4', 'c2']) await createLive(k(`p/${c}`), k('p'));
      await store.reserve(request(k('p/c2'), { expectedSeq: 1, nextSeq: 2, liveAfter: false, parent: k('p') }));
      const all = await store.liveChildren(k('p'), 10);
      expect(all.map((e) => e.key)).toEqual([k('p/c1'), k('p/c3'), k('p/c4')]);
      expect(all[0]).toMatchObject({ seq: 1, live: true, parent: k('p') });
      expect((await store.liveChildren(k('p'), 2)).map((e) => e.key)).toEqual([k('p/c1'), k('p/c3')]);
      expect(await store.liveChildren(k('nobody'), 10)).toEqual([]);
    });

    it('pages through every row in byte order of the key', async () => {
      const names = ['b', 'a/x', 'a', 'B', 'a-1', 'c', 'é'];
      for (const n of names) await createLive(k(n));
      await store.confirm(k('c'), 1);
      const read: LedgerEntry[] = [];
      // Other tests' keys may sort among ours: page from our prefix, keep ours, stop past them.
      for (let after: string | null = prefix; ; ) {
        const page = await store.entries(after, 2);
        expect(page.length).toBeLessThanOrEqual(2);
        read.push(...page.filter((e) => e.key.startsWith(prefix)));
        if (page.length < 2 || !page[page.length - 1]!.key.startsWith(prefix)) break;
        after = page[page.length - 1]!.key;
      }
      const bytewise = names.map(k).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      expect(read.map((e) => e.key)).toEqual(bytewise);
      expect(read.find((e) => e.key === k('c'))).toMatchObject({ seq: 1, live: true, confirmedSeq: 1 });
      const first = await store.entries(null, 1);
      expect(first).toHaveLength(1);
      expect(await store.entries(first[0]!.key, 1)).not.toEqual(first);
    });

    describe('unconfirmed', () => {
      /** A cut-off after every reservation of the run, whatever the store's clock. */
      const FAR = Date.UTC(3000, 0, 1);
      /** More than a shared database holds: listings are then complete, and filtered to this test's keys. */
      const ALL = 100_000;
      const mine = (entries: LedgerEntry[]): LedgerEntry[] => entries.filter((e) => e.key.startsWith(prefix));
      const reservedAt = async (key: string): Promise<number> => (await store.get(key))!.reservedAt;
      const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

      it('lists nothing on a store without reservations of its own', async () => {
        // The factory may share a database between tests: only this test's keys are its own.
        expect(mine(await store.unconfirmed(FAR, ALL))).toEqual([]);
        // Every reservation is after the epoch.
        expect(await store.unconfirmed(0, ALL)).toEqual([]);
      });

      it('lists a reservation not confirmed only when the cut-off is after its reservedAt', async () => {
        await createLive(k('a'));
        const entry = (await store.get(k('a')))!;
        expect(mine(await store.unconfirmed(entry.reservedAt + 1, ALL))).toEqual([entry]);
        expect(entry).toMatchObject({ seq: 1, confirmedSeq: 0 });
        expect(mine(await store.unconfirmed(entry.reservedAt, ALL))).toEqual([]);
        expect(mine(await store.unconfirmed(entry.reservedAt - 1, ALL))).toEqual([]);
      });

      it('leaves out a row once its seq is confirmed, and lists it again at its next reservation', async () => {
        await createLive(k('a'));
        await store.confirm(k('a'), 1);
        expect(mine(await store.unconfirmed(FAR, ALL))).toEqual([]);
        expect(await store.reserve(request(k('a'), { expectedSeq: 1, nextSeq: 3 }))).toMatchObject({ ok: true });
        expect(mine(await store.unconfirmed(FAR, ALL))).toEqual([(await store.get(k('a')))!]);
        // Confirmed short of the reserved seq: still in flight.
        await store.confirm(k('a'), 2);
        expect(mine(await store.unconfirmed(FAR, ALL))).toMatchObject([{ key: k('a'), seq: 3, confirmedSeq: 2 }]);
        await store.confirm(k('a'), 3);
        expect(mine(await store.unconfirmed(FAR, ALL))).toEqual([]);
      });

      it('leaves out a row rolled back to its confirmed seq', async () => {
        await createLive(k('a'));
        await store.confirm(k('a'), 1);
        await store.reserve(request(k('a'), { expectedSeq: 1, nextSeq: 2, liveAfter: false }));
        await createLive(k('burned'));
        expect(mine(await store.unconfirmed(FAR, ALL)).map((e) => e.key)).toEqual([k('a'), k('burned')]);
        expect(await store.rollback(k('a'), 2, { seq: 1, live: true })).toBe(true);
        expect(mine(await store.unconfirmed(FAR, ALL)).map((e) => e.key)).toEqual([k('burned')]);
        expect(await store.rollback(k('burned'), 1, { seq: 0, live: false })).toBe(true);
        expect(mine(await store.unconfirmed(FAR, ALL))).toEqual([]);
      });

      it('lists the oldest reservation first, up to the limit', async () => {
        // Reserved in reverse key order, each in a later millisecond: the order is the reservations'.
        const keys = [k('c'), k('b'), k('a')];
        const times: number[] = [];
        for (const key of keys) {
          await createLive(key);
          times.push(await reservedAt(key));
          await sleep(5);
        }
        expect(times[0]).toBeLessThan(times[1]!);
        expect(times[1]).toBeLessThan(times[2]!);

        const cutoff = times[2]! + 1;
        const all = await store.unconfirmed(cutoff, ALL);
        expect(mine(all).map((e) => e.key)).toEqual(keys);
        expect(all.map((e) => e.reservedAt)).toEqual(all.map((e) => e.reservedAt).sort((a, b) => a - b));
        expect(mine(await store.unconfirmed(times[2]!, ALL)).map((e) => e.key)).toEqual(keys.slice(0, 2));

        const two = await store.unconfirmed(cutoff, 2);
        expect(two).toHaveLength(2);
        expect(two).toEqual(all.slice(0, 2));
        expect(await store.unconfirmed(cutoff, 0)).toEqual([]);
      });
    });

    it('confirms monotonically', async () => {
      await createLive(k('a'));
      await store.reserve(request(k('a'), { expectedSeq: 1, nextSeq: 3 }));
      await store.confirm(k('a'), 2);
      await store.confirm(k('a'), 1);
      expect(await store.get(k('a'))).toMatchObject({ seq: 3, confirmedSeq: 2 });
      await store.confirm(k('a'), 3);
      await store.confirm(k('a'), 3);
      expect(await store.get(k('a'))).toMatchObject({ confirmedSeq: 3 });
      await store.confirm(k('absent'), 4);
      expect(await store.get(k('absent'))).toBeNull();
    });

    it('rolls back only from the expected seq', async () => {
      await createLive(k('a'));
      await store.confirm(k('a'), 1);
      await store.reserve(request(k('a'), { expectedSeq: 1, nextSeq: 2, liveAfter: false }));
      expect(await store.rollback(k('a'), 3, { seq: 1, live: true })).toBe(false);
      expect(await store.get(k('a'))).toMatchObject({ seq: 2, live: false });
      expect(await store.rollback(k('a'), 2, { seq: 1, live: true })).toBe(true);
      expect(await store.get(k('a'))).toMatchObject({ seq: 1, live: true, confirmedSeq: 1 });
      expect(await store.rollback(k('a'), 2, { seq: 1, live: true })).toBe(false);
      expect(await store.reserve(request(k('a'), { expectedSeq: 1, nextSeq: 2 }))).toMatchObject({ ok: true });
      expect(await store.rollback(k('absent'), 0, { seq: 0, live: false })).toBe(false);
    });

    it('rolls a burned create back to nothing live, so the create can be retried', async () => {
      await createLive(k('p'));
      await createLive(k('p/c'), k('p'));
      expect(await store.rollback(k('p/c'), 1, { seq: 0, live: false })).toBe(true);
      expect(await store.get(k('p/c'))).toMatchObject({ seq: 0, live: false, confirmedSeq: 0 });
      expect(await store.liveChildren(k('p'), 10)).toEqual([]);
      expect(await store.reserve(request(k('p/c'), { parent: k('p') }))).toMatchObject({ ok: true });
    });

    it('lets exactly one of 20 concurrent creates succeed', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, () => store.reserve(request(k('race')))));
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok && r.reason === 'conflict')).toHaveLength(19);
      expect(await store.get(k('race'))).toMatchObject({ seq: 1 });
    });

    it('lets exactly one of 20 concurrent updates with one expectedSeq succeed', async () => {
      await createLive(k('race'));
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.reserve(request(k('race'), { expectedSeq: 1, nextSeq: 2 + (i % 3) })),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      const seq = (await store.get(k('race')))!.seq;
      expect([2, 3, 4]).toContain(seq);
    });

    it('loses no update under concurrent read-modify-reserve loops', async () => {
      await createLive(k('counter'));
      const workers = 8;
      const perWorker = 5;
      const worker = async (): Promise<number> => {
        let wins = 0;
        let conflicts = 0;
        while (wins < perWorker) {
          const seq = (await store.get(k('counter')))!.seq;
          const result = await store.reserve(request(k('counter'), { expectedSeq: seq, nextSeq: seq + 1 }));
          if (result.ok) wins++;
          else if (++conflicts > 10_000) throw new Error('livelock');
        }
        return wins;
      };
      await Promise.all(Array.from({ length: workers }, worker));
      expect((await store.get(k('counter')))!.seq).toBe(1 + workers * perWorker);
    });

    it('decides reservations issued together as if one after the other, in the order issued', async () => {
      const results = await Promise.all([
        store.reserve(request(k('a'))),
        store.reserve(request(k('a'), { expectedSeq: 1, nextSeq: 2 })),
        store.reserve(request(k('a'))),
        store.reserve(request(k('a/child'), { parent: k('a'), requireLive: [k('a')] })),
        store.reserve(request(k('a'), { expectedSeq: 2, nextSeq: 3, liveAfter: false, forbidLiveChildren: true })),
        store.reserve(request(k('b'), { requireVersion: [{ key: k('a'), seq: 2 }] })),
        store.reserve(request(k('c'), { requireVersion: [{ key: k('a'), seq: 1 }] })),
      ]);
      expect(results.map((r) => (r.ok ? 'ok' : r.reason))).toEqual([
        'ok',
        'ok',
        'conflict',
        'ok',
        'has_live_children',
        'ok',
        'stale_version',
      ]);
      expect(results[2]).toMatchObject({ entry: { key: k('a'), seq: 2, live: true } });
      expect(results[4]).toMatchObject({ count: 1 });
      expect(await store.get(k('a'))).toMatchObject({ seq: 2, live: true });
      expect(await store.get(k('c'))).toBeNull();
      expect((await store.liveChildren(k('a'), 10)).map((e) => e.key)).toEqual([k('a/child')]);
    });

    it('never leaves a live child under a parent deleted concurrently', async () => {
      for (let round = 0; round < 8; round++) {
        const parent = k(`cls${round}`);
        await createLive(parent);
        const children = Array.from({ length: 6 }, (_, i) => `${parent}/i${i}`);
        const createChild = (key: string): Promise<ReservationResult> =>
          store.reserve(request(key, { parent, requireLive: [parent] }));
        const deleteParent = (): Promise<ReservationResult> =>
          store.reserve(request(parent, { expectedSeq: 1, nextSeq: 2, liveAfter: false, forbidLiveChildren: true }));
        const at = round % (children.length + 1);
        const ops = children.map((c) => () => createChild(c));
        ops.splice(at, 0, deleteParent);
        const results = await Promise.all(ops.map((op) => op()));

        const deleted = results[at]!;
        const created = results.filter((r, i) => i !== at && r.ok).length;
        const live = await store.liveChildren(parent, 100);
        expect(live).toHaveLength(created);
        if (deleted.ok) {
          expect(created).toBe(0);
          expect(await store.get(parent)).toMatchObject({ live: false });
        } else {
          expect(deleted).toMatchObject({ reason: 'has_live_children' });
          expect(created).toBeGreaterThan(0);
        }
        for (const [i, r] of results.entries()) {
          if (i !== at && !r.ok) expect(r).toEqual({ ok: false, reason: 'not_live', key: parent });
        }
      }
    });
  });
}
