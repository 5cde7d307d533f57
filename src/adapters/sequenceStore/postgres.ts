import type { Pool } from 'pg';
import type { LedgerEntry, ReservationResult, SequenceStore } from '../../ports/sequenceStore.js';
import { runQuery, toNumber, withSchema } from '../postgres/sql.js';
import { checkReservation } from './validate.js';

export interface PostgresSequenceStoreOptions {
  /** Owned by the caller (the composition root builds and ends it). */
  pool: Pool;
  /** Schema migrated by `migrate(pool, { schema })`. */
  schema: string;
}

interface ReserveRow {
  outcome: 'ok' | 'conflict' | 'not_live' | 'stale_version' | 'has_live_children';
  failed_key: string | null;
  child_count: string | null;
  seq: string | null;
  live: boolean | null;
  parent: string | null;
  confirmed_seq: string | null;
  reserved_at_ms: string | null;
}

interface EntryRow {
  key: string;
  seq: string;
  live: boolean;
  parent: string | null;
  confirmed_seq: string;
  reserved_at_ms: string;
}

const ENTRY_COLUMNS = `key, seq, live, parent, confirmed_seq, floor(extract(epoch FROM reserved_at) * 1000)::bigint AS reserved_at_ms`;

const toEntry = (row: EntryRow): LedgerEntry => ({
  key: row.key,
  seq: toNumber(row.seq),
  live: row.live,
  parent: row.parent,
  confirmedSeq: toNumber(row.confirmed_seq),
  reservedAt: toNumber(row.reserved_at_ms),
});

/** The row `ledger_reserve` reports with a refusal. */
const reservedEntry = (key: string, row: ReserveRow): LedgerEntry => ({
  key,
  seq: toNumber(row.seq),
  live: row.live ?? false,
  parent: row.parent,
  confirmedSeq: toNumber(row.confirmed_seq),
  reservedAt: toNumber(row.reserved_at_ms),
});

/**
 * The ledger in PostgreSQL (table `ledger`). `reserve` is one call of the `ledger_reserve` function
 * (migrations 001 and 004): one round trip that locks the rows its guards read and decides atomically.
 * `unconfirmed` reads the partial index of migration 005.
 */
export function createPostgresSequenceStore({ pool, schema }: PostgresSequenceStoreOptions): SequenceStore {
  const sql = {
    reserve: withSchema(
      `SELECT * FROM {schema}.ledger_reserve($1, $2, $3, $4, $5, $6::text[], $7, $8::text[], $9::bigint[])`,
      schema,
    ),
    confirm: withSchema(`UPDATE {schema}.ledger SET confirmed_seq = $2 WHERE key = $1 AND confirmed_seq < $2`, schema),
    rollback: withSchema(
      `UPDATE {schema}.ledger SET seq = $3, live = $4, confirmed_seq = LEAST(confirmed_seq, $3)
        WHERE key = $1 AND seq = $2`,
      schema,
    ),
    get: withSchema(`SELECT ${ENTRY_COLUMNS} FROM {schema}.ledger WHERE key = $1`, schema),
    liveChildren: withSchema(
      `SELECT ${ENTRY_COLUMNS} FROM {schema}.ledger WHERE parent = $1 AND live ORDER BY key LIMIT $2`,
      schema,
    ),
    // Keys are non-empty and `key` sorts byte-wise (COLLATE "C"): a range scan of the primary key.
    entries: withSchema(
      `SELECT ${ENTRY_COLUMNS} FROM {schema}.ledger WHERE key > coalesce($1::text, '') ORDER BY key LIMIT $2`,
      schema,
    ),
    // The predicate repeats the partial index's (migration 005) so the planner can use it. `reserved_at <
    // $1 ms` equals `floor(ms(reserved_at)) < $1` (the reservedAt `get` answers) for a whole $1, and
    // stays sargable.
    unconfirmed: withSchema(
      `SELECT ${ENTRY_COLUMNS} FROM {schema}.ledger
        WHERE confirmed_seq < seq AND reserved_at < to_timestamp($1::float8 / 1000)
        ORDER BY reserved_at, key LIMIT $2`,
      schema,
    ),
  };

  return {
    async reserve(request): Promise<ReservationResult> {
      checkReservation(request);
      const { rows } = await runQuery<ReserveRow>(pool, sql.reserve, [
        request.key,
        request.expectedSeq,
        request.nextSeq,
        request.liveAfter,
        request.parent,
        request.requireLive,
        request.forbidLiveChildren,
        (request.requireVersion ?? []).map((v) => v.key),
        (request.requireVersion ?? []).map((v) => v.seq),
      ]);
      const row = rows[0];
      switch (row?.outcome) {
        case 'ok':
          return { ok: true, reservedAt: toNumber(row.reserved_at_ms) };
        case 'conflict':
          return { ok: false, reason: 'conflict', entry: reservedEntry(request.key, row) };
        case 'stale_version': {
          const key = row.failed_key ?? '';
          return { ok: false, reason: 'stale_version', key, entry: reservedEntry(key, row) };
        }
        case 'not_live':
          return { ok: false, reason: 'not_live', key: row.failed_key ?? '' };
        case 'has_live_children':
          return { ok: false, reason: 'has_live_children', count: toNumber(row.child_count) };
        default:
          throw new Error(`ledger_reserve answered ${JSON.stringify(row)}`);
      }
    },

    async confirm(key, seq) {
      await runQuery(pool, sql.confirm, [key, seq]);
    },

    async rollback(key, fromSeq, to) {
      const { rowCount } = await runQuery(pool, sql.rollback, [key, fromSeq, to.seq, to.live]);
      return rowCount > 0;
    },

    async get(key) {
      const { rows } = await runQuery<EntryRow>(pool, sql.get, [key]);
      return rows[0] ? toEntry(rows[0]) : null;
    },

    async liveChildren(parent, limit) {
      const { rows } = await runQuery<EntryRow>(pool, sql.liveChildren, [parent, Math.max(0, limit)]);
      return rows.map(toEntry);
    },

    async unconfirmed(reservedBefore, limit) {
      const { rows } = await runQuery<EntryRow>(pool, sql.unconfirmed, [reservedBefore, Math.max(0, limit)]);
      return rows.map(toEntry);
    },

    async entries(afterKey, limit) {
      const { rows } = await runQuery<EntryRow>(pool, sql.entries, [afterKey, Math.max(0, limit)]);
      return rows.map(toEntry);
    },

    async ping() {
      await runQuery(pool, 'SELECT 1');
    },
  };
}
