import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPostgresIdempotencyStore } from '../../src/adapters/idempotencyStore/postgres.js';
import { migrate } from '../../src/adapters/postgres/migrate.js';
import { quoteIdent } from '../../src/adapters/postgres/sql.js';
import { UnavailableError } from '../../src/core/errors.js';
import { describeIdempotencyStoreContract } from '../contract/idempotencyStore.contract.js';
import { randomId } from '../support/ids.js';

const schema = randomId('cairn_idem_');
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: inject('engines').DATABASE_URL, max: 20 });
  // An idle client dropped by the server (restart) must not crash the run; the next query reconnects.
  pool.on('error', () => undefined);
  await migrate(pool, { schema });
});
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool.end();
});

describeIdempotencyStoreContract('postgres', async () => ({
  store: createPostgresIdempotencyStore({ pool, schema }),
  cleanup: async () => {},
}));

describe('postgres IdempotencyStore specifics', () => {
  it('keeps the first answer byte for byte (json, not jsonb)', async () => {
    const store = createPostgresIdempotencyStore({ pool, schema });
    const scope = randomId('s');
    await store.begin(scope, 'k', 'h', 60_000);
    await store.complete(scope, 'k', { zeta: 1, alpha: { b: 2, a: 1 } });
    const result = await store.begin(scope, 'k', 'h', 60_000);
    expect(result.state).toBe('completed');
    if (result.state === 'completed') expect(JSON.stringify(result.response)).toBe('{"zeta":1,"alpha":{"b":2,"a":1}}');
  });

  it('answers UnavailableError fast when the database cannot be reached', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const dead = new pg.Pool({
      connectionString: `postgres://cairn:cairn@127.0.0.1:${port}/cairn`,
      connectionTimeoutMillis: 500,
    });
    try {
      const started = Date.now();
      const store = createPostgresIdempotencyStore({ pool: dead, schema });
      await expect(store.begin('s', 'k', 'h', 1_000)).rejects.toBeInstanceOf(UnavailableError);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await dead.end();
    }
  });
});
