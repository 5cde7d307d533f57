/**
 * The projector's idempotency registry (the seeds' `processed_events` + `aggregate_versions`).
 * A claim is a lease with a fencing token: any later write by a stale owner is refused.
 *
 * Everything is scoped by `handler` (e.g. 'projector'): two handlers track the same event apart.
 * Batch methods take one round trip per call in the Postgres adapter; callers pass whole batches.
 * Lease expiry is judged on the store's clock (the database's in Postgres), not the caller's.
 */
export interface ClaimRequest {
  eventId: string;
  aggregateKey: string;
  seq: number;
}

export type ClaimOutcome =
  /** The caller holds the lease; `fence` (monotonic per event, from 1) must accompany every later write. */
  | { eventId: string; outcome: 'claimed'; fence: number }
  /** Already applied (done) by someone. */
  | { eventId: string; outcome: 'done' }
  /** Another owner holds a live lease (or won a concurrent claim): try again later. */
  | { eventId: string; outcome: 'busy' }
  /** The aggregate was already applied at or beyond this seq: ignore. */
  | { eventId: string; outcome: 'stale'; lastSeq: number }
  /** Parked after too many failures. */
  | { eventId: string; outcome: 'parked' };

export interface ProcessedEventRegistry {
  /**
   * One outcome per request, in request order. Per event, the first that applies: done → parked →
   * stale (applied seq of the aggregate ≥ seq) → busy (another owner's unexpired lease) → claimed
   * (new record, an expired lease taken over, a failed event retried, or the caller's own lease
   * renewed; the fence increments each time, so the previous holder's fence is dead). A repeated
   * event id within one batch gets the outcome of its first occurrence.
   */
  claim(handler: string, owner: string, leaseMs: number, events: ClaimRequest[]): Promise<ClaimOutcome[]>;
  /**
   * Extends leases (to now + leaseMs) held by `owner` with the current fence; returns the event ids
   * whose lease was lost (taken over, done, failed, parked, purged: stop working on them). A lease
   * that expired but was not taken over yet is still held: its fence is still current.
   */
  heartbeat(
    handler: string,
    owner: string,
    leaseMs: number,
    claims: { eventId: string; fence: number }[],
  ): Promise<string[]>;
  /**
   * Marks claimed events done and advances each aggregate's applied seq monotonically
   * (max(current, seq)). Claims whose fence is stale are refused and returned; the other claims of
   * the batch still apply. Repeating a markDone with the fence that made the event done is accepted.
   */
  markDone(
    handler: string,
    claims: { eventId: string; fence: number; aggregateKey: string; seq: number }[],
  ): Promise<string[]>;
  /**
   * Records a failure under the current fence: attempts + 1, the error kept, the lease released so
   * the event can be claimed again at once ('retry'); once attempts ≥ maxAttempts the event is
   * parked (dead letter) with its error ('parked'). A stale fence changes nothing and answers
   * 'parked' if the event is parked, else 'retry'.
   */
  markFailed(
    handler: string,
    claim: { eventId: string; fence: number },
    error: string,
    maxAttempts: number,
  ): Promise<'retry' | 'parked'>;
  /** Applied seq per aggregate; keys never applied are absent from the map (read them as 0). */
  lastAppliedSeq(handler: string, aggregateKeys: string[]): Promise<Map<string, number>>;
  /** Parked events, oldest parked first, at most `limit`. */
  parked(
    handler: string,
    limit: number,
  ): Promise<{ eventId: string; aggregateKey: string; seq: number; error: string }[]>;
  /** Drops a parked event's record (attempts included) so it can be replayed. No-op unless parked. */
  unpark(handler: string, eventId: string): Promise<void>;
  /**
   * Deletes done records older than `olderThanMs` (since marked done); returns how many. Applied
   * seqs are never purged, so a redelivered purged event still claims as 'stale'.
   */
  purge(handler: string, olderThanMs: number): Promise<number>;
  /** Resolves when the store can serve; rejects with UnavailableError otherwise. */
  ping(): Promise<void>;
}
