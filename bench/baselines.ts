import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import pg from 'pg';
import { httpS3Api, type S3Api, sdkS3Api } from '../src/adapters/eventStore/s3Api.js';
import { INDEX_SUFFIX } from '../src/adapters/readModel/elasticsearchIndexes.js';
import { HIT_FIELDS, instanceSearchBody } from '../src/adapters/readModel/elasticsearchQuery.js';
import { validateQuery } from '../src/adapters/readModel/query.js';
import { instanceRef } from '../src/core/aggregate.js';
import type { InstanceQuery } from '../src/ports/readModel.js';
import { type Figure, latencyFigure, type Params, rateFigure, round, WindowCounter } from './stats.js';
import { loopParams, runLoop } from './workload.js';

/**
 * The engines' own speed for the work Cairn gives them: the same object sizes, message sizes,
 * documents and round trips, through the same client libraries, without Cairn in between.
 */

const engine = (f: Figure): Figure => ({ ...f, kind: 'engine' });

export function s3Client(env: Record<string, string>): S3Client {
  return new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION ?? 'us-east-1',
    forcePathStyle: (env.S3_FORCE_PATH_STYLE ?? 'true') !== 'false',
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID ?? '', secretAccessKey: env.S3_SECRET_ACCESS_KEY ?? '' },
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 128 }) }),
  });
}

