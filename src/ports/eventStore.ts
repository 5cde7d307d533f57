import type { AggregateType } from '../core/aggregate.js';
import type { Commit } from '../core/envelope.js';

/** Position of one commit in the store. */
export interface CommitRef {
  aggregateType: AggregateType;
  aggregateId: string;
  seq: number;
}

/** An entry of the by-date index: a commit's position and when it was recorded (its envelopes' occurredAt). */
export interface IndexRef extends CommitRef {
  recordedAt: string;
}

/** A listed outbox ref: which entry holds it, and the commit itself when the entry carries it. */
export interface UnpublishedRef extends IndexRef {
  /** The entry's key (opaque to callers); refs of one entry are listed, and removed, together. */
  entry: string;
  /** Present when the entry holds a copy of the commit (a group entry): no need to read it by key. */
  commit?: Commit;
}

/**
 * Durable commits of an outbox entry, announced before the entry is listed (see
 * EventStoreHooks.onEntryWritten): the whole entry, or a part of one still being gathered.
 */
export interface WrittenEntry {
  /** The entry's key, as listUnpublished gives it in `UnpublishedRef.entry`. */
  entry: string;
  /** Commits the entry holds (all of them, or this part's; none when the announcement only closes it). */
  commits: Commit[];
  /**
   * How many commits the entry holds, once that is known: the commits of all its announcements add up
   * to it, so a relay that published them all may remove the entry. Absent while the entry is open:
   * more parts may come, and removing it would lose them.
   */
  size?: number;
}

/** What every adapter can be told at creation. */
export interface EventStoreHooks {
  /**
   * Called as commits become durable, with the key of the outbox entry that holds (or will hold)
   * them, before their appends' `indexed` resolves, so a relay can publish them without listing the
   * outbox (see AppendSignal). An entry is announced whole (`size` set), or in parts while it is
   * being gathered (a group entry: each part as its commits are stored, then its size as its write
   * starts). The entry itself may still be unwritten: a relay removing it at once may miss it, and
   * finds it on a later listing. An entry whose write fails is not retried under its key (its
   * commits go into a later entry, announced again). Must neither throw nor block; a lost call only
   * costs the relay one listing.
   */
  onEntryWritten?: (entry: WrittenEntry) => void;
}

/** Tells `hooks` of a written entry; a hook that throws never fails the appends (it is only a hint). */
export const announceEntry = (hooks: EventStoreHooks, entry: WrittenEntry): void => {
  try {
    hooks.onEntryWritten?.(entry);
  } catch {
    // the relay lists the entry anyway
  }
};

/** The refs of an entry, each carrying its commit, in the order the entry holds them. */
export const refsOfEntry = (entry: string, commits: Commit[]): UnpublishedRef[] =>
  commits.map((commit) => {
    // Fields written out: adding fields after a spread is a slow path on Node 20 (see core/projection.ts).
    const { aggregateType, aggregateId, seq, recordedAt } = indexRefOf(commit);
    return { aggregateType, aggregateId, seq, recordedAt, entry, commit };
  });

/** The position and time of a listed ref, without where it was listed from (tests, logs). */
export const plainIndexRef = (r: IndexRef): IndexRef => ({
  aggregateType: r.aggregateType,
  aggregateId: r.aggregateId,
  seq: r.seq,
  recordedAt: r.recordedAt,
});

/**
 * The event store: the single source of truth. Key layout (same in S3 and on disk):
 *   events/<aggregateType>/<aggregateId>/<seq, 10 digits>.jsonl         by aggregate: one commit, written once
 *   indexes/by-date/<YYYY-MM-DD>/<HHMMSSmmm>/<type>/<aggregateId>/<seq>  the relay's outbox: a marker (empty)
 *   indexes/by-date/<YYYY-MM-DD>/<HHMMSSmmm>/g-<24 hex>.jsonl            the relay's outbox: a group entry
 *   checkpoints/<name>.json                                             worker checkpoints
 *   segments/<time>-<random>.jsonl                                      copies of published commits (optional)
 *
 * The by-date index (the outbox) lists commits in the order they were recorded; the relay tails it
 * and removes an entry once its commits are published, so what is listed is exactly what is left to
 * publish: a commit that lands late, or with a skewed clock, is listed whatever its date and can
 * never be skipped. An entry is either a marker naming one commit (written with the commit, so it
 * may name one that never landed) or a group entry: copies of several commits, written after all of
 * them landed, under the earliest one's time (one PUT for all the appends in flight together, and
 * one read for the relay instead of one per commit).
 *
 * An aggregate id may contain '/' ("db/inst-1"); it becomes nested folders on disk. Every listing is
 * in key order (plain byte order of the full key, as S3 lists), so one aggregate's keys are
 * contiguous and, thanks to the zero padding, in seq order.
 */
