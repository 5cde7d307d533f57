import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppendSignal } from '../../src/ports/appendSignal.js';
import { unpublishedKey, type WrittenEntry } from '../../src/ports/eventStore.js';
import { waitFor } from '../support/wait.js';
import { makeCommit } from './eventStore.contract.js';

export type AppendSignalFactory = () => Promise<{
  /** Two ends of one channel: a writer's and a relay's (separate processes in production). */
  sender: AppendSignal;
  receiver: AppendSignal;
  /** Sends raw bytes on the channel, as something other than Cairn could; absent where nothing else can. */
  sendRaw?: (payload: string) => Promise<void>;
  cleanup: () => Promise<void>;
}>;

const entryOf = (id: string, seq: number): WrittenEntry => {
  const commit = makeCommit('INSTANCE', id, seq);
  return { entry: unpublishedKey({ ...commit, recordedAt: commit.envelopes[0]!.occurredAt }), commits: [commit] };
};

/** The behaviour every AppendSignal adapter must have. */
export function describeAppendSignalContract(name: string, factory: AppendSignalFactory): void {
  describe(`AppendSignal contract: ${name}`, () => {
    let ends: Awaited<ReturnType<AppendSignalFactory>>;
    let received: (WrittenEntry | undefined)[];
    let unlisten: () => Promise<void>;

    beforeEach(async () => {
      ends = await factory();
      received = [];
      unlisten = await ends.receiver.listen((entry) => received.push(entry));
    });
    afterEach(async () => {
      await unlisten();
      await ends.cleanup();
    });

    const receivedCount = (n: number) => waitFor(() => (received.length >= n ? true : undefined), { timeoutMs: 5_000 });

    it('hands over each entry, equal to what was written, in the order notified', async () => {
      const entries = Array.from({ length: 12 }, (_, i) => entryOf(`db/s${i % 3}`, 1 + Math.floor(i / 3)));
      // Whole entries (with their size), parts of an open one (without), and one's closing (its size only).
      for (const [i, e] of entries.entries()) if (i % 2 === 0) e.size = e.commits.length;
      entries.push({ entry: entries[1]!.entry, commits: [], size: 1 });
      for (const e of entries) ends.sender.notify(e);
      await receivedCount(entries.length);
      expect(received).toEqual(entries);
    });

    it('delivers a plain signal without an entry', async () => {
      ends.sender.notify();
      await receivedCount(1);
      expect(received[0]).toBeUndefined();
    });

    it('turns an entry too large to carry, or anything unreadable on the channel, into a plain signal', async () => {
      const big = entryOf('db/big', 1);
      big.commits[0]!.envelopes[1]!.payload = { blob: 'x'.repeat(20_000) };
      ends.sender.notify(big);
      await receivedCount(1);
      expect(received[0] === undefined || received[0] === big).toBe(true);
      if (!ends.sendRaw) return;
      // Beside a commit that fits: that one is carried, with the entry's size, and the big one left to a listing.
      const small = entryOf('db/small', 1).commits[0]!;
      ends.sender.notify({ entry: big.entry, commits: [small, big.commits[0]!], size: 2 });
      await receivedCount(4);
      const parts = received.slice(1, 4);
      expect(parts.flatMap((e) => e?.commits ?? [])).toEqual([small]);
      expect(parts.map((e) => e?.size).filter((n) => n !== undefined)).toEqual([2]);
      expect(parts.filter((e) => e === undefined)).toHaveLength(1);
      received.splice(1);
      for (const raw of [
        'not json',
        '{"entry":"elsewhere/x","commits":["{}"]}',
        '{"entry":"indexes/by-date/x","commits":["{"]}',
        '{"entry":"indexes/by-date/x","commits":[]}',
      ])
        await ends.sendRaw(raw);
      await receivedCount(5);
      expect(received.slice(1)).toEqual([undefined, undefined, undefined, undefined]);
    });
  });
}
