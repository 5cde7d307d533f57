import type { AggregateType } from '../core/aggregate.js';
import type { Commit } from '../core/envelope.js';

/** Position of one commit in the store. */
export interface CommitRef {
  aggregateType: AggregateType;
  aggregateId: string;
  seq: number;
}

/**
 * The event store: the single source of truth. Key layout (same in S3 and on disk):
 *   events/<aggregateType>/<aggregateId>/<seq, 10 digits>.jsonl   one commit, written once
 *   indexes/unpublished/<aggregateType>/<aggregateId>/<seq>       relay outbox marker
 *   checkpoints/<name>.json                                       worker checkpoints
 */
export interface EventStore {
  /**
   * Writes a commit at (aggregate, seq) once and its relay marker. Resolves when both are durable.
   * Rejects with EventAlreadyExistsError if a commit is already at that position (never overwrites),
   * with UnavailableError if the storage cannot be reached (the commit may then be absent).
   */
  append(commit: Commit): Promise<void>;

  /** Commits of one aggregate with seq > afterSeq, in seq order, at most `limit` (default all). */
  readAggregate(ref: { aggregateType: AggregateType; aggregateId: string }, afterSeq?: number, limit?: number): Promise<Commit[]>;

  /** Reads the given commits (null where absent), in parallel where the storage allows. */
  readCommits(refs: CommitRef[]): Promise<(Commit | null)[]>;

  /** Relay outbox: refs of commits not yet published, ordered by aggregate then seq. */
  listUnpublished(limit: number): Promise<CommitRef[]>;

  /** Removes outbox markers after the commits were published. Idempotent. */
  markPublished(refs: CommitRef[]): Promise<void>;

  /** Every commit in the store, aggregate by aggregate in seq order (rebuild, consistency check). */
  scan(options?: { aggregateType?: AggregateType; pageSize?: number }): AsyncIterable<Commit>;

  /** Small named JSON documents stored beside the events (relay checkpoint). */
  getCheckpoint<T>(name: string): Promise<T | null>;
  putCheckpoint<T>(name: string, value: T): Promise<void>;

  /** A cheap round trip proving the storage answers (health). */
  ping(): Promise<void>;
}

export const SEQ_DIGITS = 10;
export const padSeq = (seq: number): string => String(seq).padStart(SEQ_DIGITS, '0');
export const commitKey = (r: CommitRef): string => `events/${r.aggregateType}/${r.aggregateId}/${padSeq(r.seq)}.jsonl`;
export const unpublishedKey = (r: CommitRef): string =>
  `indexes/unpublished/${r.aggregateType}/${r.aggregateId}/${padSeq(r.seq)}`;
export const UNPUBLISHED_PREFIX = 'indexes/unpublished/';
export const EVENTS_PREFIX = 'events/';
export const aggregatePrefix = (r: { aggregateType: AggregateType; aggregateId: string }): string =>
  `events/${r.aggregateType}/${r.aggregateId}/`;
export const checkpointKey = (name: string): string => `checkpoints/${name}.json`;

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
