import type { Pool, QueryResultRow } from 'pg';
import { isRetryableTransactionError, translatePgError } from './errors.js';

/** Quotes an identifier (schema name) for SQL text. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Replaces every `{schema}` in SQL text with the quoted schema name. */
export const withSchema = (sql: string, schema: string): string => sql.replaceAll('{schema}', quoteIdent(schema));

const MAX_ATTEMPTS = 5;

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
    try {
      const result = await pool.query<R>(text, values);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    } catch (e) {
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
