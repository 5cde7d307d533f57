import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrate } from '../../src/adapters/postgres/migrate.js';
import { quoteIdent } from '../../src/adapters/postgres/sql.js';
import { createPostgresRegistry } from '../../src/adapters/registry/postgres.js';
import { UnavailableError } from '../../src/core/errors.js';
import { describeRegistryContract } from '../contract/registry.contract.js';
import { randomId } from '../support/ids.js';

const schema = randomId('cairn_reg_');
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

describeRegistryContract('postgres', async () => ({
  store: createPostgresRegistry({ pool, schema }),
  cleanup: async () => {},
}));

describe('postgres registry specifics', () => {
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
      const registry = createPostgresRegistry({ pool: dead, schema });
      await expect(
        registry.claim('h', 'w', 1_000, [{ eventId: 'e', aggregateKey: 'a', seq: 1 }]),
      ).rejects.toBeInstanceOf(UnavailableError);
      await expect(registry.ping()).rejects.toBeInstanceOf(UnavailableError);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await dead.end();
    }
  });
});
