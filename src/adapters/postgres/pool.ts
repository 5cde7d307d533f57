import pg from 'pg';
import { preparedStatementOptions, setPreparedStatements } from './sql.js';

/**
 * A pool for Cairn's statements. By default runQuery prepares them on its connections and they run
 * from their generic plans (see preparedStatementOptions); `prepared: false` sends them unprepared
 * and no startup options, for a pooler that keeps neither (DATABASE_PREPARED_STATEMENTS=false).
 */
export function createPostgresPool({ prepared = true, ...config }: pg.PoolConfig & { prepared?: boolean }): pg.Pool {
  const pool = new pg.Pool(prepared ? { ...config, options: preparedStatementOptions(config.options) } : config);
  setPreparedStatements(pool, prepared);
  return pool;
}
