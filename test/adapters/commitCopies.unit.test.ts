import { describe, expect, it, vi } from 'vitest';
import {
  copyLine,
  copyOf,
  createGroupEntryWriter,
  parseCopyLines,
  parseGroupEntry,
} from '../../src/adapters/eventStore/commitCopies.js';
import { type Commit, serializeCommit, serializeEnvelope } from '../../src/core/envelope.js';
import { commitKey, type WrittenEntry } from '../../src/ports/eventStore.js';
import { makeCommit } from '../contract/eventStore.contract.js';

/** A commit whose payloads hold the characters the line layout depends on (tab, newline, quotes). */
const tricky = (id: string, seq: number, domainEvents = 1): Commit => {
  const c = makeCommit('INSTANCE', id, seq, domainEvents);
  return { ...c, envelopes: c.envelopes.map((e) => ({ ...e, payload: { text: 'a\tb\nc "d" \\t' } })) };
};

const linesOf = (text: string) => [...parseCopyLines(text)];

describe('commit copies', () => {
  it('reads back every commit of a copies object, envelope bytes included', () => {
    const commits = [tricky('db/a', 1), tricky('db/b', 4, 3), makeCommit('DATABASE', 'db', 2)];
    const text = commits.map((c) => copyLine(c)).join('');
    expect(text.split('\n')).toHaveLength(commits.length + 1);
    const read = linesOf(text).map(([key, copy]) => ({ key, commit: copyOf(copy) }));
    expect(read.map((r) => r.key)).toEqual(commits.map(commitKey));
    expect(read.map((r) => r.commit)).toEqual(commits);
    expect(read.map((r) => serializeCommit(r.commit!))).toEqual(commits.map((c) => serializeCommit(c)));
  });

  it('leaves commands out when asked for the domain events only', () => {
    const commit = tricky('db/a', 5, 2);
    const [[, copy]] = linesOf(copyLine(commit)) as [[string, string]];
    const events = copyOf(copy, { eventsOnly: true });
    expect(events).toEqual({ ...commit, envelopes: commit.envelopes.filter((e) => e.kind === 'domain') });
    expect(commitKey(events!)).toBe(commitKey(commit));
  });

  it('still reads the older layout (the commit text as a JSON string), commands included', () => {
    const commit = tricky('db/a', 2);
    const older = `${commitKey(commit)}\t${JSON.stringify(serializeCommit(commit))}\n`;
    const [[key, copy]] = linesOf(older) as [[string, string]];
    expect(key).toBe(commitKey(commit));
    expect(copyOf(copy)).toEqual(commit);
    expect(copyOf(copy, { eventsOnly: true })).toEqual(commit);
    expect(parseGroupEntry('entry', older)).toEqual([commit]);
  });

  it('writes the older layout for an envelope text holding a raw tab (whitespace a foreign writer left)', () => {
    const commit = makeCommit('INSTANCE', 'db/a', 1);
    const text = `${commit.envelopes.map((e) => serializeEnvelope(e).replace('"seq":', '"seq":\t')).join('\n')}\n`;
    const line = copyLine(commit, text);
    expect(line.split('\t')).toHaveLength(2);
    const [[, copy]] = linesOf(line) as [[string, string]];
    expect(serializeCommit(copyOf(copy)!)).toBe(text);
  });

  it('refuses a copy whose envelope is not of the kind its line says, or that does not parse', () => {
    const commit = makeCommit('INSTANCE', 'db/a', 1);
    const [[, copy]] = linesOf(copyLine(commit)) as [[string, string]];
    expect(copyOf(copy.replace(/^c/, 'd'))).toBeNull();
    expect(copyOf(copy.replace(/\td/, '\tx'))).toBeNull();
    expect(copyOf(copy.slice(0, -10))).toBeNull();
    expect(copyOf('c', { eventsOnly: true })).toBeNull();
    expect(() => parseGroupEntry('entry', `${commitKey(commit)}\t${copy.slice(0, -10)}\n`)).toThrow(/unreadable/);
  });
});

