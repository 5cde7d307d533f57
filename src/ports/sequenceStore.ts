/**
 * The write-side ledger: one row per aggregate with its reserved seq, whether it is live, and its
 * parent. Reserving against `expectedSeq` is the atomic OCC step of every append; cross-aggregate
 * guards (parent must be live, no live children) are checked in the same atomic step.
 */
export interface LedgerEntry {
  key: string;
  seq: number;
  live: boolean;
  parent: string | null;
  /** The highest seq known to be written to the event store. `seq > confirmedSeq` = in flight or burned. */
  confirmedSeq: number;
  reservedAt: number;
}

export interface ReservationRequest {
  key: string;
  expectedSeq: number;
  /** Reserved seq: expectedSeq + number of domain events. */
  nextSeq: number;
  liveAfter: boolean;
  parent: string | null;
  requireLive: string[];
  forbidLiveChildren: boolean;
}

export type ReservationResult =
  | { ok: true }
  | { ok: false; reason: 'conflict'; entry: LedgerEntry }
  | { ok: false; reason: 'not_live'; key: string }
  | { ok: false; reason: 'has_live_children'; count: number };

export interface SequenceStore {
  /** Atomically: check guards, then move `key` from expectedSeq to nextSeq. Never partially applies. */
  reserve(request: ReservationRequest): Promise<ReservationResult>;
  /** Records that the append of `seq` reached the event store (may lag; used to spot burned reservations). */
  confirm(key: string, seq: number): Promise<void>;
  /**
   * Rolls a reservation back to what the event store holds (after a failed or abandoned append):
   * only if the entry is still at `fromSeq`. Returns whether it changed.
   */
  rollback(key: string, fromSeq: number, to: { seq: number; live: boolean }): Promise<boolean>;
  get(key: string): Promise<LedgerEntry | null>;
  /** Live children of a parent (for the has-live-children guard and its repair). */
  liveChildren(parent: string, limit: number): Promise<LedgerEntry[]>;
  ping(): Promise<void>;
}
