import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AggregateType } from '../../src/core/aggregate.js';
import { type Commit, type Envelope, newEventId, serializeCommit } from '../../src/core/envelope.js';
import { EventAlreadyExistsError } from '../../src/core/errors.js';
import {
  type CommitRef,
  type EventStore,
  type EventStoreHooks,
  type IndexRef,
  indexRefOf,
  plainIndexRef,
  type UnpublishedRef,
  type WrittenEntry,
} from '../../src/ports/eventStore.js';

export type EventStoreFactory = (hooks?: EventStoreHooks) => Promise<{
  store: EventStore;
  /** Another instance over the same storage: another writer, as a second gateway process is. */
  another: () => EventStore;
  cleanup: () => Promise<void>;
}>;

const envelope = (
  kind: Envelope['kind'],
  type: AggregateType,
  id: string,
  seq: number,
  payload: unknown,
): Envelope => ({
  envelopeVersion: 1,
  eventId: newEventId(),
  kind,
  type: kind === 'command' ? 'UpdateInstance' : 'InstanceUpdated',
  aggregateType: type,
  aggregateId: id,
  seq,
  schemaVersion: 1,
  occurredAt: new Date().toISOString(),
  actor: 'user:alice',
  correlationId: 'corr-1',
  causationId: null,
  idempotencyKey: kind === 'command' ? `key-${id}-${seq}` : null,
  payload,
  metadata: { source: 'contract' },
});

/** A commit as the gateway writes it: the command envelope, then the domain event(s) it caused. */
export const makeCommit = (type: AggregateType, id: string, seq: number, domainEvents = 1): Commit => {
  const command = envelope('command', type, id, seq, { n: seq, note: 'naïve ✓ "quoted"\nline\u2028' });
  const domain = Array.from({ length: domainEvents }, (_, i) => ({
    ...envelope('domain', type, id, seq - domainEvents + 1 + i, { n: seq, nested: { list: [1, 2.5, null, true] } }),
    causationId: command.eventId,
  }));
  return { aggregateType: type, aggregateId: id, seq, envelopes: [command, ...domain] };
};

const ref = (c: Commit): CommitRef => ({ aggregateType: c.aggregateType, aggregateId: c.aggregateId, seq: c.seq });
/** The same commit, recorded at another time (every envelope's occurredAt). */
const recordedAt = (c: Commit, iso: string): Commit => ({
  ...c,
  envelopes: c.envelopes.map((e) => ({ ...e, occurredAt: iso })),
});
const seqs = (cs: Commit[]): number[] => cs.map((c) => c.seq);
const collect = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};
const appendAll = async (store: EventStore, commits: Commit[]): Promise<void> => {
  for (const c of commits) await store.append(c);
};
const plain = (refs: UnpublishedRef[]) => refs.map(plainIndexRef);

/**
 * The behaviour every EventStore adapter must have. `factory` gives each test an empty, isolated
 * store (its own directory or key prefix) and a cleanup.
 */
