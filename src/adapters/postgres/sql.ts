import { createHash } from 'node:crypto';
import type { Pool, QueryConfig, QueryResultRow } from 'pg';
import { isRetryableTransactionError, translatePgError } from './errors.js';

/** Quotes an identifier (schema name) for SQL text. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Replaces every `{schema}` in SQL text with the quoted schema name. */
export const withSchema = (sql: string, schema: string): string => sql.replaceAll('{schema}', quoteIdent(schema));

const MAX_ATTEMPTS = 5;

/**
 * Pools whose statements are sent unprepared (DATABASE_PREPARED_STATEMENTS=false: a connection
 * pooler that cannot keep prepared statements, such as PgBouncer before 1.21 in transaction mode).
 */
const unpreparedPools = new WeakSet<Pool>();

/** Whether runQuery prepares its statements on this pool's connections (the default) or not. */
export function setPreparedStatements(pool: Pool, prepared: boolean): void {
  if (prepared) unpreparedPools.delete(pool);
  else unpreparedPools.add(pool);
}

/**
 * Connection options (libpq's `options`, after the given ones or PGOPTIONS) for a pool whose
 * statements runQuery prepares: run them from their generic plan from the first execution on.
 * With the default plan_cache_mode PostgreSQL planned the registry's claim and mark-done afresh on
 * every run (their arrays make a custom plan look cheaper: 0 generic plans in 30 runs), 0.35-0.5 ms
 * a statement, while their shape is fixed (`OFFSET 0` laterals, index lookups per row) and the
 * generic plan is the same plan. `npx tsx bench/registry-probe.ts --batch 2 --workers 2 --events
 * 3000`: PostgreSQL CPU 630-653 µs per event with custom plans, 353-383 µs with generic ones.
 */
export function preparedStatementOptions(given: string | undefined = process.env.PGOPTIONS): string {
  return [given, '-c plan_cache_mode=force_generic_plan'].filter((o) => o !== undefined && o !== '').join(' ');
}

/** Statement texts PostgreSQL refused to run from a cached plan (a table changed shape under it). */
const unpreparable = new Set<string>();
const statementNames = new Map<string, string>();

/** The name a statement is prepared under: derived from its text, so one name never has two texts. */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    // Bounded: every schema (a test namespace, a bench run) has its own texts.
    if (statementNames.size >= 2_000) statementNames.clear();
    name = `cairn_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * The query as sent. Cairn's statements are few and fixed, and planning the ledger's and the
 * registry's CTEs cost PostgreSQL about as much as running them on the small batches of live
 * traffic (0.35-0.5 ms a statement, pg_stat_statements with track_planning), so each connection
 * prepares a statement once and runs its cached plan afterwards.
 */
function queryOf(pool: Pool, text: string, values: unknown[]): QueryConfig {
  if (unpreparedPools.has(pool) || unpreparable.has(text)) return { text, values };
  return { name: statementName(text), text, values };
}

/** SQLSTATE 0A000 "cached plan must not change result type": a migration changed a table under a prepared statement. */
const isStalePlan = (e: unknown, query: QueryConfig): boolean =>
  query.name !== undefined && typeof e === 'object' && e !== null && (e as { code?: unknown }).code === '0A000';

/**
 * One statement on the pool (one round trip, its own implicit transaction). A deadlock or
 * serialization failure rolled the statement back, so it is retried a few times after a short
 * random pause; connection failures and timeouts become UnavailableError('postgres').
 */
export async function runQuery<R extends QueryResultRow>(
  pool: Pool,
  text: string,
  values: unknown[] = [],
): Promise<{ rows: R[]; rowCount: number }> {
  for (let attempt = 1; ; attempt++) {
    const query = queryOf(pool, text, values);
    try {
      const result = await pool.query<R>(query);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    } catch (e) {
      if (isStalePlan(e, query)) {
        unpreparable.add(text);
        continue;
      }
      if (attempt < MAX_ATTEMPTS && isRetryableTransactionError(e)) {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
        continue;
      }
      throw translatePgError(e);
    }
  }
}

/** bigint columns arrive as strings (pg's default, left alone for other users of the pool). */
export const toNumber = (value: string | number | null | undefined): number => (value == null ? 0 : Number(value));
