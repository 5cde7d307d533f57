import { randomBytes } from 'node:crypto';
import { type Commit, type Envelope, parseCommit, parseEnvelope, serializeCommit } from '../../core/envelope.js';
import {
  announceEntry,
  commitKey,
  type EventStoreHooks,
  groupEntryKey,
  type IndexRef,
  indexRefOf,
} from '../../ports/eventStore.js';

/**
 * Copies of commits stored together in one object: segments (a rebuild reads many commits with one
 * request) and the outbox's group entries (the relay reads many commits with one request). One line
 * per commit: its key (without the store prefix: printable ASCII, no tab), then for each envelope a
 * tab, `c` (command) or `d` (domain event), and the envelope's JSON as the commit holds it. JSON text
 * as written here has no raw tab or newline, so the envelopes are read straight from the line, and a
 * reader that needs the domain events only (a rebuild) parses no command.
 *
 * Objects written before this layout hold `<commit key>\t<the commit's text as a JSON string>`:
 * still read (every envelope parsed, twice: the string, then the commit).
 */
export const copyLine = (c: Commit, text: string = serializeCommit(c)): string => {
  const lines = text.split('\n');
  const escaped = () => `${commitKey(c)}\t${JSON.stringify(text)}\n`;
  if (lines.length !== c.envelopes.length + 1) return escaped();
  let line = commitKey(c);
  for (let i = 0; i < c.envelopes.length; i++) {
    const json = lines[i];
    // Whitespace a foreign writer left in an envelope's JSON: the older, escaping layout holds anything.
    if (json === undefined || json.includes('\t')) return escaped();
    line += `\t${c.envelopes[i]!.kind === 'command' ? 'c' : 'd'}${json}`;
  }
  return `${line}\n`;
};

/** The (commit key, copy) pairs of a copies object, the copy unparsed (see copyOf). */
export function* parseCopyLines(text: string): Generator<[string, string]> {
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) yield [line.slice(0, tab), line.slice(tab + 1)];
  }
}

/**
 * The commit a copy holds (`eventsOnly`: with its domain events only), or null when it does not
 * hold one: a line that does not parse, an envelope whose kind is not the one its line says, no
 * envelope left.
 */
export const copyOf = (copy: string, options: { eventsOnly?: boolean } = {}): Commit | null => {
  try {
    if (copy.startsWith('"')) {
      const text: unknown = JSON.parse(copy);
      return typeof text === 'string' ? parseCommit(text) : null;
    }
    const envelopes: Envelope[] = [];
    for (const part of copy.split('\t')) {
      const kind = part[0] === 'c' ? 'command' : part[0] === 'd' ? 'domain' : null;
      if (kind === null) return null;
      if (kind === 'command' && options.eventsOnly) continue;
      const envelope = parseEnvelope(part.slice(1));
      if (envelope.kind !== kind) return null;
      envelopes.push(envelope);
    }
    const last = envelopes[envelopes.length - 1];
    if (!last) return null;
    return { aggregateType: last.aggregateType, aggregateId: last.aggregateId, seq: last.seq, envelopes };
  } catch {
    return null;
  }
};

/**
 * The commits of a group entry, each checked to be the commit of its key. A group entry is written
 * whole by one PUT, so a line that is not a commit means the bucket was tampered with: throw rather
 * than publish less than the entry holds.
 */
export function parseGroupEntry(entry: string, text: string): Commit[] {
  const commits: Commit[] = [];
  for (const [key, body] of parseCopyLines(text)) {
    const commit = copyOf(body);
    if (!commit || commitKey(commit) !== key)
      throw new Error(`Outbox entry ${entry} holds an unreadable commit (${key})`);
    commits.push(commit);
  }
  if (commits.length === 0) throw new Error(`Outbox entry ${entry} holds no commit`);
  return commits;
}

const compareRefs = (a: IndexRef, b: IndexRef): number => {
  const ka = [a.recordedAt, a.aggregateType, a.aggregateId];
  const kb = [b.recordedAt, b.aggregateType, b.aggregateId];
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
  return a.seq - b.seq;
};