/** A few real commit objects of the run (their bodies), to size the baseline writes like Cairn's. */
export async function sampleCommits(s3: S3Client, bucket: string, prefix: string, n = 20): Promise<string[]> {
  const listed = await s3.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}events/INSTANCE/`, MaxKeys: n }),
  );
  const keys = (listed.Contents ?? []).map((c) => c.Key).filter((k): k is string => !!k && k.endsWith('.jsonl'));
  return Promise.all(
    keys.map(async (Key) => {
      const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
      return (await res.Body?.transformToString('utf8')) ?? '';
    }),
  );
}

export interface BaselineOptions {
  quick: boolean;
  /** Bodies of real commits (one envelope per line). */
  commits: string[];
}

const avgBytes = (bodies: string[]) =>
  bodies.length ? Math.round(bodies.reduce((s, b) => s + Buffer.byteLength(b), 0) / bodies.length) : 0;

/** The S3 client Cairn's production profile uses (plain HTTP, SigV4). */
export function s3Api(env: Record<string, string>, bucket: string): S3Api {
  return httpS3Api({
    endpoint: env.S3_ENDPOINT ?? '',
    region: env.S3_REGION ?? 'us-east-1',
    forcePathStyle: (env.S3_FORCE_PATH_STYLE ?? 'true') !== 'false',
    accessKeyId: env.S3_ACCESS_KEY_ID ?? '',
    secretAccessKey: env.S3_SECRET_ACCESS_KEY ?? '',
    bucket,
    timeoutMs: 10_000,
  });
}

export async function s3Baselines(env: Record<string, string>, prefix: string, o: BaselineOptions): Promise<Figure[]> {
  const bucket = env.S3_BUCKET ?? 'cairn-events';
  const sdk = s3Client(env);
  // The same client as Cairn (plain HTTP); the AWS SDK's GET rate beside it shows what the SDK costs.
  const s3 = s3Api(env, bucket);
  const viaSdk = sdkS3Api(sdk, bucket);
  const bodies = o.commits.length ? o.commits : ['x'.repeat(800)];
  const base = `${prefix}baseline-${randomBytes(3).toString('hex')}/`;
  const durationMs = o.quick ? 800 : 5_000;
  const figures: Figure[] = [];
  let n = 0;
  const written: string[] = [];
  try {
    await s3.headBucket().catch(() => s3.createBucket());
    const put = async () => {
      const key = `${base}${(n++).toString().padStart(10, '0')}.jsonl`;
      const body = bodies[n % bodies.length]!;
      const t = performance.now();
      await s3.put(key, body, { ifNoneMatch: true, contentType: 'application/x-ndjson' });
      written.push(key);
      return { ms: performance.now() - t, ok: true };
    };
    const getWith = (api: S3Api) => async () => {
      const key = written[Math.floor(Math.random() * written.length)]!;
      const t = performance.now();
      await api.get(key);
      return { ms: performance.now() - t, ok: true };
    };
    const get = getWith(s3);
    const params = (c: number): Params => ({
      concurrency: c,
      objectBytes: avgBytes(bodies),
      conditional: true,
      durationMs,
    });
    figures.push(await listBaseline(s3, `${prefix}events/`, durationMs));
    for (const [id, name, c, op] of [
      ['engine.s3.put.c1', 'minio PUT latency (1 client)', 1, put],
      ['engine.s3.put.c32', 'minio PUT rate (32 clients)', 32, put],
      ['engine.s3.get.c1', 'minio GET latency (1 client)', 1, get],
      ['engine.s3.get.c16', 'minio GET rate (16 clients)', 16, get],
      ['engine.s3.get.c16.sdk', 'minio GET rate, AWS SDK client (16 clients)', 16, getWith(viaSdk)],
    ] as const) {
      const r = await runLoop(c, 300, durationMs, op);
      figures.push(
        c === 1
          ? engine(latencyFigure(id, name, r.latencies, params(c)))
          : engine(
              rateFigure(id, name, 'req/s', r.completed, r.seconds, r.windowRates, {
                ...params(c),
                requestP50Ms: round(pct(r.latencies, 50), 2),
                requestP99Ms: round(pct(r.latencies, 99), 2),
              }),
            ),
      );
    }
  } finally {
    for (let i = 0; i < written.length; i += 1000) {
      await s3.deleteMany(written.slice(i, i + 1000)).catch(() => undefined);
    }
    s3.destroy?.();
    sdk.destroy();
  }
  return figures;
}

/**
 * Listing the run's commit keys in 1000-key pages, one page after the other (a continuation token
 * names the next page): what a rebuild's scan must do to find every commit. Pages listed in
 * parallel from split points were measured no faster here (MinIO spends its CPU walking the key
 * tree: ~60 µs a key), so one chain is the bound.
 */
async function listBaseline(s3: S3Api, listPrefix: string, durationMs: number): Promise<Figure> {
  const t0 = performance.now();
  const windows = new WindowCounter(t0);
  let keys = 0;
  let pages = 0;
  let token: string | undefined;
  do {
    const res = await s3.list({ prefix: listPrefix, maxKeys: 1000, continuationToken: token });
    keys += res.keys.length;
    windows.add(performance.now(), res.keys.length);
    pages++;
    token = res.nextContinuationToken;
  } while (token !== undefined && performance.now() - t0 < durationMs);
  const seconds = (performance.now() - t0) / 1000;
  return engine(
    rateFigure(
      'engine.s3.list',
      'minio LIST rate (1000-key pages)',
      'keys/s',
      keys,
      seconds,
      windows.rates(performance.now()),
      {
        pages,
        pageMs: round((seconds * 1000) / pages, 1),
        prefix: 'events/',
      },
    ),
  );
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : Number.NaN;
};

export async function postgresBaselines(env: Record<string, string>, o: BaselineOptions): Promise<Figure[]> {
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 32 });
  pool.on('error', () => undefined);
  const durationMs = o.quick ? 800 : 4_000;
  try {
    const op = async () => {
      const t = performance.now();
      await pool.query('SELECT 1');
      return { ms: performance.now() - t, ok: true };
    };
    const one = await runLoop(1, 300, durationMs, op);
    const many = await runLoop(32, 300, durationMs, op);
    return [
      engine(
        latencyFigure('engine.pg.rtt', 'postgres SELECT 1 round trip (1 client)', one.latencies, {
          concurrency: 1,
          durationMs,
        }),
      ),
      engine(
        rateFigure(
          'engine.pg.rate',
          'postgres SELECT 1 rate (32 clients)',
          'queries/s',
          many.completed,
          many.seconds,
          many.windowRates,
          {
            concurrency: 32,
            durationMs,
            requestP50Ms: round(pct(many.latencies, 50), 3),
            requestP99Ms: round(pct(many.latencies, 99), 3),
          },
        ),
      ),
    ];
  } finally {
    await pool.end();
  }
}

export async function kafkaBaselines(
  env: Record<string, string>,
  topicPrefix: string,
  o: BaselineOptions,
): Promise<Figure[]> {
  const lines = o.commits.flatMap((c) => c.split('\n').filter((l) => l.length > 0));
  const values = lines.length ? lines : ['x'.repeat(400)];
  const total = o.quick ? 5_000 : 100_000;
  const batch = 500;
  const topic = `${topicPrefix}.baseline`;
  const kafka = new Kafka({
    clientId: 'cairn-bench',
    brokers: (env.KAFKA_BROKERS ?? '').split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const figures: Figure[] = [];
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 4, replicationFactor: 1 }], waitForLeaders: true });
    // The relay's producer settings: acks=all, one request in flight, default partitioner.
    const producer = kafka.producer({
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const started = performance.now();
    const windows = new WindowCounter(started);
    const latencies: number[] = [];
    for (let sent = 0; sent < total; sent += batch) {
      const messages = Array.from({ length: Math.min(batch, total - sent) }, (_, i) => ({
        key: `INSTANCE:bench/${(sent + i) % 5000}`,
        value: values[(sent + i) % values.length]!,
      }));
      const t = performance.now();
      await producer.send({ topic, messages, acks: -1 });
      latencies.push(performance.now() - t);
      windows.add(performance.now(), messages.length);
    }
    const produceEnd = performance.now();
    await producer.disconnect();
    const messageBytes = Math.round(values.reduce((s, v) => s + Buffer.byteLength(v), 0) / values.length);
    const params: Params = { messages: total, batch, messageBytes, partitions: 4, acks: 'all', maxInFlight: 1 };
    figures.push(
      engine(
        rateFigure(
          'engine.kafka.produce',
          'kafkajs produce rate',
          'msg/s',
          total,
          (produceEnd - started) / 1000,
          windows.rates(produceEnd),
          { ...params, batchP50Ms: round(pct(latencies, 50), 2), batchP99Ms: round(pct(latencies, 99), 2) },
        ),
      ),
    );

    const consumer = kafka.consumer({ groupId: `${topic}-group`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let consumed = 0;
    let first = 0;
    let last = 0;
    const cWindows: { at: number; value: number }[] = [];
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch: b }) => {
          const now = performance.now();
          if (!first) first = now;
          // The projector turns the bytes into strings; do the same work.
          for (const m of b.messages) m.value?.toString('utf8');
          consumed += b.messages.length;
          last = performance.now();
          cWindows.push({ at: last, value: consumed });
          if (consumed >= total) resolve();
        },
      });
    });
    const joinStarted = performance.now();
    const timeout = new Promise<void>((r) => setTimeout(r, o.quick ? 20_000 : 60_000));
    await Promise.race([done, timeout]);
    await consumer.disconnect();
    const secs = (last - first) / 1000;
    const perSecond = new WindowCounter(first);
    let prev = 0;
    for (const w of cWindows) {
      perSecond.add(w.at, w.value - prev);
      prev = w.value;
    }
    figures.push(
      engine(
        rateFigure('engine.kafka.consume', 'kafkajs consume rate', 'msg/s', consumed, secs, perSecond.rates(last), {
          ...params,
          fromFirstMessage: true,
          groupJoinMs: Math.round(first - joinStarted),
        }),
      ),
    );
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
  return figures;
}

async function esJson(url: string, method: string, body?: unknown, ndjson = false): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 400)
    throw new Error(`elasticsearch ${method} ${url}: ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
  return json;
}

