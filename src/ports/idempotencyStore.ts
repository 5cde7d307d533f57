/**
 * Idempotency keys: scoped to the database and the mutation name, kept at least `retentionMs`
 * (the caller purges with its retention, ≥ 24 h per API.md).
 * `begin` is atomic: of two concurrent calls with one key exactly one gets `started`.
 */
export type BeginResult =
  /** The caller owns the key now (new, or taken over after the previous owner's lease expired): execute. */
  | { state: 'started' }
  /** Executed before with the same request: answer `response` again, execute nothing. */
  | { state: 'completed'; response: unknown }
  /** The key was used with another request hash (whatever its state): IDEMPOTENCY_KEY_REUSED. */
  | { state: 'mismatch' }
  /** Another caller executes the same request right now (lease not expired): wait and begin again. */
  | { state: 'in_progress' };

export interface IdempotencyStore {
  /**
   * Looks the key up within `scope` and, if it is new or its owner's lease (`leaseMs`) expired,
   * claims it. Checks in order: different hash → mismatch; completed → completed; started with a
   * live lease → in_progress; else → started (row written with this hash and a new lease).
   */
  begin(scope: string, key: string, requestHash: string, leaseMs: number): Promise<BeginResult>;
  /**
   * Stores the first answer (a JSON value); later `begin`s with the same hash return it. First
   * answer wins: completing an already completed key keeps the stored answer. A no-op for an
   * absent (released or purged) key.
   */
  complete(scope: string, key: string, response: unknown): Promise<void>;
  /** Forgets a started key whose command failed without appending, so a retry executes again. Completed keys are kept. */
  release(scope: string, key: string): Promise<void>;
  /** Deletes keys whose last write (begin or complete) is older than `olderThanMs`; returns how many. */
  purge(olderThanMs: number): Promise<number>;
}
