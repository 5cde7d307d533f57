import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { createS3EventStore, ensureBucket } from '../../src/adapters/eventStore/s3.js';
import { httpS3Api, type S3Api } from '../../src/adapters/eventStore/s3Api.js';
import { createPostgresIdempotencyStore } from '../../src/adapters/idempotencyStore/postgres.js';
import { migrate } from '../../src/adapters/postgres/migrate.js';
import { quoteIdent } from '../../src/adapters/postgres/sql.js';
import { createPostgresSequenceStore } from '../../src/adapters/sequenceStore/postgres.js';
import { randomId } from '../support/ids.js';
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
  // The client production uses (plain HTTP, SigV4).
  s3 = httpS3Api({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: true,
    accessKeyId: env.S3_ACCESS_KEY_ID,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY,
    bucket: 'cairn-test',
    timeoutMs: 5_000,
  });
  await ensureBucket(s3, 'cairn-test');
  ports = {
    eventStore: createS3EventStore({ s3, bucket: 'cairn-test', prefix: `${randomId('wp')}/` }),
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