describe('group entry writer', () => {
  /** A put that waits until released, recording what it was given. */
  const heldPut = () => {
    const puts: { key: string; body: string; release: (e?: Error) => void }[] = [];
    const put = (key: string, body: string) =>
      new Promise<void>((resolve, reject) => {
        puts.push({ key, body, release: (e) => (e ? reject(e) : resolve()) });
      });
    return { puts, put };
  };

  it('announces a lone commit with its entry as the write starts, and resolves its append once the entry is durable', async () => {
    const { puts, put } = heldPut();
    const announced: WrittenEntry[] = [];
    const writer = createGroupEntryWriter(put, { onEntryWritten: (e) => announced.push(e) });
    const first = makeCommit('INSTANCE', 'db/a', 1);
    let resolved = false;
    const added = writer.add(first, serializeCommit(first)).then(() => {
      resolved = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(announced).toEqual([{ entry: puts[0]!.key, commits: [first], size: 1 }]);
    expect(resolved).toBe(false);

    // Appends arriving meanwhile share the next entry: announced at once as a part of it (the
    // commits stored in one turn together), then its size as its write starts.
    const later = [makeCommit('INSTANCE', 'db/b', 1), makeCommit('INSTANCE', 'db/c', 1)];
    const more = later.map((c) => writer.add(c, serializeCommit(c)));
    await new Promise((r) => setImmediate(r));
    expect(puts).toHaveLength(1);
    const next = announced[1]!.entry;
    expect(announced.slice(1)).toEqual([{ entry: next, commits: later }]);
    puts[0]!.release();
    await added;
    await new Promise((r) => setImmediate(r));
    expect(puts).toHaveLength(2);
    expect(puts[1]!.key).toBe(next);
    expect(announced[2]).toEqual({ entry: next, commits: [], size: 2 });
    expect(parseGroupEntry(puts[1]!.key, puts[1]!.body)).toEqual(later);
    puts[1]!.release();
    await Promise.all(more);
    expect(announced).toHaveLength(3);
  });

  it('starts entries at least minIntervalMs apart: the commits stored meanwhile share the next one, each announced at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
    try {
      const { puts, put } = heldPut();
      const announced: WrittenEntry[] = [];
      const writer = createGroupEntryWriter(put, { minIntervalMs: 10, onEntryWritten: (e) => announced.push(e) });
      const add = (c: Commit) => writer.add(c, serializeCommit(c));
      const tick = () => new Promise((r) => setImmediate(r));
      const [a, b, c, d] = ['db/a', 'db/b', 'db/c', 'db/d'].map((id) => makeCommit('INSTANCE', id, 1)) as [
        Commit,
        Commit,
        Commit,
        Commit,
      ];
      const first = add(a);
      await tick();
      expect(puts).toHaveLength(1);
      puts[0]!.release();
      await first;

      // Written 0 ms after the first started: waits out the interval, joined by what comes meanwhile.
      // The relay is told of each commit at once, not after the interval.
      const more = [add(b)];
      await tick();
      const entry = announced[1]!.entry;
      expect(announced.slice(1)).toEqual([{ entry, commits: [b] }]);
      await vi.advanceTimersByTimeAsync(9);
      more.push(add(c));
      await tick();
      expect(puts).toHaveLength(1);
      expect(announced.slice(2)).toEqual([{ entry, commits: [c] }]);
      await vi.advanceTimersByTimeAsync(1);
      expect(puts).toHaveLength(2);
      expect(puts[1]!.key).toBe(entry);
      expect(announced.slice(3)).toEqual([{ entry, commits: [], size: 2 }]);
      expect(parseGroupEntry(puts[1]!.key, puts[1]!.body)).toEqual([b, c]);
      puts[1]!.release();
      await Promise.all(more);

      // After a quiet interval an append waits for nothing.
      await vi.advanceTimersByTimeAsync(10);
      const last = add(d);
      await tick();
      expect(puts).toHaveLength(3);
      expect(announced.slice(4)).toEqual([{ entry: puts[2]!.key, commits: [d], size: 1 }]);
      puts[2]!.release();
      await last;
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects the appends of an entry whose write fails; a retry is a new entry under a new key', async () => {
    const { puts, put } = heldPut();
    const announced: WrittenEntry[] = [];
    const writer = createGroupEntryWriter(put, { onEntryWritten: (e) => announced.push(e) });
    const commit = makeCommit('INSTANCE', 'db/a', 1);
    const failed = writer.add(commit, serializeCommit(commit));
    await new Promise((r) => setImmediate(r));
    puts[0]!.release(new Error('S3 down'));
    await expect(failed).rejects.toThrow('S3 down');

    const retried = writer.add(commit, serializeCommit(commit));
    await new Promise((r) => setImmediate(r));
    puts[1]!.release();
    await retried;
    expect(announced.map((e) => e.entry)).toEqual([puts[0]!.key, puts[1]!.key]);
    expect(puts[1]!.key).not.toBe(puts[0]!.key);
  });
});
