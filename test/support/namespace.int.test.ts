import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dropNamespace, type Namespace, namespaceOf, newNamespace, sweepNamespaces } from './namespace.js';

/** The sweep deletes engine state: it must take the abandoned namespaces and nothing else. */

const BUCKET = 'cairn-test';
const engines = { ...inject('engines'), S3_BUCKET: BUCKET };
const DAY = 86_400_000;
const s3 = new S3Client({
  endpoint: engines.S3_ENDPOINT,
  region: engines.S3_REGION,
  forcePathStyle: true,
  credentials: { accessKeyId: engines.S3_ACCESS_KEY_ID, secretAccessKey: engines.S3_SECRET_ACCESS_KEY },
});
const pool = new pg.Pool({ connectionString: engines.DATABASE_URL, max: 2 });
const admin = new Kafka({ brokers: engines.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();

async function create(ns: Namespace): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${ns.S3_PREFIX}events/x.jsonl`, Body: '{}' }));
  await pool.query(`CREATE SCHEMA "${ns.DATABASE_SCHEMA}"`);
  await admin.createTopics({ topics: [{ topic: ns.KAFKA_EVENTS_TOPIC }], waitForLeaders: true });
  const res = await fetch(`${engines.ELASTICSEARCH_URL}/${ns.ELASTICSEARCH_INDEX_PREFIX}-instances`, { method: 'PUT' });
  expect(res.ok).toBe(true);
}

/** Which of the namespace's resources exist. */
async function present(ns: Namespace): Promise<string[]> {
  const objects = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: ns.S3_PREFIX }));
  const schema = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [ns.DATABASE_SCHEMA]);
  const topics = await admin.listTopics();
  const index = await fetch(`${engines.ELASTICSEARCH_URL}/${ns.ELASTICSEARCH_INDEX_PREFIX}-instances`, {
    method: 'HEAD',
  });
  return [
    (objects.KeyCount ?? 0) > 0 && 's3',
    schema.rowCount === 1 && 'postgres',
    topics.includes(ns.KAFKA_EVENTS_TOPIC) && 'kafka',
    index.ok && 'elasticsearch',
  ].filter((x): x is string => typeof x === 'string');
}

const ALL = ['s3', 'postgres', 'kafka', 'elasticsearch'];

describe('test namespaces', () => {
  // Born long ago, so the sweep below cannot reach any namespace a running test or bench owns.
  const abandoned = newNamespace('e2e', Date.now() - 10 * DAY);
  const younger = newNamespace('bench', Date.now() - 8 * DAY);
  const foreign = namespaceOf(`keep_${(Date.now() - 10 * DAY).toString(36)}_abc123`);

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET })).catch((e: { name?: string }) => {
      if (e.name !== 'BucketAlreadyOwnedByYou' && e.name !== 'BucketAlreadyExists') throw e;
    });
    await admin.connect();
    for (const ns of [abandoned, younger, foreign]) await create(ns);
  });
  afterAll(async () => {
    await dropNamespace(engines, younger);
    await dropNamespace(engines, foreign);
    await admin.disconnect();
    await pool.end();
    s3.destroy();
  });

  it('the sweep drops namespaces born before the cut-off, in every engine, and nothing else', async () => {
    for (const ns of [abandoned, younger, foreign]) expect(await present(ns)).toEqual(ALL);
    expect(await sweepNamespaces(engines, Date.now() - 9 * DAY)).toBeGreaterThanOrEqual(1);
    expect(await present(abandoned)).toEqual([]);
    expect(await present(younger)).toEqual(ALL);
    expect(await present(foreign)).toEqual(ALL);
  });

  it('dropping one namespace removes all of its resources', async () => {
    await dropNamespace(engines, younger);
    expect(await present(younger)).toEqual([]);
  });
});
