import type { Pool } from 'pg';
import type { LedgerEntry, ReservationRequest, ReservationResult, SequenceStore } from '../../ports/sequenceStore.js';
import { batchWhileBusy } from '../postgres/batchWhileBusy.js';
import { runQuery, toNumber, withSchema } from '../postgres/sql.js';
import { checkReservation } from './validate.js';

export interface PostgresSequenceStoreOptions {
  /** Owned by the caller (the composition root builds and ends it). */
  pool: Pool;
  /** Schema migrated by `migrate(pool, { schema })`. */
  schema: string;
}

interface ReserveRow {
  i: string;
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

/** Requests in one reserve, confirm or get statement at most. */
const MAX_BATCH = 256;

/**
 * How long a confirmation waits for others to share its statement. Nothing waits on it promptly: an
 * append confirms after answering; the outbox repair looks at reservations seconds old; a writer
 * whose dependency's reservation is unconfirmed reads the dependency fresh after 20 ms anyway
 * (commandService's settleDependency). And every statement is a transaction of its own with a WAL
 * flush: at 150 mutations/s, 20 ms took PostgreSQL from 22 to 19 % of a core and the machine from
 * 191 to 184 % (`bench/cpu-probe.ts --rates 150`, two alternating pairs).
 */
const CONFIRM_LINGER_MS = 20;

/** A reservation as the batched statement reads it (one JSON array element). */
const reserveArgument = (r: ReservationRequest) => ({
  key: r.key,
  expectedSeq: r.expectedSeq,
  nextSeq: r.nextSeq,
  liveAfter: r.liveAfter,
  parent: r.parent,
  requireLive: r.requireLive,
  forbidLiveChildren: r.forbidLiveChildren,
  requireVersion: r.requireVersion ?? [],
});

const reservationResult = (key: string, row: ReserveRow | undefined): ReservationResult => {
  switch (row?.outcome) {
    case 'ok':
      return { ok: true, reservedAt: toNumber(row.reserved_at_ms) };
    case 'conflict':
      return { ok: false, reason: 'conflict', entry: reservedEntry(key, row) };
    case 'stale_version': {
      const failed = row.failed_key ?? '';
      return { ok: false, reason: 'stale_version', key: failed, entry: reservedEntry(failed, row) };
    }
    case 'not_live':
      return { ok: false, reason: 'not_live', key: row.failed_key ?? '' };
    case 'has_live_children':
      return { ok: false, reason: 'has_live_children', count: toNumber(row.child_count) };
    default:
      throw new Error(`ledger_reserve answered ${JSON.stringify(row)}`);
  }
};

/**
 * The ledger in PostgreSQL (table `ledger`). A reservation is one call of the `ledger_reserve`
 * function (migrations 001 and 004), which locks the rows its guards read and decides atomically.
 * Reservations, confirmations and reads are group-committed (batchWhileBusy): those that arrive while
 * a statement of their kind runs share the next one, so under load N of them cost one round trip and
 * one transaction instead of N. A batch of reservations is one call of `ledger_reserve_batch`
 * (migration 006): each request decided as if alone, seeing the ones before it, with every row
 * locked in key order first so that batches do not deadlock. `unconfirmed` reads the partial index
 * of migration 005.
 */
export function createPostgresSequenceStore({ pool, schema }: PostgresSequenceStoreOptions): SequenceStore {
  const sql = {
    reserve: withSchema(`SELECT * FROM {schema}.ledger_reserve_batch($1::jsonb)`, schema),
    // Rows are locked in key order before any is updated: the order ledger_reserve_batch locks in too.
    confirm: withSchema(
      `WITH v AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS v(key, seq)),
       locked AS MATERIALIZED (
         SELECT l.key FROM {schema}.ledger AS l JOIN v ON v.key = l.key
          WHERE l.confirmed_seq < v.seq ORDER BY l.key FOR NO KEY UPDATE OF l)
       UPDATE {schema}.ledger AS l SET confirmed_seq = v.seq FROM v
        WHERE l.key = v.key AND l.key IN (SELECT key FROM locked) AND l.confirmed_seq < v.seq`,
      schema,
    ),
    rollback: withSchema(
      `UPDATE {schema}.ledger SET seq = $3, live = $4, confirmed_seq = LEAST(confirmed_seq, $3)
        WHERE key = $1 AND seq = $2`,
      schema,
    ),
    get: withSchema(`SELECT ${ENTRY_COLUMNS} FROM {schema}.ledger WHERE key = ANY($1::text[])`, schema),
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

  const reserveBatch = batchWhileBusy<ReservationRequest, ReservationResult>(
    async (requests) => {
      const { rows } = await runQuery<ReserveRow>(pool, sql.reserve, [JSON.stringify(requests.map(reserveArgument))]);
      const rowAt = new Map(rows.map((row) => [toNumber(row.i), row]));
      return requests.map((r, i) => reservationResult(r.key, rowAt.get(i + 1)));
    },
    { maxBatch: MAX_BATCH },
  );

  const confirmBatch = batchWhileBusy<{ key: string; seq: number }, void>(
    async (confirmations) => {
      // One row per key (an UPDATE … FROM applies only one of several matches), the highest seq.
      const highest = new Map<string, number>();
      for (const { key, seq } of confirmations) highest.set(key, Math.max(seq, highest.get(key) ?? seq));
      const keys = [...highest.keys()];
      await runQuery(pool, sql.confirm, [keys, keys.map((k) => highest.get(k))]);
      return confirmations.map(() => undefined);
    },
    { maxBatch: MAX_BATCH, lingerMs: CONFIRM_LINGER_MS },
  );

  // Reads take no locks: batching them cannot deadlock anything.
  const getBatch = batchWhileBusy<string, LedgerEntry | null>(
    async (keys) => {
      const { rows } = await runQuery<EntryRow>(pool, sql.get, [[...new Set(keys)]]);
      const byKey = new Map(rows.map((row) => [row.key, toEntry(row)]));
      return keys.map((key) => byKey.get(key) ?? null);
    },
    { maxBatch: MAX_BATCH },
  );

  return {
    async reserve(request): Promise<ReservationResult> {
      checkReservation(request);
      return reserveBatch(request);
    },

    async confirm(key, seq) {
      await confirmBatch({ key, seq });
    },

    async rollback(key, fromSeq, to) {
      const { rowCount } = await runQuery(pool, sql.rollback, [key, fromSeq, to.seq, to.live]);
      return rowCount > 0;
    },

    async get(key) {
      return getBatch(key);
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
