import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGroupEntryWriter } from '../../src/adapters/eventStore/commitCopies.js';
import { createLocalEventStore } from '../../src/adapters/eventStore/local.js';
import { createInProcessTransport } from '../../src/adapters/transport/inProcess.js';
import { type Commit, parseEnvelope, serializeCommit } from '../../src/core/envelope.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  type EventStore,
  indexRefOf,
  plainIndexRef,
  unpublishedKey,
  type WrittenEntry,
} from '../../src/ports/eventStore.js';
import type { Transport } from '../../src/ports/transport.js';
import { createRelay, type Relay } from '../../workers/relay.js';
import { makeCommit } from '../contract/eventStore.contract.js';
import { waitFor } from '../support/wait.js';

/** Waits until `cond` holds. */
const until = (cond: () => boolean | Promise<boolean>, timeoutMs = 5_000) =>
  waitFor(async () => ((await cond()) ? true : undefined), { timeoutMs });

/** Counts the outbox listings and removals a relay makes. */
function countingListings(store: EventStore): { store: EventStore; listings: () => number; removals: () => number } {
  let listings = 0;
  let removals = 0;
  return {
    store: {
      ...store,
      listUnpublished: (limit, options) => {
        listings++;
        return store.listUnpublished(limit, options);
      },
      markPublished: (refs) => {
        removals++;
        return store.markPublished(refs);
      },
    },
    listings: () => listings,
    removals: () => removals,
  };
}