/**
 * Raw `_bulk` of read-model documents (copied from the run's instance index, with its mapping and
 * analysis settings) into a scratch index, 500 per request like the projector; with and without
 * `refresh=true` (what a bulk costs when it must be searchable at once; the projector's bulks do not
 * refresh, searches refresh first).
 */
export async function elasticsearchBaselines(
  env: Record<string, string>,
  indexPrefix: string,
  o: BaselineOptions,
): Promise<Figure[]> {
  const es = env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200';
  const source = `${indexPrefix}-instances`;
  const scratch = `${indexPrefix}-baseline`;
  const docs: Record<string, unknown>[] = [];
  let body: Record<string, unknown> = {};
  try {
    await esJson(`${es}/${source}/_refresh`, 'POST');
    const found = (await esJson(`${es}/${source}/_search?size=50`, 'GET')) as {
      hits?: { hits?: { _source: Record<string, unknown> }[] };
    };
    for (const h of found.hits?.hits ?? []) docs.push(h._source);
    const mapping = (await esJson(`${es}/${source}/_mapping`, 'GET')) as Record<string, { mappings: unknown }>;
    const settings = (await esJson(`${es}/${source}/_settings`, 'GET')) as Record<
      string,
      { settings: { index: { analysis?: unknown } } }
    >;
    const idx = Object.keys(mapping)[0]!;
    body = {
      mappings: mapping[idx]!.mappings,
      settings: { number_of_shards: 1, number_of_replicas: 0, analysis: settings[idx]?.settings.index.analysis },
    };
  } catch {
    /* no read model (yet): a synthetic document with dynamic mapping */
  }
  if (docs.length === 0)
    docs.push({ id: 'x', database: 'bench', classId: 'item', seq: 1, data: { n: 1, title: 'alpha bravo' } });
  const total = o.quick ? 2_000 : 30_000;
  const batch = 500;
  const docBytes = Math.round(docs.reduce((s, d) => s + Buffer.byteLength(JSON.stringify(d)), 0) / docs.length);
  const figures: Figure[] = [];
  try {
    for (const refresh of [false, true]) {
      await esJson(`${es}/${scratch}`, 'DELETE').catch(() => undefined);
      await esJson(`${es}/${scratch}`, 'PUT', body);
      const started = performance.now();
      const windows = new WindowCounter(started);
      const latencies: number[] = [];
      for (let sent = 0; sent < total; sent += batch) {
        const lines: string[] = [];
        for (let i = sent; i < Math.min(total, sent + batch); i++) {
          lines.push(
            JSON.stringify({ index: { _index: scratch, _id: `b${i}`, version: 1, version_type: 'external' } }),
          );
          lines.push(JSON.stringify({ ...docs[i % docs.length], id: `b${i}`, aggregateId: `bench/b${i}` }));
        }
        const t = performance.now();
        const res = (await esJson(
          `${es}/_bulk${refresh ? '?refresh=true' : ''}`,
          'POST',
          `${lines.join('\n')}\n`,
          true,
        )) as { errors?: boolean };
        if (res.errors) throw new Error('elasticsearch baseline bulk had item errors');
        latencies.push(performance.now() - t);
        windows.add(performance.now(), lines.length / 2);
      }
      const end = performance.now();
      figures.push(
        engine(
          rateFigure(
            refresh ? 'engine.es.bulk.refresh' : 'engine.es.bulk',
            `elasticsearch bulk rate${refresh ? ' (refresh=true)' : ''}`,
            'docs/s',
            total,
            (end - started) / 1000,
            windows.rates(end),
            {
              docs: total,
              batch,
              docBytes,
              refresh,
              mapping: Object.keys(body).length ? 'read model' : 'dynamic',
              bulkP50Ms: round(pct(latencies, 50), 2),
              bulkP99Ms: round(pct(latencies, 99), 2),
            },
          ),
        ),
      );
    }
  } finally {
    await esJson(`${es}/${scratch}`, 'DELETE').catch(() => undefined);
  }
  return figures;
}