export interface EventStore {
  /**
   * Writes a commit at (aggregate, seq) once, and its outbox marker. Resolves when both are durable.
   *
   * - Rejects with EventAlreadyExistsError if another commit is already at that position: the store
   *   never overwrites, and of N concurrent appends of different commits at one position exactly one
   *   resolves. A marker may still be (re)written; the relay then publishes the existing commit once
   *   more (at-least-once).
   * - Resolves if the very same commit (byte for byte, so the same event ids) is already stored: an
   *   append is safe to retry, and the retry repairs a missing marker.
   * - Rejects with UnavailableError if the storage cannot be reached or is too slow. The commit may
   *   or may not be stored then (and may be visible to reads): retry the same append until it
   *   resolves or rejects with EventAlreadyExistsError; do not acknowledge before.
   *
   * A marker can exist without its commit (an append in flight, or one that failed between the two
   * writes): readCommits then gives null for it. The relay must leave such a marker alone until it
   * is older than any append can take, and may then drop it (the append was never acknowledged).
   * Where the outbox entry is written after the commit (a group entry), a writer that dies between
   * the two leaves a commit without an entry (acknowledged or not, see appendCommit): its ledger
   * reservation stays unconfirmed, and the outbox repair (app/outboxRepair.ts) re-appends it.
   */
  append(commit: Commit): Promise<void>;

  /**
   * `append`, answering as soon as the commit itself is durable: `indexed` settles when its outbox
   * entry is written too (or rejects when it could not be; the commit stays stored). For writers
   * that acknowledge on the commit and confirm their ledger reservation only once it is indexed: an
   * unconfirmed reservation is what leads the outbox repair to a commit without an entry. Rejects as
   * `append` does when the commit's own write fails.
   */
  appendCommit(commit: Commit): Promise<{ indexed: Promise<void> }>;

  /**
   * Commits of one aggregate with seq > afterSeq (default 0), in seq order, at most `limit`
   * (default all). One bounded listing of the aggregate's own keys; an unknown aggregate gives [].
   */
  readAggregate(
    ref: { aggregateType: AggregateType; aggregateId: string },
    afterSeq?: number,
    limit?: number,
  ): Promise<Commit[]>;

  /** Reads the given commits (null where absent), in the order asked, in parallel where the storage allows. */
  readCommits(refs: CommitRef[]): Promise<(Commit | null)[]>;

  /**
   * The outbox: commits not yet published, entry by entry in key order (entries oldest first by
   * recordedAt; a group entry's commits in recordedAt, aggregate type, id and seq order). Lists
   * entries until at least `limit` refs (or the end); an entry is never split, so a group can take
   * it past `limit`. One aggregate's commits are listed in seq order when one writer appended them
   * (appends through several writers race as they do in any outbox: the projector repairs a gap
   * from the store).
   *
   * `after` (an `UnpublishedRef.entry` of an earlier listing) lists only the entries whose key sorts
   * after that entry's: a relay lists its backlog's next page while it publishes this one. Entries
   * written behind such a page (a late or clock-skewed commit) are found only by a listing from the
   * beginning, so a chain of these must start again from there.
   */
  listUnpublished(limit: number, options?: { after?: string }): Promise<UnpublishedRef[]>;

  /**
   * Removes the outbox entries holding these refs after their commits were published: the whole
   * entry, so pass every ref of an entry together (a plain IndexRef names its marker). Idempotent
   * (absent entries are fine).
   */
  markPublished(refs: (IndexRef | UnpublishedRef)[]): Promise<void>;