describe('relay fast path (offered entries)', () => {
  let dir: string;
  let written: WrittenEntry[];
  let store: EventStore;
  let counted: ReturnType<typeof countingListings>;
  let transport: Transport;
  let published: { key: string; seq: number }[];
  let relay: Relay;

  const startRelay = (pollIntervalMs: number) => {
    relay = createRelay({
      eventStore: counted.store,
      transport,
      logger: createLogger('silent'),
      options: { batchSize: 100, pollIntervalMs },
    });
    relay.start();
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-relay-'));
    written = [];
    store = createLocalEventStore({ dir, onEntryWritten: (e) => written.push(e) });
    counted = countingListings(store);
    transport = createInProcessTransport({});
    published = [];
    const publish = transport.publish.bind(transport);
    transport.publish = async (messages) => {
      await publish(messages);
      for (const m of messages) published.push({ key: m.key, seq: parseEnvelope(m.value).seq });
    };
  });
  afterEach(async () => {
    await relay?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes an offered entry and removes it from the outbox without listing', async () => {
    startRelay(60_000);
    await until(() => counted.listings() === 1); // the listing every relay starts with
    const commit = makeCommit('INSTANCE', 'db/a', 1);
    await store.append(commit);
    expect(written).toHaveLength(1);
    relay.offer(written[0]!);

    await until(() => published.length === commit.envelopes.length);
    expect(published.map((p) => p.seq)).toEqual(commit.envelopes.map((e) => e.seq));
    await until(async () => (await store.listUnpublished(10)).length === 0);
    expect(counted.listings()).toBe(1);
  });

  it('publishes offered entries in the order offered, each once, however often offered', async () => {
    startRelay(60_000);
    await until(() => counted.listings() === 1);
    const commits = [1, 2, 3].map((seq) => makeCommit('INSTANCE', 'db/b', seq));
    for (const c of commits) await store.append(c);
    for (const entry of [...written, ...written]) relay.offer(entry);

    const envelopes = commits.flatMap((c) => c.envelopes.map((e) => e.seq));
    await until(() => published.length >= envelopes.length);
    await new Promise((r) => setTimeout(r, 50));
    expect(published.map((p) => p.seq)).toEqual(envelopes);
  });

  it('does not publish again an entry it already listed and published', async () => {
    const commit = makeCommit('INSTANCE', 'db/c', 1);
    await store.append(commit);
    startRelay(60_000);
    await until(() => published.length === commit.envelopes.length);
    relay.offer(written[0]!); // the signal arrives after the listing published it

    await new Promise((r) => setTimeout(r, 100));
    expect(published).toHaveLength(commit.envelopes.length);
  });

  it('removes without publishing again an entry it published from its offer before the entry landed', async () => {
    startRelay(60_000);
    await until(() => counted.listings() === 1);
    const commit = makeCommit('INSTANCE', 'db/early', 1);
    // Offered as its write starts (the commit is durable, the entry not yet).
    relay.offer({ entry: unpublishedKey(indexRefOf(commit)), commits: [commit], size: 1 });
    await until(() => published.length === commit.envelopes.length);
    await until(() => counted.removals() === 1); // removing the entry that is not there yet: nothing removed
    await store.append(commit); // the entry lands after its removal
    expect(await store.listUnpublished(10)).toHaveLength(1);

    relay.wake();
    await until(async () => (await store.listUnpublished(10)).length === 0);
    expect(counted.listings()).toBe(2);
    expect(published).toHaveLength(commit.envelopes.length);
  });

  it('still lists every poll interval while offers keep coming, so an entry never offered is published', async () => {
    startRelay(100);
    const silent = makeCommit('INSTANCE', 'db/silent', 1);
    await store.append(silent); // its signal is lost: never offered
    const stop = Date.now() + 400;
    for (let seq = 1; Date.now() < stop; seq++) {
      await store.append(makeCommit('INSTANCE', 'db/busy', seq));
      relay.offer(written[written.length - 1]!);
      await new Promise((r) => setTimeout(r, 10));
    }
    await until(() => published.some((p) => p.key === 'INSTANCE:db/silent'), 2_000);
    await until(async () => (await store.listUnpublished(1000)).length === 0, 2_000);
    expect(counted.listings()).toBeGreaterThanOrEqual(2);
  });

  it('publishes from its offer an entry a listing held back (its commit was not readable yet), in order', async () => {
    const first = makeCommit('INSTANCE', 'db/e', 1);
    // The marker of an append in flight: written before its commit is (the local store's order).
    const marker = join(dir, unpublishedKey(indexRefOf(first)));
    await mkdir(dirname(marker), { recursive: true });
    await writeFile(marker, '');
    startRelay(60_000);
    await until(() => counted.listings() === 1);
    expect(published).toEqual([]);

    await store.append(first);
    const second = makeCommit('INSTANCE', 'db/e', 2);
    await store.append(second);
    for (const entry of written) relay.offer(entry);
    const seqs = [first, second].flatMap((c) => c.envelopes.map((e) => e.seq));
    await until(() => published.length >= seqs.length);
    expect(published.map((p) => p.seq)).toEqual(seqs);
    expect(counted.listings()).toBe(1);
  });

  it('removes offered entries from the outbox in batches, and before it lists again', async () => {
    startRelay(60_000);
    await until(() => counted.listings() === 1);
    const commits = Array.from({ length: 20 }, (_, i) => makeCommit('INSTANCE', `db/r${i}`, 1));
    for (const c of commits) {
      await store.append(c);
      relay.offer(written[written.length - 1]!);
    }
    await until(() => published.length === commits.length * 2);
    await until(async () => (await store.listUnpublished(100)).length === 0);
    expect(counted.removals()).toBeLessThan(commits.length / 2);

    // Published, not removed yet: a listing right after must not publish it again.
    const last = makeCommit('INSTANCE', 'db/r-last', 1);
    await store.append(last);
    relay.offer(written[written.length - 1]!);
    await until(() => published.length === (commits.length + 1) * 2);
    relay.wake();
    await until(() => counted.listings() >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(published).toHaveLength((commits.length + 1) * 2);
    expect(await store.listUnpublished(100)).toEqual([]);
  });

  it('under a steady stream of offered entries, lists about once per poll interval, not after every pass', async () => {
    startRelay(200);
    await until(() => counted.listings() === 1);
    const from = counted.listings();
    const started = Date.now();
    const appends: Promise<void>[] = [];
    for (let i = 0; Date.now() - started < 1_000; i++) {
      // Several writers: some entries are always in flight when the relay lists.
      appends.push(
        (async () => {
          await store.append(makeCommit('INSTANCE', `db/steady${i % 8}`, Math.floor(i / 8) + 1));
        })(),
      );
      if (appends.length >= 8) await Promise.all(appends.splice(0));
      for (const entry of written.splice(0)) relay.offer(entry);
    }
    await Promise.all(appends);
    for (const entry of written.splice(0)) relay.offer(entry);
    const elapsed = Date.now() - started;
    expect(counted.listings() - from).toBeLessThanOrEqual(Math.ceil(elapsed / 200) + 2);
    await until(async () => (await store.listUnpublished(1000)).length === 0);
  });

  it('lists the outbox on a plain wake', async () => {
    startRelay(60_000);
    await until(() => counted.listings() === 1);
    await store.append(makeCommit('INSTANCE', 'db/d', 1));
    relay.wake();
    await until(() => counted.listings() >= 2);
    await until(() => published.length > 0);
  });

  describe('an entry offered in parts (a group entry gathered over an interval)', () => {
    /** A group entry writer into the store's directory, as the S3 store writes one; `offer` decides which announcements reach the relay. */
    const groupWriter = (offer: (e: WrittenEntry) => boolean) => {
      const announced: WrittenEntry[] = [];
      const writer = createGroupEntryWriter(
        async (key, body) => {
          await mkdir(dirname(join(dir, key)), { recursive: true });
          await writeFile(join(dir, key), body);
        },
        {
          minIntervalMs: 300,
          onEntryWritten: (e) => {
            announced.push(e);
            if (offer(e)) relay.offer(e);
          },
        },
      );
      const add = (c: Commit) => writer.add(c, serializeCommit(c));
      return { announced, add };
    };
    const seqsOf = (key: string) => published.filter((p) => p.key === key).map((p) => p.seq);

    it('publishes each part as it comes, and removes the entry once its size is announced and all its commits published', async () => {
      startRelay(60_000);
      await until(() => counted.listings() === 1);
      const { announced, add } = groupWriter(() => true);
      const [first, a, b] = ['db/g0', 'db/g1', 'db/g2'].map((id) => makeCommit('INSTANCE', id, 1)) as [
        Commit,
        Commit,
        Commit,
      ];
      await add(first); // written at once; the next entry waits out the interval
      const indexed = [add(a)];
      await until(() => seqsOf('INSTANCE:db/g1').length === a.envelopes.length);
      indexed.push(add(b));
      await until(() => seqsOf('INSTANCE:db/g2').length === b.envelopes.length);
      const entry = announced[1]!.entry;
      // Both published while their entry was still being gathered: not written, so not removable yet.
      expect(announced.slice(1)).toEqual([
        { entry, commits: [a] },
        { entry, commits: [b] },
      ]);
      expect((await store.listUnpublished(10)).map((r) => r.entry)).not.toContain(entry);

      await Promise.all(indexed); // the entry's write announced its size (2), then landed
      expect(announced[3]).toEqual({ entry, commits: [], size: 2 });
      await until(async () => (await store.listUnpublished(10)).length === 0);
      expect(counted.listings()).toBe(1);
      expect(published.map((p) => p.key)).toEqual(
        [first, a, b].flatMap((c) => c.envelopes.map(() => `INSTANCE:${c.aggregateId}`)),
      );
    });

    it('keeps an entry whose part was lost, and its next listing publishes only the commit never offered', async () => {
      startRelay(60_000);
      await until(() => counted.listings() === 1);
      const { announced, add } = groupWriter((e) => !e.commits.some((c) => c.aggregateId === 'db/lost'));
      const [first, a, lost] = ['db/h0', 'db/h1', 'db/lost'].map((id) => makeCommit('INSTANCE', id, 1)) as [
        Commit,
        Commit,
        Commit,
      ];
      await add(first);
      const indexed = [add(a)];
      await until(() => seqsOf('INSTANCE:db/h1').length === a.envelopes.length);
      indexed.push(add(lost));
      await Promise.all(indexed);
      expect(announced.at(-1)).toMatchObject({ commits: [], size: 2 });
      // Its size says 2, this relay published 1: it must not remove the entry.
      await new Promise((r) => setTimeout(r, 700));
      const listed = await store.listUnpublished(10);
      expect(listed.filter((r) => r.entry === announced.at(-1)!.entry).map(plainIndexRef)).toEqual(
        [a, lost].map(indexRefOf),
      );
      expect(seqsOf('INSTANCE:db/lost')).toEqual([]);

      relay.wake();
      await until(async () => (await store.listUnpublished(10)).length === 0);
      expect(seqsOf('INSTANCE:db/lost')).toEqual(lost.envelopes.map((e) => e.seq));
      expect(seqsOf('INSTANCE:db/h1')).toEqual(a.envelopes.map((e) => e.seq)); // not again
    });
  });
});

