import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrate } from '../../src/adapters/postgres/migrate.js';
import { quoteIdent } from '../../src/adapters/postgres/sql.js';
import { createPostgresSequenceStore } from '../../src/adapters/sequenceStore/postgres.js';
import { UnavailableError } from '../../src/core/errors.js';
import { describeSequenceStoreContract } from '../contract/sequenceStore.contract.js';
import { randomId } from '../support/ids.js';

const schema = randomId('cairn_seq_');
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

describeSequenceStoreContract('postgres', async () => ({
  store: createPostgresSequenceStore({ pool, schema }),
  cleanup: async () => {},
}));

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('postgres migrations', () => {
  it('is a no-op when run again', async () => {
    expect(await migrate(pool, { schema })).toEqual({ applied: [] });
    const { rows } = await pool.query(`SELECT version FROM ${quoteIdent(schema)}.schema_migrations ORDER BY version`);
    expect(rows.map((r: { version: string }) => r.version)).toEqual(['001', '002', '003', '004', '005', '006']);
  });

  it('applies each file once when started concurrently on a fresh schema', async () => {
    const fresh = randomId('cairn_mig_');
    try {
      const results = await Promise.all([1, 2, 3].map(() => migrate(pool, { schema: fresh })));
      expect(results.flatMap((r) => r.applied).sort()).toEqual(['001', '002', '003', '004', '005', '006']);
      const store = createPostgresSequenceStore({ pool, schema: fresh });
      await store.ping();
      expect(await store.get('x')).toBeNull();
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(fresh)} CASCADE`);
    }
  });
});

describe('postgres SequenceStore failures', () => {
  it('answers UnavailableError fast when the database cannot be reached', async () => {
    const port = await closedPort();
    const dead = new pg.Pool({
      connectionString: `postgres://cairn:cairn@127.0.0.1:${port}/cairn`,
      connectionTimeoutMillis: 500,
    });
    try {
      const store = createPostgresSequenceStore({ pool: dead, schema });
      const started = Date.now();
      await expect(store.ping()).rejects.toBeInstanceOf(UnavailableError);
      await expect(
        store.reserve({
          key: 'k',
          expectedSeq: 0,
          nextSeq: 1,
          liveAfter: true,
          parent: null,
          requireLive: [],
          forbidLiveChildren: false,
        }),
      ).rejects.toMatchObject({ code: 'UNAVAILABLE', retriable: true, extensions: { dependency: 'postgres' } });
      await expect(migrate(dead, { schema })).rejects.toBeInstanceOf(UnavailableError);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await dead.end();
    }
  });

  it('leaves no placeholder row behind when a create is refused', async () => {
    const store = createPostgresSequenceStore({ pool, schema });
    const key = randomId('orphan');
    const refused = await store.reserve({
      key,
      expectedSeq: 0,
      nextSeq: 1,
      liveAfter: true,
      parent: 'missing',
      requireLive: ['missing'],
      forbidLiveChildren: false,
    });
    expect(refused).toEqual({ ok: false, reason: 'not_live', key: 'missing' });
    const { rowCount } = await pool.query(`SELECT 1 FROM ${quoteIdent(schema)}.ledger WHERE key = $1`, [key]);
    expect(rowCount).toBe(0);
  });
});