interface Pending {
  commit: Commit;
  text: string;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** An outbox entry being gathered: its key is chosen when its first commit joins, so it can be announced at once. */
interface OpenEntry {
  key: string;
  pending: Pending[];
  /** Its commits not announced yet (they are announced after the I/O that stored them, or as the entry's write starts). */
  unannounced: Commit[];
}

export interface GroupEntryWriter {
  /** Resolves once an outbox entry holding this commit (already stored at its key) is durable. */
  add(commit: Commit, text: string): Promise<void>;
}

/**
 * Group commit for the outbox: the commits whose appends reach this step while an entry is being
 * written wait, and share the next entry. One entry write is in flight at a time, so a lone append
 * waits for nothing, and under load N concurrent appends cost one PUT instead of N.
 *
 * Entries also start at least `minIntervalMs` apart (0 by default): at a few hundred appends/s a PUT
 * takes a few ms, so without it an entry holds one or two commits, and each entry costs a PUT, a
 * NOTIFY and a removal. The interval does not delay the relay: a commit is announced as soon as it
 * is stored (EventStoreHooks.onEntryWritten: the commits stored in one turn of the event loop make
 * one announcement, a part of their entry, which is open), and the entry's write, when it starts,
 * announces how many commits it holds. It delays only the appends' `indexed` (the ledger's
 * confirmation). An append after a quiet interval waits for nothing, and is announced once, whole.
 *
 * An entry is keyed at its first commit's recordedAt, but never before the previous entry of this
 * writer: the relay lists in key order, so one writer's entries are published in the order written,
 * which keeps each aggregate's commits in seq order (a later commit of an aggregate can only reach
 * this step after the earlier one did).
 */
export function createGroupEntryWriter(
  put: (key: string, body: string) => Promise<void>,
  options: { maxGroup?: number; minIntervalMs?: number } & EventStoreHooks = {},
): GroupEntryWriter {
  const { maxGroup = 500, minIntervalMs = 0 } = options;
  const writer = randomBytes(4).toString('hex');
  let counter = 0;
  let lastKeyTime = '';
  /** Entries not written yet, oldest first; a commit joins the last one while it has room. */
  const entries: OpenEntry[] = [];
  let writing = false;
  let announcing = false;
  let lastStart = Number.NEGATIVE_INFINITY;

  const open = (first: Commit): OpenEntry => {
    const earliest = indexRefOf(first).recordedAt;
    const keyTime = earliest > lastKeyTime ? earliest : lastKeyTime;
    lastKeyTime = keyTime;
    const name = `g-${writer}${(counter++).toString(16).padStart(16, '0')}.jsonl`;
    return { key: groupEntryKey(keyTime, name), pending: [], unannounced: [] };
  };

  /** Announces the commits stored since the last announcement, as parts of their entries (still open). */
  const announceParts = (): void => {
    announcing = false;
    for (const entry of entries) {
      if (entry.unannounced.length === 0) continue;
      announceEntry(options, { entry: entry.key, commits: entry.unannounced });
      entry.unannounced = [];
    }
  };

  async function flush(): Promise<void> {
    writing = true;
    while (entries.length > 0) {
      const wait = lastStart + minIntervalMs - performance.now();
      // The commits that arrive meanwhile join this entry.
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      lastStart = performance.now();
      const entry = entries.shift()!;
      const refs = entry.pending
        .map((p) => ({ p, ref: indexRefOf(p.commit) }))
        .sort((a, b) => compareRefs(a.ref, b.ref));
      const body = refs.map(({ p }) => copyLine(p.commit, p.text)).join('');
      // Closed: its last commits (durable already) and its size, so a relay that published them all
      // may remove it, while it is written.
      announceEntry(options, { entry: entry.key, commits: entry.unannounced, size: entry.pending.length });
      entry.unannounced = [];
      try {
        await put(entry.key, body);
      } catch (e) {
        for (const p of entry.pending) p.reject(e);
        continue;
      }
      for (const p of entry.pending) p.resolve();
    }
    writing = false;
  }

  return {
    add(commit, text) {
      return new Promise<void>((resolve, reject) => {
        let entry = entries[entries.length - 1];
        if (!entry || entry.pending.length >= maxGroup) {
          entry = open(commit);
          entries.push(entry);
        }
        entry.pending.push({ commit, text, resolve, reject });
        entry.unannounced.push(commit);
        if (!writing) void flush();
        // Unless the write just started (it announced the commit), after the I/O callbacks of this turn.
        if (entry.unannounced.length > 0 && !announcing) {
          announcing = true;
          setImmediate(announceParts);
        }
      });
    },
  };
}