describe('relay on a backlog (listing page after page)', () => {
  let dir: string;
  let store: EventStore;
  let published: { key: string; seq: number }[];
  let relay: Relay | undefined;
  /** `after` of every listing, in order (undefined: from the beginning). */
  let listedAfter: (string | undefined)[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-relay-backlog-'));
    store = createLocalEventStore({ dir });
    published = [];
    listedAfter = [];
    relay = undefined;
  });
  afterEach(async () => {
    await relay?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const startRelay = (eventStore: EventStore) => {
    const transport = createInProcessTransport({});
    const publish = transport.publish.bind(transport);
    transport.publish = async (messages) => {
      await publish(messages);
      for (const m of messages) published.push({ key: m.key, seq: parseEnvelope(m.value).seq });
    };
    relay = createRelay({
      eventStore,
      transport,
      logger: createLogger('silent'),
      options: { batchSize: 3, pollIntervalMs: 50 },
    });
    relay.start();
  };
  const recording = (overrides: Partial<EventStore> = {}): EventStore => ({
    ...store,
    listUnpublished: (limit, options) => {
      listedAfter.push(options?.after);
      return store.listUnpublished(limit, options);
    },
    ...overrides,
  });
  /** Appends `perAggregate` commits to each of `aggregates`, interleaved, one after the other. */
  const backlog = async (aggregates: number, perAggregate: number) => {
    const commits = [];
    for (let seq = 1; seq <= perAggregate; seq++) {
      for (let a = 0; a < aggregates; a++) commits.push(makeCommit('INSTANCE', `db/b${a}`, seq));
    }
    for (const c of commits) await store.append(c);
    return commits;
  };
  const expectPublishedOnceInOrder = (commits: ReturnType<typeof makeCommit>[]) => {
    expect(published).toHaveLength(commits.length * 2);
    for (const key of new Set(published.map((p) => p.key))) {
      const seqs = published.filter((p) => p.key === key).map((p) => p.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length / 2);
    }
  };

  it('publishes every commit once, each aggregate in order, listing each next page after the last one', async () => {
    // 12 refs per page (batchSize 3, four batches): 90 commits are 8 pages.
    const commits = await backlog(3, 30);
    startRelay(recording());
    await until(() => published.length >= commits.length * 2);
    await until(async () => (await store.listUnpublished(1)).length === 0);
    await new Promise((r) => setTimeout(r, 100));

    expectPublishedOnceInOrder(commits);
    const chained = listedAfter.filter((after) => after !== undefined);
    expect(chained.length).toBeGreaterThanOrEqual(6);
    // Each page starts after the previous page's last entry: never the same entry twice.
    expect(new Set(chained).size).toBe(chained.length);
  });

  it('lists from the beginning again after at most 16 pages', async () => {
    const commits = await backlog(2, 120); // 240 commits: 20 pages of 12
    startRelay(recording());
    await until(async () => (await store.listUnpublished(1)).length === 0);
    await until(() => published.length >= commits.length * 2);

    expectPublishedOnceInOrder(commits);
    let run = 0;
    let longest = 0;
    for (const after of listedAfter) {
      run = after === undefined ? 0 : run + 1;
      longest = Math.max(longest, run);
    }
    expect(longest).toBe(15);
  });

  it('publishes an entry written behind the pages (recorded earlier) once it lists from the beginning', async () => {
    const commits = await backlog(2, 30);
    const late = makeCommit('INSTANCE', 'db/late', 1);
    late.envelopes = late.envelopes.map((e) => ({ ...e, occurredAt: '2020-01-01T00:00:00.000Z' }));
    let appended = false;
    startRelay(
      recording({
        listUnpublished: async (limit, options) => {
          listedAfter.push(options?.after);
          // Lands while the relay is on its second page: behind it.
          if (options?.after !== undefined && !appended) {
            appended = true;
            await store.append(late);
          }
          return store.listUnpublished(limit, options);
        },
      }),
    );
    await until(() => published.filter((p) => p.key === 'INSTANCE:db/late').length === 2);
    await until(async () => (await store.listUnpublished(1)).length === 0);
    expectPublishedOnceInOrder([...commits, late]);
  });

  it('copies published commits into a segment once they waited long enough, fewer than a segment holds', async () => {
    const commits = await backlog(1, 3);
    const segments: string[][] = [];
    relay = createRelay({
      eventStore: {
        ...store,
        writeSegment: async (copied) => {
          segments.push(copied.map((c) => `${c.aggregateId}@${c.seq}`));
        },
      },
      transport: createInProcessTransport({}),
      logger: createLogger('silent'),
      options: { batchSize: 3, pollIntervalMs: 20, segmentSize: 500, segmentMaxAgeMs: 100 },
    });
    relay.start();
    await until(() => segments.length > 0, 2_000);
    expect(segments.flat()).toEqual(commits.map((c) => `${c.aggregateId}@${c.seq}`));
  });

  it("when removing a page's entries fails, removes them on a later listing without publishing them again", async () => {
    const commits = await backlog(3, 10);
    let removals = 0;
    startRelay(
      recording({
        markPublished: async (refs) => {
          if (++removals === 2) throw new Error('S3 down');
          return store.markPublished(refs);
        },
      }),
    );
    await until(async () => (await store.listUnpublished(1)).length === 0);
    expect(removals).toBeGreaterThan(2);
    // Every commit published once: the relay remembers the entries it published (a restart forgets them,
    // and publishes those again: at least once).
    for (const c of commits) {
      expect(published.filter((p) => p.key === `INSTANCE:${c.aggregateId}` && p.seq === c.seq)).toHaveLength(
        c.envelopes.length,
      );
    }
    expect(published).toHaveLength(commits.flatMap((c) => c.envelopes).length);
  });
});
