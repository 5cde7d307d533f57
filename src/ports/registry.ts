/**
 * The projector's idempotency registry (the seeds' `processed_events` + `aggregate_versions`).
 * A claim is a lease with a fencing token: any later write by a stale owner is refused.
 */
export interface ClaimRequest {
  eventId: string;
  aggregateKey: string;
  seq: number;
}

export type ClaimOutcome =
  | { eventId: string; outcome: 'claimed'; fence: number }
  /** Already applied (done) by someone. */
  | { eventId: string; outcome: 'done' }
  /** Another owner holds a live lease. */
  | { eventId: string; outcome: 'busy' }
  /** The aggregate was already applied at or beyond this seq: ignore. */
  | { eventId: string; outcome: 'stale'; lastSeq: number }
  /** Parked after too many failures. */
  | { eventId: string; outcome: 'parked' };

export interface ProcessedEventRegistry {
  claim(handler: string, owner: string, leaseMs: number, events: ClaimRequest[]): Promise<ClaimOutcome[]>;
  /** Extends leases; returns the event ids whose lease was lost (stop working on them). */
  heartbeat(handler: string, owner: string, leaseMs: number, claims: { eventId: string; fence: number }[]): Promise<string[]>;
  /**
   * Marks claimed events done and advances each aggregate's applied seq monotonically. Claims whose
   * fence is stale are refused and returned.
   */
  markDone(handler: string, claims: { eventId: string; fence: number; aggregateKey: string; seq: number }[]): Promise<string[]>;
  /** Records a failure; after `maxAttempts` the event is parked (dead letter) with its error. */
  markFailed(handler: string, claim: { eventId: string; fence: number }, error: string, maxAttempts: number): Promise<'retry' | 'parked'>;
  lastAppliedSeq(handler: string, aggregateKeys: string[]): Promise<Map<string, number>>;
  parked(handler: string, limit: number): Promise<{ eventId: string; aggregateKey: string; seq: number; error: string }[]>;
  /** Drops a parked event's record so it can be replayed. */
  unpark(handler: string, eventId: string): Promise<void>;
  /** Deletes done records older than the retention; returns how many. */
  purge(handler: string, olderThanMs: number): Promise<number>;
  ping(): Promise<void>;
}