  /**
   * Every commit in the store (or of one aggregate type), in key order: aggregate by aggregate, each
   * in seq order. Reads `pageSize` commits at a time (rebuild, consistency check).
   */
  scan(options?: { aggregateType?: AggregateType; pageSize?: number }): AsyncIterable<Commit>;

  /**
   * Optional: every commit this store holds a copy of (outbox group entries, then segments), in no
   * useful order, some more than once, and not necessarily all of them: most of the store read with
   * few requests and without listing every commit key. Whoever needs every commit completes it
   * against the ledger (app/rebuild.ts); `scan` stays the complete read. `eventsOnly`: commands may
   * be left out (a fold reads domain events only, and a command left out is never parsed).
   */
  scanCopies?(options?: { eventsOnly?: boolean }): AsyncIterable<Commit>;

  /**
   * Optional read accelerator: stores copies of commits already in the store together, in one object
   * (the relay writes one per few hundred commits it published), so a scan reads many commits with
   * one request instead of one each. The commit keys stay the truth: a scan still lists every commit
   * and reads any commit no segment holds, and commits are immutable, so a copy is never stale and a
   * lost or partial segment only costs speed.
   */
  writeSegment?(commits: Commit[]): Promise<void>;

  /** Small named JSON documents stored beside the events (relay checkpoint). Last write wins. */
  getCheckpoint<T>(name: string): Promise<T | null>;
  putCheckpoint<T>(name: string, value: T): Promise<void>;

  /** A cheap round trip proving the storage answers (health). Rejects with UnavailableError. */
  ping(): Promise<void>;
}

export const SEQ_DIGITS = 10;
export const MAX_SEQ = 10 ** SEQ_DIGITS - 1;
export const padSeq = (seq: number): string => String(seq).padStart(SEQ_DIGITS, '0');
export const commitKey = (r: CommitRef): string => `events/${r.aggregateType}/${r.aggregateId}/${padSeq(r.seq)}.jsonl`;
export const UNPUBLISHED_PREFIX = 'indexes/by-date/';
const RECORDED_AT = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$/;
/** `indexes/by-date/<YYYY-MM-DD>/<HHMMSSmmm>/<type>/<aggregateId>/<seq>`: key order is time order. */
export const unpublishedKey = (r: IndexRef): string => {
  const m = RECORDED_AT.exec(new Date(r.recordedAt).toISOString());
  if (!m) throw new RangeError(`recordedAt ${JSON.stringify(r.recordedAt)} is not a date`);
  return `${UNPUBLISHED_PREFIX}${m[1]}/${m[2]}${m[3]}${m[4]}${m[5]}/${r.aggregateType}/${r.aggregateId}/${padSeq(r.seq)}`;
};
/** The outbox object a ref is published from: its listed entry, or for a bare ref its marker. */
export const outboxEntryOf = (r: IndexRef | UnpublishedRef): string => ('entry' in r ? r.entry : unpublishedKey(r));
/** File name of a group entry in the outbox (see the key layout above). */
export const GROUP_ENTRY_FILE = /^g-[0-9a-f]{24}\.jsonl$/;
/** `indexes/by-date/<YYYY-MM-DD>/<HHMMSSmmm>/g-<24 hex>.jsonl`: listed at `recordedAt`, its earliest commit's time. */
export const groupEntryKey = (recordedAt: string, name: string): string => {
  const m = RECORDED_AT.exec(new Date(recordedAt).toISOString());
  if (!m) throw new RangeError(`recordedAt ${JSON.stringify(recordedAt)} is not a date`);
  if (!GROUP_ENTRY_FILE.test(name)) throw new RangeError(`Invalid group entry name ${JSON.stringify(name)}`);
  return `${UNPUBLISHED_PREFIX}${m[1]}/${m[2]}${m[3]}${m[4]}${m[5]}/${name}`;
};
/** The index entry of a commit: recorded when its envelopes occurred. */
export const indexRefOf = (c: Commit): IndexRef => ({
  aggregateType: c.aggregateType,
  aggregateId: c.aggregateId,
  seq: c.seq,
  recordedAt: new Date(c.envelopes[0]?.occurredAt ?? Number.NaN).toISOString(),
});
/** Parses a by-date index key (without the store's own prefix) back into its ref; null if it is not one. */
export const parseIndexKey = (key: string): IndexRef | null => {
  const m = /^indexes\/by-date\/(\d{4}-\d{2}-\d{2})\/(\d{2})(\d{2})(\d{2})(\d{3})\/(.+)$/.exec(key);
  if (!m) return null;
  const ref = parseRefKey(m[6]!, '');
  return ref && { ...ref, recordedAt: `${m[1]}T${m[2]}:${m[3]}:${m[4]}.${m[5]}Z` };
};
export const EVENTS_PREFIX = 'events/';
export const CHECKPOINTS_PREFIX = 'checkpoints/';
export const SEGMENTS_PREFIX = 'segments/';
export const aggregatePrefix = (r: { aggregateType: AggregateType; aggregateId: string }): string =>
  `events/${r.aggregateType}/${r.aggregateId}/`;
