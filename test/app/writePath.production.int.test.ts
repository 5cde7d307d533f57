import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { createS3EventStore } from '../../src/adapters/eventStore/s3.js';
import type { S3Api } from '../../src/adapters/eventStore/s3Api.js';
import { createPostgresIdempotencyStore } from '../../src/adapters/idempotencyStore/postgres.js';
import { migrate } from '../../src/adapters/postgres/migrate.js';
import { quoteIdent } from '../../src/adapters/postgres/sql.js';
import { createPostgresSequenceStore } from '../../src/adapters/sequenceStore/postgres.js';
import { randomId } from '../support/ids.js';
import { TEST_BUCKET, testS3Api } from '../support/s3.js';
import { describeWritePath, type WritePathPorts } from './writePath.suite.js';

const schema = randomId('cairn_wp_');
let pool: pg.Pool;
let s3: S3Api;
let ports: WritePathPorts;

beforeAll(async () => {
  const env = inject('engines');
  pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 10 });
  pool.on('error', () => undefined);
  await migrate(pool, { schema });
  s3 = await testS3Api();
  ports = {
    eventStore: createS3EventStore({ s3, bucket: TEST_BUCKET, prefix: `${randomId('wp')}/` }),
    sequenceStore: createPostgresSequenceStore({ pool, schema }),
    idempotencyStore: createPostgresIdempotencyStore({ pool, schema }),
  };
});
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool.end();
  s3.destroy?.();
});

describeWritePath('production: S3 + PostgreSQL', () => ports);
