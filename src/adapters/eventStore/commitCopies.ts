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

export interface GroupEntryWriter {
  /** Resolves once an outbox entry holding this commit (already stored at its key) is durable. */
  add(commit: Commit, text: string): Promise<void>;
}

/**
 * Group commit for the outbox: the commits whose appends reach this step while an entry is being
 * written wait, and share the next entry. One entry write is in flight at a time, so a lone append
 * waits for nothing, and under load N concurrent appends cost one PUT instead of N.
 *
 * Entries also start at least `minIntervalMs` apart (0 by default). Without it a writer at a moderate rate (a few
 * hundred appends/s) writes about one entry per commit, since a PUT takes a few ms; each entry then
 * costs a PUT, a removal, a NOTIFY, a relay publication and a small batch on every later stage
 * (Kafka, projector, Elasticsearch). Spacing entries turns those into one per interval, at the
 * cost of up to `minIntervalMs` before a commit's entry starts (and so before the relay is told of
 * it). An append after a quiet interval still waits for nothing.
 *
 * An entry is keyed at its earliest commit's recordedAt, but never before the previous entry of this
 * writer: the relay lists in key order, so one writer's entries are published in the order written,
 * which keeps each aggregate's commits in seq order (a later commit of an aggregate can only reach
 * this step after the earlier one did).
 */
export function createGroupEntryWriter(
  put: (key: string, body: string) => Promise<void>,
  options: { maxGroup?: number; minIntervalMs?: number } & EventStoreHooks = {},
): GroupEntryWriter {
  const { maxGroup = 500, minIntervalMs = 0, onEntryWritten } = options;
  const writer = randomBytes(4).toString('hex');
  let counter = 0;
  let lastKeyTime = '';
  let queue: Pending[] = [];
  let writing = false;
  let lastStart = Number.NEGATIVE_INFINITY;

  const nameOf = (): string => `g-${writer}${(counter++).toString(16).padStart(16, '0')}.jsonl`;

  async function flush(): Promise<void> {
    writing = true;
    while (queue.length > 0) {
      const wait = lastStart + minIntervalMs - performance.now();
      // The commits that arrive meanwhile join this group.
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      lastStart = performance.now();
      const group = queue.slice(0, maxGroup);
      queue = queue.slice(group.length);
      const refs = group.map((p) => ({ p, ref: indexRefOf(p.commit) })).sort((a, b) => compareRefs(a.ref, b.ref));
      const earliest = refs[0]!.ref.recordedAt;
      const keyTime = earliest > lastKeyTime ? earliest : lastKeyTime;
      lastKeyTime = keyTime;
      const key = groupEntryKey(keyTime, nameOf());
      const body = refs.map(({ p }) => copyLine(p.commit, p.text)).join('');
      // Its commits are durable already: the relay may publish them while the entry is written.
      announceEntry({ onEntryWritten }, { entry: key, commits: refs.map(({ p }) => p.commit) });
      try {
        await put(key, body);
      } catch (e) {
        for (const p of group) p.reject(e);
        continue;
      }
      for (const p of group) p.resolve();
    }
    writing = false;
  }

  return {
    add(commit, text) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ commit, text, resolve, reject });
        if (!writing) void flush();
      });
    },
  };
}
