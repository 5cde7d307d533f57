import { Agent } from 'node:http';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Kafka, logLevel } from 'kafkajs';
import { createPostgresAppendSignal } from '../adapters/appendSignal/postgres.js';
import { createKafkaChangeFeed } from '../adapters/changeFeed/kafka.js';
import { createS3EventStore, ensureBucket } from '../adapters/eventStore/s3.js';
import { httpS3Api, type S3Api, sdkS3Api } from '../adapters/eventStore/s3Api.js';
import { createPostgresIdempotencyStore } from '../adapters/idempotencyStore/postgres.js';
import { migrate } from '../adapters/postgres/migrate.js';
import { createPostgresPool } from '../adapters/postgres/pool.js';
import { createElasticsearchReadModel } from '../adapters/readModel/elasticsearch.js';
import { createElasticsearchClient } from '../adapters/readModel/elasticsearchClient.js';
import { createPostgresRegistry } from '../adapters/registry/postgres.js';
import { createPostgresSequenceStore } from '../adapters/sequenceStore/postgres.js';
import { createKafkaTransport } from '../adapters/transport/kafka.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { type Adapters, probe } from './adapters.js';

/**
 * The lean SigV4 client by default: the AWS SDK spends about 2 ms of CPU per request here, which
 * bounded the gateway, relay and rebuild (one S3 request per commit; see README, Performance).
 * `S3_CLIENT=sdk` selects the SDK, e.g. for an S3-compatible service the lean client trips over.
 */
function createS3Api(config: Config): S3Api {
  const timeout = config.dependencyTimeoutMs;
  const { endpoint, region, forcePathStyle, accessKeyId, secretAccessKey, bucket } = config.s3;
  if (config.s3.client === 'http') {
    return httpS3Api({
      ...{ endpoint, region, forcePathStyle, accessKeyId, secretAccessKey, bucket },
      timeoutMs: timeout,
      maxSockets: 128,
      attempts: 2,
    });
  }
  const client = new S3Client({
    endpoint,
    region,
    forcePathStyle,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: Math.min(timeout, 2_000),
      requestTimeout: timeout,
      httpAgent: new Agent({ keepAlive: true, maxSockets: 128 }),
    }),
  });
  return { ...sdkS3Api(client, bucket), destroy: () => client.destroy() };
}

/** The engine clients of the production profile, built once here and handed to the adapters. */
export function createClients(config: Config) {
  const timeout = config.dependencyTimeoutMs;
  const s3 = createS3Api(config);
  const pool = createPostgresPool({
    connectionString: config.postgres.url,
    max: config.postgres.poolSize,
    connectionTimeoutMillis: Math.min(timeout, 3_000),
    statement_timeout: timeout,
    query_timeout: timeout,
    prepared: config.postgres.preparedStatements,
  });
  // An idle client whose connection dies must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const kafka = new Kafka({
    clientId: config.kafka.clientId,
    brokers: config.kafka.brokers,
    logLevel: logLevel.ERROR,
    connectionTimeout: 3_000,
    requestTimeout: Math.max(timeout, 5_000),
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
  });
  const elasticsearch = createElasticsearchClient({
    node: config.elasticsearch.url,
    requestTimeout: timeout,
    maxRetries: 1,
  });
  return { s3, pool, kafka, elasticsearch };
}

export async function createProductionAdapters(config: Config, logger: Logger): Promise<Adapters> {
  const clients = createClients(config);
  const { s3, pool, kafka, elasticsearch } = clients;
  const schema = config.postgres.schema;
  await retryStartup('postgres migrations', logger, () => migrate(pool, { schema }));
  await retryStartup('s3 bucket', logger, () => ensureBucket(s3, config.s3.bucket));
  // 64 GETs in flight per read (relay batch, scan page): MinIO answers ~2-4k small GETs/s here only
  // with that many outstanding.
  const appendSignal = createPostgresAppendSignal({ pool });
  const eventStore = createS3EventStore({
    s3,
    bucket: config.s3.bucket,
    prefix: config.s3.prefix,
    concurrency: 64,
    entryIntervalMs: config.s3.outboxEntryIntervalMs,
    onEntryWritten: (entry) => appendSignal.notify(entry),
  });
  const readModel = createElasticsearchReadModel({
    client: elasticsearch,
    indexPrefix: config.elasticsearch.indexPrefix,
  });
  const transport = createKafkaTransport({
    kafka,
    topic: config.kafka.eventsTopic,
    partitions: config.kafka.partitions,
    consumer: {
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      heartbeatIntervalMs: Math.min(3_000, config.kafka.sessionTimeoutMs / 3),
      partitionsConsumedConcurrently: config.projector.concurrency,
      maxWaitTimeInMs: config.kafka.fetchMaxWaitMs,
    },
  });
  const changeFeed = createKafkaChangeFeed({
    kafka,
    topic: config.kafka.changesTopic,
    partitions: config.kafka.partitions,
    maxWaitTimeInMs: config.kafka.fetchMaxWaitMs,
  });
  const sequenceStore = createPostgresSequenceStore({ pool, schema });
  return {
    eventStore,
    sequenceStore,
    idempotencyStore: createPostgresIdempotencyStore({ pool, schema }),
    registry: createPostgresRegistry({ pool, schema }),
    transport,
    readModel,
    changeFeed,
    appendSignal,
    health: {
      s3: probe(() => eventStore.ping(), `bucket ${config.s3.bucket}`),
      postgres: probe(() => sequenceStore.ping(), `schema ${schema}`),
      kafka: probe(() => transport.ping(), config.kafka.brokers.join(',')),
      elasticsearch: probe(() => readModel.ping(), config.elasticsearch.url),
    },
    rebuildAtStart: false,
    singleWriter: false,
    async close() {
      await Promise.allSettled([transport.close(), changeFeed.close()]);
      await Promise.allSettled([pool.end(), elasticsearch.close()]);
      s3.destroy?.();
    },
  };
}

/** Start-up steps wait for an engine that is still starting, with a bounded number of tries. */
async function retryStartup(what: string, logger: Logger, step: () => Promise<unknown>, attempts = 30): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await step();
      return;
    } catch (e) {
      if (i >= attempts) throw new Error(`${what} failed after ${attempts} attempts`, { cause: e });
      logger.warn(`${what} not ready; retrying`, { attempt: i, error: e });
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}
