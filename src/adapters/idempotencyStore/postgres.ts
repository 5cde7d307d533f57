import type { Pool } from 'pg';
import type { BeginResult, IdempotencyStore } from '../../ports/idempotencyStore.js';
import { runQuery, withSchema } from '../postgres/sql.js';

export interface PostgresIdempotencyStoreOptions {
  /** Owned by the caller (the composition root builds and ends it). */
  pool: Pool;
  /** Schema migrated by `migrate(pool, { schema })`. */
  schema: string;
}

interface KeyRow {
  request_hash: string;
  state: 'started' | 'completed';
  response: unknown;
  leased: boolean;
}

/**
 * Idempotency keys in PostgreSQL (table `idempotency_keys`). `begin` is one upsert that inserts a
 * new key or takes over an expired lease of the same request (one round trip); only when it claims
 * nothing does a second read tell why. Leases are judged on the database clock.
 */
export function createPostgresIdempotencyStore({ pool, schema }: PostgresIdempotencyStoreOptions): IdempotencyStore {
  const sql = {
    claim: withSchema(
      `INSERT INTO {schema}.idempotency_keys AS k (scope, key, request_hash, state, lease_until)
       VALUES ($1, $2, $3, 'started', now() + $4 * interval '1 millisecond')
       ON CONFLICT (scope, key) DO UPDATE
          SET lease_until = EXCLUDED.lease_until, updated_at = now()
        WHERE k.state = 'started' AND k.request_hash = EXCLUDED.request_hash AND k.lease_until <= now()
       RETURNING 1`,
      schema,
    ),
    read: withSchema(
      `SELECT request_hash, state, response, coalesce(lease_until > now(), false) AS leased
         FROM {schema}.idempotency_keys WHERE scope = $1 AND key = $2`,
      schema,
    ),
    complete: withSchema(
      `UPDATE {schema}.idempotency_keys
          SET state = 'completed', response = $3::json, lease_until = NULL, updated_at = now()
        WHERE scope = $1 AND key = $2 AND state = 'started'`,
      schema,
    ),
    release: withSchema(
      `DELETE FROM {schema}.idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'started'`,
      schema,
    ),
    purge: withSchema(
      `DELETE FROM {schema}.idempotency_keys WHERE updated_at < now() - $1 * interval '1 millisecond'`,
      schema,
    ),
  };

  return {
    async begin(scope, key, requestHash, leaseMs): Promise<BeginResult> {
      // A key released between the upsert and the read is claimed on the next turn.
      for (let attempt = 0; attempt < 10; attempt++) {
        const claimed = await runQuery(pool, sql.claim, [scope, key, requestHash, leaseMs]);
        if (claimed.rowCount > 0) return { state: 'started' };
        const { rows } = await runQuery<KeyRow>(pool, sql.read, [scope, key]);
        const row = rows[0];
        if (!row) continue;
        if (row.request_hash !== requestHash) return { state: 'mismatch' };
        if (row.state === 'completed') return { state: 'completed', response: row.response };
        // Expired between the two statements: claim it on the next turn.
        if (row.leased) return { state: 'in_progress' };
      }
      return { state: 'in_progress' };
    },

    async complete(scope, key, response) {
      await runQuery(pool, sql.complete, [scope, key, JSON.stringify(response ?? null)]);
    },

    async release(scope, key) {
      await runQuery(pool, sql.release, [scope, key]);
    },

    async purge(olderThanMs) {
      return (await runQuery(pool, sql.purge, [olderThanMs])).rowCount;
    },
  };
}
