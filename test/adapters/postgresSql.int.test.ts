import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPostgresPool } from '../../src/adapters/postgres/pool.js';
import { preparedStatementOptions, quoteIdent, runQuery } from '../../src/adapters/postgres/sql.js';
import { randomId } from '../support/ids.js';

/** runQuery against a real PostgreSQL: statements prepared once per connection, and what happens when a plan goes stale. */
describe('runQuery (postgres)', () => {
  const schema = randomId('cairn_sql_');
  let admin: pg.Pool;

  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: inject('engines').DATABASE_URL, max: 2 });
    await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  });
  afterAll(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    await admin.end();
  });

  /** One connection, so the statements it prepared are the ones pg_prepared_statements lists. */
  const onePool = (prepared = true) =>
    createPostgresPool({ connectionString: inject('engines').DATABASE_URL, max: 1, options: '', prepared });
  const preparedTexts = async (pool: pg.Pool) =>
    (await pool.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements')).rows.map(
      (r) => r.statement,
    );

  it('prepares each statement once per connection and runs it again from its plan', async () => {
    const pool = onePool();
    try {
      const text = `SELECT $1::int + 1 AS next /* ${schema} */`;
      const first = await runQuery<{ next: number }>(pool, text, [1]);
      const second = await runQuery<{ next: number }>(pool, text, [41]);
      expect([first.rows[0]!.next, second.rows[0]!.next]).toEqual([2, 42]);
      expect((await preparedTexts(pool)).filter((s) => s === text)).toHaveLength(1);
    } finally {
      await pool.end();
    }
  });

  it('runs prepared statements from their generic plan', async () => {
    const pool = onePool();
    const table = `${quoteIdent(schema)}.claims`;
    try {
      await admin.query(`CREATE TABLE ${table} (id text PRIMARY KEY, n int)`);
      // An array parameter: with the default plan_cache_mode PostgreSQL keeps planning this afresh.
      const text = `INSERT INTO ${table} SELECT * FROM unnest($1::text[], $2::int[]) ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n`;
      for (let i = 0; i < 8; i++)
        await runQuery(pool, text, [
          [`a${i}`, `b${i}`],
          [i, i],
        ]);
      const { rows } = await pool.query<{ generic_plans: string; custom_plans: string }>(
        'SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1',
        [text],
      );
      expect(rows.map((r) => [Number(r.generic_plans), Number(r.custom_plans)])).toEqual([[8, 0]]);
    } finally {
      await pool.end();
    }
  });

  it('keeps the PGOPTIONS of the environment before its own', () => {
    expect(preparedStatementOptions('-c work_mem=8MB')).toBe('-c work_mem=8MB -c plan_cache_mode=force_generic_plan');
    expect(preparedStatementOptions('')).toBe('-c plan_cache_mode=force_generic_plan');
  });

  it('sends statements unprepared on a pool marked so (a pooler that cannot keep them)', async () => {
    const pool = onePool(false);
    try {
      const text = `SELECT $1::int * 2 AS twice /* ${schema} */`;
      expect((await runQuery<{ twice: number }>(pool, text, [21])).rows[0]!.twice).toBe(42);
      expect(await preparedTexts(pool)).not.toContain(text);
    } finally {
      await pool.end();
    }
  });

  it('answers from a fresh plan when a migration changed a table under a prepared statement', async () => {
    const pool = onePool();
    const table = `${quoteIdent(schema)}.shapes`;
    try {
      await admin.query(`CREATE TABLE ${table} (a int)`);
      await admin.query(`INSERT INTO ${table} VALUES (1)`);
      const text = `SELECT * FROM ${table}`;
      expect((await runQuery(pool, text)).rows).toEqual([{ a: 1 }]);
      // PostgreSQL refuses to run the cached plan now (0A000 "cached plan must not change result type").
      await admin.query(`ALTER TABLE ${table} ADD COLUMN b int DEFAULT 2`);
      expect((await runQuery(pool, text)).rows).toEqual([{ a: 1, b: 2 }]);
      expect((await runQuery(pool, text)).rows).toEqual([{ a: 1, b: 2 }]);
    } finally {
      await pool.end();
    }
  });
});
