import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';

/**
 * A namespace: the engine resources one test cluster or bench run owns (an S3 prefix, a PostgreSQL
 * schema, two Kafka topics and a consumer group, an index prefix), so runs never share state. Left
 * behind they add up: Kafka replays every partition's log at start-up, and after a few hundred
 * runs a restart took longer than the fault test waits. So a namespace is dropped when its owner
 * stops, and the test setup sweeps the ones a killed run left (their id carries their birth time).
 */

/** The Cairn settings that place a process in a namespace. */
export interface Namespace {
  S3_PREFIX: string;
  DATABASE_SCHEMA: string;
  KAFKA_EVENTS_TOPIC: string;
  KAFKA_CHANGES_TOPIC: string;
  KAFKA_PROJECTOR_GROUP: string;
  ELASTICSEARCH_INDEX_PREFIX: string;
}

/** Where the engines are (the keys of `.infra/env`); S3_BUCKET defaults to Cairn's. */
export interface EngineEndpoints {
  DATABASE_URL?: string;
  S3_ENDPOINT?: string;
  S3_REGION?: string;
  S3_ACCESS_KEY_ID?: string;
  S3_SECRET_ACCESS_KEY?: string;
  S3_FORCE_PATH_STYLE?: string;
  S3_BUCKET?: string;
  KAFKA_BROKERS?: string;
  ELASTICSEARCH_URL?: string;
}

/** Owners whose namespaces the sweep may drop; the id is `<owner>_<birth, base 36 ms>_<random>`. */
const OWNERS = ['e2e', 'bench'] as const;
type Owner = (typeof OWNERS)[number];
const TAGGED = /^(e2e|bench)_([0-9a-z]+)_[0-9a-f]+$/;
/** Ids the e2e harness made before they carried a birth time: no run makes them any more. */
const UNTAGGED = /^e2e[0-9a-f]{10}$/;

/** A fresh namespace; `bornAt` is for tests of the sweep. */
export function newNamespace(owner: Owner, bornAt = Date.now()): Namespace {
  return namespaceOf(`${owner}_${bornAt.toString(36)}_${randomBytes(3).toString('hex')}`);
}

export function namespaceOf(id: string): Namespace {
  return {
    S3_PREFIX: `${id}/`,
    DATABASE_SCHEMA: id,
    KAFKA_EVENTS_TOPIC: `${id}.events`,
    KAFKA_CHANGES_TOPIC: `${id}.changes`,
    KAFKA_PROJECTOR_GROUP: `${id}-projector`,
    ELASTICSEARCH_INDEX_PREFIX: id.toLowerCase(),
  };
}

const idOf = (name: string): string => name.split(/[./-]/, 1)[0]!;

/** The namespace id a resource name starts with, when it is one the sweep owns. */
function ownedId(name: string, bornBefore: number): string | null {
  const id = idOf(name);
  if (UNTAGGED.test(id)) return id;
  const m = TAGGED.exec(id);
  if (!m) return null;
  return Number.parseInt(m[2]!, 36) < bornBefore ? id : null;
}

/** Drops everything of one namespace; each engine is tried even if another fails. */
export async function dropNamespace(engines: EngineEndpoints, ns: Namespace): Promise<void> {
  await dropMany(engines, [ns]);
}

/** Drops the namespaces of the owners above born before `bornBefore`; returns how many it found. */
export async function sweepNamespaces(engines: EngineEndpoints, bornBefore: number): Promise<number> {
  const owned = (names: string[]) => names.filter((n) => ownedId(n, bornBefore) !== null);
  const names = await Promise.all([
    listSchemas(engines).catch(() => []),
    listTopics(engines).catch(() => []),
    listPrefixes(engines)
      .then((prefixes) => nonEmpty(engines, owned(prefixes)))
      .catch(() => []),
    listIndexes(engines).catch(() => []),
  ]);
  const ids = new Set(names.flat().flatMap((n) => ownedId(n, bornBefore) ?? []));
  await dropMany(
    engines,
    [...ids].map((id) => namespaceOf(id)),
  );
  return ids.size;
}

async function dropMany(engines: EngineEndpoints, all: Namespace[]): Promise<void> {
  if (all.length === 0) return;
  const failures = (
    await Promise.allSettled([
      dropObjects(engines, all),
      dropSchemas(engines, all),
      dropIndexes(engines, all),
      dropTopics(engines, all),
    ])
  ).flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
  if (failures.length) console.warn(`[namespace] could not drop everything: ${failures.join('; ')}`);
}

function s3(engines: EngineEndpoints): S3Client {
  return new S3Client({
    endpoint: engines.S3_ENDPOINT,
    region: engines.S3_REGION ?? 'us-east-1',
    forcePathStyle: (engines.S3_FORCE_PATH_STYLE ?? 'true') !== 'false',
    credentials: { accessKeyId: engines.S3_ACCESS_KEY_ID ?? '', secretAccessKey: engines.S3_SECRET_ACCESS_KEY ?? '' },
  });
}

const bucketOf = (engines: EngineEndpoints) => engines.S3_BUCKET ?? 'cairn-events';

async function listPrefixes(engines: EngineEndpoints): Promise<string[]> {
  const client = s3(engines);
  const out: string[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucketOf(engines), Delimiter: '/', ContinuationToken: token }),
      );
      out.push(...(page.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    client.destroy();
  }
  return out;
}

/**
 * The prefixes holding at least one object. MinIO keeps listing a prefix whose only content was an
 * object being written when it was killed (an empty folder on disk, no object to delete).
 */
