/**
 * The write-side ledger: one row per aggregate with its reserved seq, whether it is live, and its
 * parent. Reserving against `expectedSeq` is the atomic OCC step of every append; cross-aggregate
 * guards (parent must be live, no live children) are checked in the same atomic step.
 *
 * An absent row reads as seq 0, not live, no parent. Keys are opaque strings (the composition of
 * aggregate type and id is the caller's business), compared byte-wise.
 */
export interface LedgerEntry {
  key: string;
  seq: number;
  live: boolean;
  parent: string | null;
  /** The highest seq known to be written to the event store. `seq > confirmedSeq` = in flight or burned. */
  confirmedSeq: number;
  /** When the current `seq` was reserved (epoch ms, the store's clock; 0 for a synthesized absent entry). */
  reservedAt: number;
}

export interface ReservationRequest {
  key: string;
  expectedSeq: number;
  /** Reserved seq: expectedSeq + number of domain events. */
  nextSeq: number;
  liveAfter: boolean;
  parent: string | null;
  /** Keys that must exist and be live (e.g. the database and class of a new instance). */
  requireLive: string[];
  /** Refuse when any row with `parent = key` is live (delete of a database or class). */
  forbidLiveChildren: boolean;
  /**
   * Keys that must still be at the given seq (an absent key is at 0): the versions the decision read,
   * e.g. the class an instance was validated against. Optional; none by default.
   */
  requireVersion?: { key: string; seq: number }[];
}

export type ReservationResult =
  /**
   * `reservedAt`: the store's clock (epoch ms) when the reservation was made, its guards' locks held.
   * Reservations that guard against each other are ordered by it (equal within a millisecond), so it
   * is the time a write is recorded as having happened.
   */
  | { ok: true; reservedAt: number }
  /** `entry` is the current row (synthesized with seq 0 when the key is absent). */
  | { ok: false; reason: 'conflict'; entry: LedgerEntry }
  /** The first key of `requireLive` (in the order given) that is absent or not live. */
  | { ok: false; reason: 'not_live'; key: string }
  /** The first key of `requireVersion` whose seq moved on; `entry` is its current row. */
  | { ok: false; reason: 'stale_version'; key: string; entry: LedgerEntry }
  | { ok: false; reason: 'has_live_children'; count: number };

export interface SequenceStore {
  /**
   * Atomically: check guards, then move `key` from expectedSeq to nextSeq. Never partially applies.
   *
   * Guards in this order, the first failing one answers: `conflict` (current seq ≠ expectedSeq),
   * `not_live`, `stale_version`, `has_live_children`. On success the row holds seq = nextSeq, live = liveAfter,
   * parent, reservedAt = now; confirmedSeq is kept. Of N concurrent reserves with one expectedSeq
   * exactly one succeeds. Guards are serialized against concurrent reserves of the keys they read:
   * a reserve requiring a live parent and a reserve forbidding that parent's live children never
   * both succeed (no live child under a dead parent), and a reserve requiring a version of a key and
   * a reserve moving that key past it never both succeed. Resolves once the reservation is durable.
   * Rejects with UnavailableError when the store cannot be reached or is too slow; the reservation
   * may or may not have been made then (read it back with `get`; a burned one is undone with
   * `rollback`). A malformed request (nextSeq ≤ expectedSeq, a key its own parent) throws RangeError.
   */
  reserve(request: ReservationRequest): Promise<ReservationResult>;
  /**
   * Records that the append of `seq` reached the event store (may lag; used to spot burned
   * reservations): confirmedSeq = max(confirmedSeq, seq). A no-op for an absent key. Idempotent.
   */
  confirm(key: string, seq: number): Promise<void>;
  /**
   * Rolls a reservation back to what the event store holds (after a failed or abandoned append):
   * only if the entry is still at `fromSeq` (compare-and-set; an absent key never matches). Sets seq
   * and live, caps confirmedSeq at `to.seq`, keeps parent. Returns whether it matched and changed.
   */
  rollback(key: string, fromSeq: number, to: { seq: number; live: boolean }): Promise<boolean>;
  /** The row, or null when the key was never reserved. */
  get(key: string): Promise<LedgerEntry | null>;
  /** Live children of a parent, in key order, at most `limit` (for the has-live-children guard and its repair). */
  liveChildren(parent: string, limit: number): Promise<LedgerEntry[]>;
  /**
   * Rows whose reserved seq is not confirmed (confirmedSeq < seq) and was reserved before
   * `reservedBefore` (epoch ms, the store's clock), oldest reservation first, at most `limit`.
   * These are appends still in flight, appends whose confirmation was lost, or reservations burned
   * by a writer that died: the outbox repair looks at each.
   *
   * "Before" compares against `reservedAt` as `get` answers it (whole ms): an entry is listed iff
   * reservedAt < reservedBefore, so a cut-off taken from the store's own clock never lists a
   * reservation made after it. Reservations in the same instant come in key order. Rows rolled back
   * to their confirmed seq are not listed; a later reserve lists the key again.
   */
  unconfirmed(reservedBefore: number, limit: number): Promise<LedgerEntry[]>;
  /**
   * Every row in key order after `afterKey` (null: from the first), at most `limit`: the ledger page
   * by page. A rebuild checks what it read from commit copies against it (every aggregate's
   * confirmed seq says how far its commits must reach).
   */
  entries(afterKey: string | null, limit: number): Promise<LedgerEntry[]>;
  /** Resolves when the store can serve; rejects with UnavailableError otherwise. */
  ping(): Promise<void>;
}