/**
 * Embedded profile: the local disk the event store and journals write to. A commit-sized file
 * created exclusively and fsynced (what a commit costs at least), and an fsynced append.
 */
export async function diskBaselines(dir: string, o: BaselineOptions): Promise<Figure[]> {
  const bodies = o.commits.length ? o.commits : ['x'.repeat(800)];
  const scratch = join(dir, `baseline-${randomBytes(3).toString('hex')}`);
  mkdirSync(scratch, { recursive: true });
  const durationMs = o.quick ? 800 : 4_000;
  let n = 0;
  const create = async () => {
    const t = performance.now();
    const fh = await open(join(scratch, `${n++}.jsonl`), 'wx');
    await fh.writeFile(bodies[n % bodies.length]!);
    await fh.sync();
    await fh.close();
    return { ms: performance.now() - t, ok: true };
  };
  const journal = openSync(join(scratch, 'journal'), 'a');
  const line = Buffer.from(`${JSON.stringify({ key: 'INSTANCE:bench/x', seq: 1 })}\n`);
  const append = async () => {
    const t = performance.now();
    writeSync(journal, line);
    fsyncSync(journal);
    return { ms: performance.now() - t, ok: true };
  };
  try {
    const params = (c: number): Params => ({ concurrency: c, bytes: avgBytes(bodies), durationMs });
    const c1 = await runLoop(1, 200, durationMs, create);
    const c32 = await runLoop(32, 200, durationMs, create);
    const a1 = await runLoop(1, 200, durationMs, append);
    return [
      engine(latencyFigure('engine.disk.create.c1', 'disk create+fsync latency (1 client)', c1.latencies, params(1))),
      engine(
        rateFigure(
          'engine.disk.create.c32',
          'disk create+fsync rate (32 clients)',
          'files/s',
          c32.completed,
          c32.seconds,
          c32.windowRates,
          params(32),
        ),
      ),
      engine(
        latencyFigure('engine.disk.append', 'disk append+fsync latency', a1.latencies, {
          ...params(1),
          bytes: line.length,
        }),
      ),
    ];
  } finally {
    closeSync(journal);
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Bodies of a few commits of an embedded store directory. */
export function sampleLocalCommits(storeDir: string, paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    try {
      out.push(readFileSync(join(storeDir, p), 'utf8'));
    } catch {
      /* skip */
    }
  }
  return out;
}

export interface QueryBaselineOptions {
  quick: boolean;
  clients: number;
  warmupMs: number;
  durationMs: number;
  database: string;
  classId: string;
  /** Instances of `database` to read by id, picked at random. */
  ids: readonly string[];
  /** The page query's filter: `n >= min`, min drawn below this. */
  maxMin: number;
  random: () => number;
}

/**
 * Elasticsearch answering the read side's requests without Cairn, on the run's read model: the
 * search Cairn sends for the bench's page query (the same body, from the adapter's own builder) and
 * the mget of one id behind `instance(id)`, each at the query phase's concurrency.
 */
export async function elasticsearchQueryBaselines(
  env: Record<string, string>,
  indexPrefix: string,
  o: QueryBaselineOptions,
): Promise<Figure[]> {
  const es = env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200';
  const index = `${indexPrefix}-${INDEX_SUFFIX.INSTANCE}`;
  // node:http with keep-alive, as Cairn's Elasticsearch client sends (fetch costs the caller
  // several times more CPU per request, which on this machine is the engine's CPU too).
  const agent = new Agent({ keepAlive: true, maxSockets: o.clients });
  const timed = async (path: string, body: unknown, check: (json: Record<string, unknown>) => boolean) => {
    const t = performance.now();
    try {
      const json = await postJson(agent, `${es}/${index}/${path}`, body);
      return { ms: performance.now() - t, ok: check(json), error: JSON.stringify(json).slice(0, 300) };
    } catch (e) {
      return { ms: performance.now() - t, ok: false, error: String(e).slice(0, 300) };
    }
  };
  const mget = () =>
    timed(
      '_mget',
      { ids: [instanceRef(o.database, o.ids[Math.floor(o.random() * o.ids.length)]!).aggregateId] },
      (json) => {
        const docs = json.docs as { found?: boolean }[] | undefined;
        return docs?.[0]?.found === true;
      },
    );
  let hits = 0;
  let searches = 0;
  const search = () => {
    const query: InstanceQuery = {
      database: o.database,
      classId: o.classId,
      where: [{ property: 'n', op: 'gte', value: Math.floor(o.random() * o.maxMin) }],
      orderBy: [{ property: 'score', direction: 'DESC' }],
      first: 100,
    };
    return timed('_search', { ...instanceSearchBody(query, validateQuery(query)), ...HIT_FIELDS }, (json) => {
      const found = (json.hits as { hits?: unknown[] } | undefined)?.hits;
      if (!found) return false;
      hits += found.length;
      searches++;
      return true;
    });
  };
  const figures: Figure[] = [];
  try {
    for (const [id, name, op] of [
      ['engine.es.mget.c32', `elasticsearch mget of one id (${o.clients} clients)`, mget],
      ['engine.es.search.c32', `elasticsearch search, the page's request (${o.clients} clients)`, search],
    ] as const) {
      const r = await runLoop(o.clients, o.warmupMs, o.durationMs, op);
      if (r.errors > 0 && r.latencies.length === 0) throw new Error(`${name}: ${r.firstErrors.join(' | ')}`);
      figures.push(
        engine(
          latencyFigure(id, name, r.latencies, {
            ...loopParams(r, o.clients, o.durationMs),
            ...(id === 'engine.es.search.c32' ? { meanHitsPerSearch: round(hits / Math.max(1, searches), 1) } : {}),
          }),
        ),
      );
    }
  } finally {
    agent.destroy();
  }
  return figures;
}

/** POSTs JSON and parses the JSON answer; an HTTP error status throws. */
function postJson(agent: Agent, url: string, body: unknown): Promise<Record<string, unknown>> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            if ((res.statusCode ?? 500) >= 400)
              reject(new Error(`${url}: ${res.statusCode} ${JSON.stringify(json).slice(0, 300)}`));
            else resolve(json);
          } catch (e) {
            reject(e);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