export function describeEventStoreContract(name: string, factory: EventStoreFactory): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let another: () => EventStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, another, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup();
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('reads [] for an aggregate that never existed', async () => {
      expect(await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/nobody' })).toEqual([]);
      expect(await store.readAggregate({ aggregateType: 'DATABASE', aggregateId: 'nodb' }, 3, 10)).toEqual([]);
      expect(await store.readCommits([])).toEqual([]);
      expect(await store.listUnpublished(10)).toEqual([]);
      expect(await collect(store.scan())).toEqual([]);
    });

    it('reads an aggregate back in seq order, byte for byte, whatever the append order', async () => {
      const commits = [makeCommit('INSTANCE', 'db/inst-1', 1), makeCommit('INSTANCE', 'db/inst-1', 2, 2)];
      commits.push(makeCommit('INSTANCE', 'db/inst-1', 3));
      await appendAll(store, [commits[1]!, commits[2]!, commits[0]!]);

      const read = await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/inst-1' });
      expect(read).toEqual(commits);
      expect(read.map(serializeCommit)).toEqual(commits.map(serializeCommit));
      expect(read[1]!.envelopes.map((e) => e.kind)).toEqual(['command', 'domain', 'domain']);
    });

    it('orders seq numerically (2 before 10) and bounds reads with afterSeq and limit', async () => {
      const agg = { aggregateType: 'DATABASE' as const, aggregateId: 'shop' };
      const all = Array.from({ length: 12 }, (_, i) => makeCommit('DATABASE', 'shop', i + 1));
      await Promise.all(all.map((c) => store.append(c)));

      expect(seqs(await store.readAggregate(agg))).toEqual(all.map((c) => c.seq));
      expect(seqs(await store.readAggregate(agg, 5))).toEqual([6, 7, 8, 9, 10, 11, 12]);
      expect(seqs(await store.readAggregate(agg, 0, 3))).toEqual([1, 2, 3]);
      expect(seqs(await store.readAggregate(agg, 5, 3))).toEqual([6, 7, 8]);
      expect(seqs(await store.readAggregate(agg, 9, 100))).toEqual([10, 11, 12]);
      expect(await store.readAggregate(agg, 12)).toEqual([]);
      expect(await store.readAggregate(agg, 20, 5)).toEqual([]);
      expect((await store.readAggregate(agg, 10, 1))[0]).toEqual(all[10]);
    });

    it('never overwrites: a second append at a position rejects and keeps the original', async () => {
      const original = makeCommit('INSTANCE', 'db/inst-1', 1);
      await store.append(original);
      const intruder = makeCommit('INSTANCE', 'db/inst-1', 1);

      const error = await store.append(intruder).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EventAlreadyExistsError);
      expect(error).toMatchObject({ code: 'CONFLICT', retriable: false });
      expect(await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/inst-1' })).toEqual([original]);
      expect(await store.readCommits([ref(original)])).toEqual([original]);
    });

    it('accepts a retry of the very same commit and restores its outbox marker', async () => {
      const c = makeCommit('INSTANCE', 'db/retry', 1);
      await store.append(c);
      await store.markPublished(await store.listUnpublished(10));
      expect(await store.listUnpublished(10)).toEqual([]);
      await store.append(structuredClone(c));
      expect(await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/retry' })).toEqual([c]);
      expect(plain(await store.listUnpublished(10))).toEqual([indexRefOf(c)]);
      const sameIdsOtherPayload = structuredClone(c);
      sameIdsOtherPayload.envelopes[1]!.payload = { changed: true };
      await expect(store.append(sameIdsOtherPayload)).rejects.toBeInstanceOf(EventAlreadyExistsError);
    });

    it('appendCommit answers once the commit is readable; its entry is listed once indexed', async () => {
      const c = makeCommit('INSTANCE', 'db/early', 1);
      const { indexed } = await store.appendCommit(c);
      expect(await store.readCommits([ref(c)])).toEqual([c]);
      await indexed;
      expect(plain(await store.listUnpublished(10))).toEqual([indexRefOf(c)]);
      const taken = makeCommit('INSTANCE', 'db/early', 1);
      await expect(store.appendCommit(taken)).rejects.toBeInstanceOf(EventAlreadyExistsError);
    });

    it('lets exactly one of N concurrent appends at one position win', async () => {
      const contenders = Array.from({ length: 8 }, () => makeCommit('INSTANCE', 'db/race', 1));
      const results = await Promise.allSettled(contenders.map((c) => store.append(c)));

      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [contenders[i]!] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(EventAlreadyExistsError);
      }
      expect(await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/race' })).toEqual(winners);
    });

    it('accepts many concurrent appends at distinct positions', async () => {
      const commits = Array.from({ length: 40 }, (_, i) =>
        makeCommit('INSTANCE', `db/p${i % 4}`, Math.floor(i / 4) + 1),
      );
      await Promise.all(commits.map((c) => store.append(c)));
      const read = await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/p2' });
      expect(seqs(read)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(await store.listUnpublished(1000)).toHaveLength(40);
    });

    it('reads given commits in the order asked, null where absent', async () => {
      const a = makeCommit('INSTANCE', 'db/a', 1);
      const b = makeCommit('ONTOLOGY_CLASS', 'db/Person', 7);
      await appendAll(store, [a, b]);
      const absent: CommitRef = { aggregateType: 'INSTANCE', aggregateId: 'db/a', seq: 2 };
      const unknown: CommitRef = { aggregateType: 'DATABASE', aggregateId: 'zzz', seq: 1 };

      expect(await store.readCommits([ref(b), absent, ref(a), unknown, ref(b)])).toEqual([b, null, a, null, b]);
    });

    it('lists unpublished commits oldest first (the by-date index), a late one too, until marked published', async () => {
      const t = (ms: number): string => new Date(Date.UTC(2026, 0, 1, 23, 59, 59) + ms).toISOString();
      const x = Array.from({ length: 11 }, (_, i) => recordedAt(makeCommit('INSTANCE', 'db/x', i + 1), t(i * 10)));
      const db = recordedAt(makeCommit('DATABASE', 'db', 1), t(-5));
      const nextDay = recordedAt(makeCommit('INSTANCE', 'db/w', 1), t(2_000));
      // Appended last by another writer but recorded a minute earlier (a slow writer, a skewed
      // clock): still listed, first.
      const late = recordedAt(makeCommit('INSTANCE', 'db/late', 1), t(-60_000));
      await appendAll(store, [db, ...x, nextDay]);
      await another().append(late);

      const expected = [late, db, ...x, nextDay].map(indexRefOf);
      expect(expected[0]!.recordedAt).toBe('2026-01-01T23:58:59.000Z');
      const listed = await store.listUnpublished(100);
      expect(plain(listed)).toEqual(expected);
      expect(plain(await store.listUnpublished(4))).toEqual(expected.slice(0, 4));

      await store.markPublished(listed.slice(0, 4));
      expect(plain(await store.listUnpublished(100))).toEqual(expected.slice(4));
      await store.markPublished(listed.slice(0, 5)); // idempotent, overlapping
      await store.markPublished([{ aggregateType: 'INSTANCE', aggregateId: 'db/never', seq: 3, recordedAt: t(0) }]);
      await store.markPublished([]);
      expect(plain(await store.listUnpublished(100))).toEqual(expected.slice(5));
      await store.markPublished(listed);
      expect(await store.listUnpublished(100)).toEqual([]);

      // Publishing removes the index entry, never the commit; a later append is listed again.
      expect(await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/x' })).toHaveLength(11);
      const twelfth = makeCommit('INSTANCE', 'db/x', 12);
      await store.append(twelfth);
      expect(plain(await store.listUnpublished(100))).toEqual([indexRefOf(twelfth)]);
    });

    it('lists the outbox page after page from a listed entry; one written behind the pages only from the beginning', async () => {
      const t = (ms: number): string => new Date(Date.UTC(2026, 0, 1, 23, 59, 59) + ms).toISOString();
      const commits = Array.from({ length: 9 }, (_, i) => recordedAt(makeCommit('INSTANCE', `db/q${i}`, 1), t(i * 10)));
      await appendAll(store, commits);

      const pages: UnpublishedRef[][] = [];
      let after: string | undefined;
      for (let page = await store.listUnpublished(2); page.length > 0; ) {
        pages.push(page);
        after = page[page.length - 1]!.entry;
        page = await store.listUnpublished(2, { after });
      }
      expect(pages.length).toBeGreaterThan(1);
      expect(plain(pages.flat())).toEqual(commits.map(indexRefOf));

      // Recorded before the last page (a slow writer, a skewed clock): not after it, first from the beginning.
      const late = recordedAt(makeCommit('INSTANCE', 'db/late', 1), t(-60_000));
      await another().append(late);
      expect(await store.listUnpublished(100, { after })).toEqual([]);
      expect(plain(await store.listUnpublished(1))).toEqual([indexRefOf(late)]);

      // After an entry already removed: still what sorts after its key.
      await store.markPublished(pages[0]!);
      const rest = await store.listUnpublished(100, { after: pages[0]![pages[0]!.length - 1]!.entry });
      expect(plain(rest)).toEqual(commits.slice(pages[0]!.length).map(indexRefOf));
    });

    it('lists concurrent appends once each, whole entries, each aggregate in seq order', async () => {
      // As a writer appends: an aggregate's next commit only after its previous one was appended.
      const ids = ['db/p0', 'db/p1', 'db/p2', 'db/p3'];
      const appended: Commit[] = [];
      for (let seq = 1; seq <= 6; seq++) {
        const level = ids.map((id) => makeCommit('INSTANCE', id, seq));
        await Promise.all(level.map((c) => store.append(c)));
        appended.push(...level);
      }
      const listed = await store.listUnpublished(1000);
      expect(listed).toHaveLength(appended.length);
      for (const id of ids) {
        expect(listed.filter((r) => r.aggregateId === id).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      }
      // A carried commit is the stored one; what is not carried reads by key.
      const stored = await store.readCommits(listed);
      listed.forEach((r, i) => {
        expect(stored[i]).toEqual(appended.find((c) => c.aggregateId === r.aggregateId && c.seq === r.seq));
        if (r.commit) expect(r.commit).toEqual(stored[i]);
      });
      // An entry is never split: removing entry by entry empties the outbox.
      for (let round = 0; round < appended.length; round++) {
        const first = await store.listUnpublished(1);
        if (first.length === 0) break;
        const entry = listed.filter((r) => r.entry === first[0]!.entry);
        expect(first).toEqual(entry);
        await store.markPublished(first);
      }
      expect(await store.listUnpublished(1000)).toEqual([]);
    });

    it('announces the commits of each outbox entry it writes, and their number, as it will be listed, before the appends it holds resolve', async () => {
      const written: WrittenEntry[] = [];
      const announced = await factory({ onEntryWritten: (e) => written.push(e) });
      try {
        const commits = [1, 2, 3].flatMap((seq) => ['db/n0', 'db/n1'].map((id) => makeCommit('INSTANCE', id, seq)));
        for (let i = 0; i < commits.length; i += 2) {
          const pair = commits.slice(i, i + 2);
          await Promise.all(
            pair.map(async (c) => {
              await announced.store.append(c);
              // Announced by the time its append resolves.
              expect(
                written.some((e) => e.commits.some((w) => w.aggregateId === c.aggregateId && w.seq === c.seq)),
              ).toBe(true);
            }),
          );
        }
        const listed = await announced.store.listUnpublished(1000);
        // An entry is announced whole, or in parts and then its size: together, what a listing gives.
        const byEntry = new Map<string, { commits: Commit[]; size?: number }>();
        for (const e of written) {
          const seen = byEntry.get(e.entry) ?? { commits: [] };
          seen.commits.push(...e.commits);
          if (e.size !== undefined) seen.size = e.size;
          byEntry.set(e.entry, seen);
        }
        expect(new Set(byEntry.keys())).toEqual(new Set(listed.map((r) => r.entry)));
        const order = (refs: IndexRef[]) => refs.map((r) => `${r.aggregateId}@${r.seq}`).sort();
        for (const [entry, seen] of byEntry) {
          const refs = listed.filter((r) => r.entry === entry);
          expect(order(seen.commits.map(indexRefOf))).toEqual(order(refs));
          expect(seen.size).toBe(refs.length);
          for (const c of seen.commits)
            expect(c).toEqual(commits.find((x) => x.aggregateId === c.aggregateId && x.seq === c.seq));
        }
        expect(written.flatMap((e) => e.commits)).toHaveLength(commits.length);
        // Removing the announced entries empties the outbox.
        await announced.store.markPublished(listed.filter((r) => byEntry.has(r.entry)));
        expect(await announced.store.listUnpublished(1000)).toEqual([]);
      } finally {
        await announced.cleanup();
      }
    });

    it('appends even when the entry hook throws (the hook is only a hint)', async () => {
      const throwing = await factory({
        onEntryWritten: () => {
          throw new Error('listener bug');
        },
      });
      try {
        const c = makeCommit('INSTANCE', 'db/hooked', 1);
        await throwing.store.append(c);
        expect(plain(await throwing.store.listUnpublished(10))).toEqual([indexRefOf(c)]);
      } finally {
        await throwing.cleanup();
      }
    });

    it('scans every commit, aggregate by aggregate in seq order, optionally of one type', async () => {
      const commits = [
        ...Array.from({ length: 11 }, (_, i) => makeCommit('INSTANCE', 'db/b', i + 1)),
        ...Array.from({ length: 3 }, (_, i) => makeCommit('INSTANCE', 'db/a', i + 1)),
        makeCommit('DATABASE', 'db', 1),
        makeCommit('DATABASE', 'db', 2),
        makeCommit('ONTOLOGY_CLASS', 'db/Person', 1),
      ];
      await Promise.all(commits.map((c) => store.append(c)));

      const all = await collect(store.scan({ pageSize: 4 }));
      expect(all).toHaveLength(commits.length);
      expect(new Set(all.map((c) => c.envelopes[0]!.eventId))).toEqual(
        new Set(commits.map((c) => c.envelopes[0]!.eventId)),
      );
      const byAggregate = new Map<string, number[]>();
      for (const c of all) {
        const key = `${c.aggregateType}:${c.aggregateId}`;
        byAggregate.set(key, [...(byAggregate.get(key) ?? []), c.seq]);
      }
      expect(byAggregate.get('INSTANCE:db/b')).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
      // Each aggregate's commits are contiguous in the scan.
      const order = all
        .map((c) => `${c.aggregateType}:${c.aggregateId}`)
        .filter((k, i, a) => i === 0 || a[i - 1] !== k);
      expect(order).toHaveLength(byAggregate.size);

      const instances = await collect(store.scan({ aggregateType: 'INSTANCE' }));
      expect(instances.map((c) => `${c.aggregateId}@${c.seq}`)).toEqual([
        ...[1, 2, 3].map((s) => `db/a@${s}`),
        ...Array.from({ length: 11 }, (_, i) => `db/b@${i + 1}`),
      ]);
      expect(await collect(store.scan({ aggregateType: 'ONTOLOGY_CLASS', pageSize: 1 }))).toEqual([commits[16]]);
    });

    it('keeps ids with "/" and look-alike prefixes apart', async () => {
      const ids = ['db/a', 'db/ab', 'db/a-b', 'db/a.b', 'dba/a'];
      const commits = ids.flatMap((id) => [makeCommit('INSTANCE', id, 1), makeCommit('INSTANCE', id, 2)]);
      const dbA = [makeCommit('DATABASE', 'db', 1)];
      await Promise.all([...commits, ...dbA].map((c) => store.append(c)));

      for (const id of ids) {
        const read = await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: id });
        expect(read.map((c) => `${c.aggregateId}@${c.seq}`)).toEqual([`${id}@1`, `${id}@2`]);
        expect(await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: id }, 1)).toHaveLength(1);
      }
      expect(await store.readAggregate({ aggregateType: 'DATABASE', aggregateId: 'db' })).toEqual(dbA);
      expect(await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db' })).toEqual([]);
      expect(await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/' + 'a'.repeat(2) })).toEqual([]);

      const listed = await store.listUnpublished(100);
      expect(listed).toHaveLength(commits.length + 1);
      expect(new Set(listed.map((r) => `${r.aggregateType}:${r.aggregateId}`))).toEqual(
        new Set([...ids.map((id) => `INSTANCE:${id}`), 'DATABASE:db']),
      );
      const positions = listed.map(({ aggregateType, aggregateId, seq }) => ({ aggregateType, aggregateId, seq }));
      expect(await store.readCommits(listed)).toEqual(positions.map((r) => expect.objectContaining(r)));
      const scanned = await collect(store.scan({ aggregateType: 'INSTANCE' }));
      expect(scanned.map(ref)).toHaveLength(positions.filter((r) => r.aggregateType === 'INSTANCE').length);
      expect(scanned.map(ref)).toEqual(expect.arrayContaining(positions.filter((r) => r.aggregateType === 'INSTANCE')));
    });

    it('refuses positions that are not safe keys or commits that would not read back as themselves', async () => {
      for (const id of ['../escape', 'db//x', '', 'db/..', '/abs', 'db/']) {
        await expect(store.append(makeCommit('INSTANCE', id, 1))).rejects.toThrow(RangeError);
      }
      await expect(store.append(makeCommit('INSTANCE', 'db/x', 0))).rejects.toThrow(RangeError);
      await expect(store.append({ ...makeCommit('INSTANCE', 'db/x', 1), seq: 2 })).rejects.toThrow(RangeError);
      await expect(store.append({ ...makeCommit('INSTANCE', 'db/x', 1), envelopes: [] })).rejects.toThrow(RangeError);
      expect(await collect(store.scan())).toEqual([]);
    });

    it('round-trips checkpoints (absent reads null, last write wins)', async () => {
      expect(await store.getCheckpoint('relay')).toBeNull();
      await store.putCheckpoint('relay', { position: 'a/b', count: 1 });
      expect(await store.getCheckpoint<{ position: string; count: number }>('relay')).toEqual({
        position: 'a/b',
        count: 1,
      });
      await store.putCheckpoint('relay', { position: 'c', count: 2, nested: [1, { x: 'é' }] });
      expect(await store.getCheckpoint('relay')).toEqual({ position: 'c', count: 2, nested: [1, { x: 'é' }] });
      await store.putCheckpoint('relay-standby.v2', 42);
      expect(await store.getCheckpoint('relay-standby.v2')).toBe(42);
      expect(await store.getCheckpoint('relay')).toEqual({ position: 'c', count: 2, nested: [1, { x: 'é' }] });
      // Checkpoints live beside the events, never among them.
      expect(await collect(store.scan())).toEqual([]);
      expect(await store.listUnpublished(10)).toEqual([]);
    });
  });
}