export const checkpointKey = (name: string): string => `checkpoints/${name}.json`;

/** File name of a commit inside its aggregate's folder: exactly the padded seq and `.jsonl`. */
export const COMMIT_FILE = /^\d{10}\.jsonl$/;
/** File name of an outbox marker inside its aggregate's folder. */
export const MARKER_FILE = /^\d{10}$/;

/** Parses "<prefix><type>/<aggregateId>/<seq>[.jsonl]" back into a ref. */
export const parseRefKey = (key: string, prefix: string): CommitRef | null => {
  const rest = key.slice(prefix.length);
  const firstSlash = rest.indexOf('/');
  const lastSlash = rest.lastIndexOf('/');
  if (firstSlash < 0 || lastSlash <= firstSlash) return null;
  const seq = Number.parseInt(rest.slice(lastSlash + 1), 10);
  if (!Number.isSafeInteger(seq)) return null;
  return {
    aggregateType: rest.slice(0, firstSlash) as CommitRef['aggregateType'],
    aggregateId: rest.slice(firstSlash + 1, lastSlash),
    seq,
  };
};

// A key part is safe on every backend (and sorts the same in JS and S3): printable ASCII without
// space or backslash, and no empty, "." or ".." segment.
const PRINTABLE_ASCII = /^[!-[\]-~]+$/;
const EMPTY_OR_DOT_SEGMENT = /(^|\/)\.{0,2}(\/|$)/;

/** Throws a RangeError unless the id can be a key part on every backend (a programming error). */
export const assertSafeKeyPart = (what: string, value: string): void => {
  if (typeof value !== 'string' || !PRINTABLE_ASCII.test(value) || EMPTY_OR_DOT_SEGMENT.test(value)) {
    throw new RangeError(`Unsafe ${what} for the event store: ${JSON.stringify(value)}`);
  }
};

/** Throws a RangeError unless the ref names a valid position (safe id, 1 <= seq <= MAX_SEQ). */
export const assertValidRef = (r: CommitRef): void => {
  assertSafeKeyPart('aggregate type', r.aggregateType);
  assertSafeKeyPart('aggregate id', r.aggregateId);
  if (!Number.isSafeInteger(r.seq) || r.seq < 1 || r.seq > MAX_SEQ) {
    throw new RangeError(`Invalid seq ${String(r.seq)} for ${r.aggregateId}`);
  }
};

/**
 * Throws a RangeError unless the commit reads back as itself: at least one envelope, every envelope
 * of this aggregate, and the last one at the commit's seq (parseCommit takes the position from it).
 */
export const assertValidCommit = (c: Commit): void => {
  assertValidRef(c);
  const last = c.envelopes[c.envelopes.length - 1];
  if (!last) throw new RangeError(`Empty commit ${c.aggregateId}@${c.seq}`);
  if (last.seq !== c.seq) throw new RangeError(`Commit ${c.aggregateId}@${c.seq} ends at seq ${last.seq}`);
  for (const e of c.envelopes) {
    if (e.aggregateType !== c.aggregateType || e.aggregateId !== c.aggregateId) {
      throw new RangeError(`Envelope ${e.eventId} of ${e.aggregateId} in commit of ${c.aggregateId}`);
    }
  }
};
