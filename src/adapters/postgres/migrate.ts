import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pool, PoolClient } from 'pg';
import { translatePgError } from './errors.js';
import { withSchema } from './sql.js';

export interface MigrateOptions {
  /** The schema holding Cairn's tables (created when missing). */
  schema: string;
  /** Folder of `NNN_name.sql` files. @default the repository's `migrations/` */
  directory?: string;
}

export interface MigrationResult {
  /** Versions applied by this call, in order (empty when the schema was up to date). */
  applied: string[];
}

interface MigrationFile {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

const DEFAULT_DIRECTORY = fileURLToPath(new URL('../../../migrations/', import.meta.url));
const FILE_PATTERN = /^(\d{3,})_([\w-]+)\.sql$/;

/**
 * Brings `schema` up to date: creates it and its `schema_migrations` table if missing, then applies
 * each pending `migrations/NNN_*.sql` in version order, each in its own transaction under a
 * transaction-level advisory lock on the schema (so concurrent starters apply each file once).
 * `{schema}` in the SQL is replaced with the quoted schema name. Idempotent: a second run applies
 * nothing. A file changed after it was applied is refused (its checksum no longer matches).
 */
export async function migrate(pool: Pool, options: MigrateOptions): Promise<MigrationResult> {
  const files = await readMigrations(options.directory ?? DEFAULT_DIRECTORY);
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    throw translatePgError(e);
  }
  const applied: string[] = [];
  try {
    const done = await inTransaction(client, options.schema, async () => {
      await client.query(withSchema(BOOTSTRAP, options.schema));
      const { rows } = await client.query<{ version: string; checksum: string }>(
        withSchema('SELECT version, checksum FROM {schema}.schema_migrations', options.schema),
      );
      return new Map(rows.map((r) => [r.version, r.checksum]));
    });
    for (const file of files) {
      const recorded = done.get(file.version);
      if (recorded !== undefined) {
        if (recorded !== file.checksum) {
          throw new Error(`migration ${file.version}_${file.name} changed after it was applied to ${options.schema}`);
        }
        continue;
      }
      const ran = await inTransaction(client, options.schema, async () => {
        const { rowCount } = await client.query(
          withSchema('SELECT 1 FROM {schema}.schema_migrations WHERE version = $1', options.schema),
          [file.version],
        );
        if (rowCount) return false; // applied meanwhile by a concurrent migrate
        await client.query(withSchema(file.sql, options.schema));
        await client.query(
          withSchema(
            'INSERT INTO {schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
            options.schema,
          ),
          [file.version, file.name, file.checksum],
        );
        return true;
      });
      if (ran) applied.push(file.version);
    }
    return { applied };
  } catch (e) {
    throw translatePgError(e);
  } finally {
    client.release();
  }
}

const BOOTSTRAP = `
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
  version text PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`;

async function inTransaction<T>(client: PoolClient, schema: string, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('cairn.migrate'), hashtext($1))`, [schema]);
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

async function readMigrations(directory: string): Promise<MigrationFile[]> {
  const names = (await readdir(directory)).filter((n) => FILE_PATTERN.test(n)).sort();
  const files: MigrationFile[] = [];
  for (const fileName of names) {
    const [, version, name] = FILE_PATTERN.exec(fileName)!;
    const sql = await readFile(join(directory, fileName), 'utf8');
    const checksum = createHash('sha256').update(sql).digest('hex');
    if (files.some((f) => f.version === version)) throw new Error(`two migrations with version ${version}`);
    files.push({ version: version!, name: name!, sql, checksum });
  }
  return files;
}