async function nonEmpty(engines: EngineEndpoints, prefixes: string[]): Promise<string[]> {
  const client = s3(engines);
  try {
    const found = await Promise.all(
      prefixes.map(async (prefix) => {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucketOf(engines), Prefix: prefix, MaxKeys: 1 }),
        );
        return (page.KeyCount ?? 0) > 0 ? prefix : null;
      }),
    );
    return found.filter((p): p is string => p !== null);
  } finally {
    client.destroy();
  }
}

async function dropObjects(engines: EngineEndpoints, all: Namespace[]): Promise<void> {
  if (!engines.S3_ENDPOINT) return;
  const client = s3(engines);
  try {
    for (const ns of all) {
      await forceDeletePrefix(client, engines, ns.S3_PREFIX);
      await deleteListed(client, engines, ns.S3_PREFIX);
    }
  } finally {
    client.destroy();
  }
}

/**
 * MinIO removes a whole prefix on one request carrying `x-minio-force-delete` (it moves the folder
 * aside and frees it in the background): a 100,000-commit bench run's objects one by one took
 * MinIO about a minute. Another S3 ignores the header or refuses the request; deleteListed then
 * removes whatever is left.
 */
async function forceDeletePrefix(client: S3Client, engines: EngineEndpoints, prefix: string): Promise<void> {
  const request = new DeleteObjectCommand({ Bucket: bucketOf(engines), Key: prefix });
  request.middlewareStack.add(
    (next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-minio-force-delete'] = 'true';
      return next(args);
    },
    { step: 'build' },
  );
  await client.send(request).catch(() => undefined);
}

/** Lists the prefix page by page and deletes each page's keys (one request per page). */
async function deleteListed(client: S3Client, engines: EngineEndpoints, prefix: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucketOf(engines), Prefix: prefix, ContinuationToken: token }),
    );
    const keys = (page.Contents ?? []).map((c) => ({ Key: c.Key! }));
    if (keys.length)
      await client.send(
        new DeleteObjectsCommand({ Bucket: bucketOf(engines), Delete: { Objects: keys, Quiet: true } }),
      );
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

async function withPg<T>(engines: EngineEndpoints, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: engines.DATABASE_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

const listSchemas = (engines: EngineEndpoints) =>
  withPg(engines, async (c) =>
    (await c.query<{ n: string }>('SELECT nspname AS n FROM pg_namespace')).rows.map((r) => r.n),
  );

async function dropSchemas(engines: EngineEndpoints, all: Namespace[]): Promise<void> {
  if (!engines.DATABASE_URL) return;
  await withPg(engines, async (c) => {
    for (const ns of all) await c.query(`DROP SCHEMA IF EXISTS "${ns.DATABASE_SCHEMA.replaceAll('"', '""')}" CASCADE`);
  });
}

async function listIndexes(engines: EngineEndpoints): Promise<string[]> {
  const res = await fetch(`${engines.ELASTICSEARCH_URL}/_cat/indices?h=index`, { signal: AbortSignal.timeout(30_000) });
  return (await res.text()).split('\n').filter(Boolean);
}

async function dropIndexes(engines: EngineEndpoints, all: Namespace[]): Promise<void> {
  if (!engines.ELASTICSEARCH_URL) return;
  for (const ns of all) {
    const res = await fetch(`${engines.ELASTICSEARCH_URL}/${ns.ELASTICSEARCH_INDEX_PREFIX}-*`, {
      method: 'DELETE',
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok && res.status !== 404) throw new Error(`DELETE ${ns.ELASTICSEARCH_INDEX_PREFIX}-*: ${res.status}`);
  }
}

async function withKafka<T>(engines: EngineEndpoints, run: (admin: ReturnType<Kafka['admin']>) => Promise<T>) {
  const kafka = new Kafka({
    clientId: 'cairn-test-namespace',
    brokers: (engines.KAFKA_BROKERS ?? '').split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 2 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await run(admin);
  } finally {
    await admin.disconnect();
  }
}

const listTopics = (engines: EngineEndpoints) =>
  withKafka(engines, async (admin) => [...(await admin.listTopics()), ...(await listGroups(admin))]);
const listGroups = async (admin: ReturnType<Kafka['admin']>) => (await admin.listGroups()).groups.map((g) => g.groupId);

/** Topics and groups are deleted in slices: one request naming a thousand topics outlasts the admin timeout. */
const TOPIC_SLICE = 100;

async function dropTopics(engines: EngineEndpoints, all: Namespace[]): Promise<void> {
  if (!engines.KAFKA_BROKERS) return;
  await withKafka(engines, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const topics = all.flatMap((ns) => [ns.KAFKA_EVENTS_TOPIC, ns.KAFKA_CHANGES_TOPIC]).filter((t) => existing.has(t));
    for (let i = 0; i < topics.length; i += TOPIC_SLICE)
      await admin.deleteTopics({ topics: topics.slice(i, i + TOPIC_SLICE), timeout: 30_000 });
    // The projector's group and any other a process of the namespace joined (named after its id).
    const ids = new Set(all.map((ns) => ns.DATABASE_SCHEMA));
    const owned = (await listGroups(admin)).filter((g) => ids.has(idOf(g)));
    for (let i = 0; i < owned.length; i += TOPIC_SLICE)
      await admin.deleteGroups(owned.slice(i, i + TOPIC_SLICE)).catch(() => undefined);
  });
}
