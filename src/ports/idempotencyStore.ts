/**
 * Idempotency keys: scoped to the database and the mutation name, kept at least `retentionMs`.
 * `begin` is atomic: of two concurrent calls with one key exactly one gets `started`.
 */
export type BeginResult =
  | { state: 'started' }
  | { state: 'completed'; response: unknown }
  | { state: 'mismatch' }
  | { state: 'in_progress' };

export interface IdempotencyStore {
  begin(scope: string, key: string, requestHash: string, leaseMs: number): Promise<BeginResult>;
  /** Stores the first answer; later `begin`s with the same hash return it. */
  complete(scope: string, key: string, response: unknown): Promise<void>;
  /** Forgets a started key whose command failed without appending, so a retry executes again. */
  release(scope: string, key: string): Promise<void>;
  /** Deletes keys older than the retention; returns how many. */
  purge(olderThanMs: number): Promise<number>;
}
