import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createS3EventStore, ensureBucket } from '../../src/adapters/eventStore/s3.js';
import { httpS3Api, type S3Api, sdkS3Api } from '../../src/adapters/eventStore/s3Api.js';
import { mapLimit } from '../../src/app/concurrency.js';
import { type Commit, serializeCommit } from '../../src/core/envelope.js';
import { EventAlreadyExistsError, UnavailableError } from '../../src/core/errors.js';
import { describeEventStoreContract, makeCommit } from '../contract/eventStore.contract.js';
import { randomId } from '../support/ids.js';

const BUCKET = 'cairn-test';
const engines = inject('engines');

const makeClient = (overrides: { endpoint?: string; timeoutMs?: number } = {}): S3Client =>
  new S3Client({
    endpoint: overrides.endpoint ?? engines.S3_ENDPOINT,
    region: engines.S3_REGION,
    forcePathStyle: engines.S3_FORCE_PATH_STYLE !== 'false',
    credentials: { accessKeyId: engines.S3_ACCESS_KEY_ID, secretAccessKey: engines.S3_SECRET_ACCESS_KEY },
    ...(overrides.timeoutMs === undefined
      ? {}
      : {
          maxAttempts: 1,
          requestHandler: new NodeHttpHandler({
            connectionTimeout: overrides.timeoutMs,
            requestTimeout: overrides.timeoutMs,
          }),
        }),
  });

/** The production client: plain HTTP, SigV4 signed here. */
const makeHttpClient = (overrides: { endpoint?: string; timeoutMs?: number } = {}): S3Api =>
  httpS3Api({
    endpoint: overrides.endpoint ?? engines.S3_ENDPOINT,
    region: engines.S3_REGION,
    forcePathStyle: engines.S3_FORCE_PATH_STYLE !== 'false',
    accessKeyId: engines.S3_ACCESS_KEY_ID,
    secretAccessKey: engines.S3_SECRET_ACCESS_KEY,
    bucket: BUCKET,
    timeoutMs: overrides.timeoutMs ?? 5_000,
    attempts: overrides.timeoutMs === undefined ? 2 : 1,
  });

type Client = S3Client | S3Api;
const destroy = (c: Client) => ('send' in c ? c.destroy() : c.destroy?.());

/** Cleanup always goes through the SDK client. */
const s3 = makeClient();
const prefixes: string[] = [];

/** Deletes every key under a test's prefix (the bucket is shared by the whole run). */
const deletePrefix = async (prefix: string): Promise<void> => {
  let token: string | undefined;
  do {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    const keys = (res.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length > 0)
      await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys, Quiet: true } }));
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
};

beforeAll(async () => {
  await ensureBucket(s3, BUCKET);
  await ensureBucket(s3, BUCKET); // idempotent
});
afterAll(() => {
  s3.destroy();
});

const CLIENTS: [string, (o?: { endpoint?: string; timeoutMs?: number }) => Client][] = [
  ['aws sdk', makeClient],
  ['plain http', makeHttpClient],
];

for (const [clientName, make] of CLIENTS) {
  const s3 = make();
  afterAll(() => destroy(s3));

  describeEventStoreContract(`s3 (${clientName})`, async (hooks) => {
    const prefix = `${randomId('es')}/`;
    prefixes.push(prefix);
    return {
      store: createS3EventStore({ s3, bucket: BUCKET, prefix, ...hooks }),
      another: () => createS3EventStore({ s3, bucket: BUCKET, prefix }),
      cleanup: () => deletePrefix(prefix),
    };
  });

  describe(`S3 event store (${clientName})`, () => {
    it('lets no second store instance overwrite a commit (S3 enforces If-None-Match)', async () => {
      const prefix = randomId('es');
      const other = make();
      try {
        const one = createS3EventStore({ s3, bucket: BUCKET, prefix });
        const two = createS3EventStore({ s3: other, bucket: BUCKET, prefix: `${prefix}/` });
        const original = makeCommit('INSTANCE', 'db/inst-1', 1);
        await one.append(original);
        await expect(two.append(makeCommit('INSTANCE', 'db/inst-1', 1))).rejects.toBeInstanceOf(
          EventAlreadyExistsError,
        );

        const racers = Array.from({ length: 10 }, (_, i) => (i % 2 ? one : two));
        const contenders = racers.map(() => makeCommit('INSTANCE', 'db/inst-1', 2));
        const results = await Promise.allSettled(racers.map((store, i) => store.append(contenders[i]!)));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(await two.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/inst-1' })).toHaveLength(2);
        expect((await two.readCommits([original]))[0]).toEqual(original);
      } finally {
        destroy(other);
        await deletePrefix(`${prefix}/`);
      }
    });

    it('lists the outbox a few entries at a time when entries carry many commits, and misses none', async () => {
      const prefix = `${randomId('es')}/`;
      let listed = 0;
      const api = make() as S3Api | S3Client;
      const counting: S3Api = 'send' in api ? sdkS3Api(api, BUCKET) : api;
      const store = createS3EventStore({
        s3: {
          ...counting,
          list: async (req) => {
            const res = await counting.list(req);
            listed += res.keys.length;
            return res;
          },
          // A slow entry write, so the appends arriving meanwhile all share the next entry.
          put: async (key, body, o) => {
            if (key.includes('/g-')) await new Promise((r) => setTimeout(r, 100));
            return counting.put(key, body, o);
          },
        },
        bucket: BUCKET,
        prefix,
        // Few reads in flight, so that a listing holds many more entries than one read pass takes.
        concurrency: 2,
      });
      try {
        // Twenty concurrent appends: the first one's entry alone, the other 19 share the next.
        const appended: Commit[] = [];
        for (let batch = 0; batch < 12; batch++) {
          const commits = Array.from({ length: 20 }, (_, i) => makeCommit('INSTANCE', `db/b${batch}-${i}`, 1));
          await Promise.all(commits.map((c) => store.append(c)));
          appended.push(...commits);
        }
        const refs: string[] = [];
        let entries = 0;
        for (let after: string | undefined; ; ) {
          const page = await store.listUnpublished(40, { after });
          if (page.length === 0) break;
          entries += new Set(page.map((r) => r.entry)).size;
          refs.push(...page.map((r) => r.aggregateId));
          after = page[page.length - 1]!.entry;
        }
        expect(entries).toBe(24);
        expect(refs.sort()).toEqual(appended.map((c) => c.aggregateId).sort());
        // Listing 40 keys per call (as many keys as refs wanted) listed 72-78 keys here; 56 now.
        expect(listed).toBeLessThanOrEqual(64);
      } finally {
        await deletePrefix(prefix);
        if ('send' in api) api.destroy();
        else api.destroy?.();
      }
    });

    it('scans through segment copies: same commits, same order, one request for many commits', async () => {
      const prefix = `${randomId('es')}/`;
      let gets = 0;
      const api = make() as S3Api | S3Client;
      const counting: S3Api = 'send' in api ? sdkS3Api(api, BUCKET) : api;
      const store = createS3EventStore({
        s3: {
          ...counting,
          get: (key) => {
            gets++;
            return counting.get(key);
          },
        },
        bucket: BUCKET,
        prefix,
      });
      const collect = async (it: AsyncIterable<Commit>) => {
        const out: Commit[] = [];
        for await (const c of it) out.push(c);
        return out;
      };
      try {
        const a = [1, 2, 3].map((seq) => makeCommit('INSTANCE', 'db/a', seq));
        const [b, c] = [makeCommit('INSTANCE', 'db/b', 1), makeCommit('DATABASE', 'db', 1)];
        for (const commit of [...a, b, c]) await store.append(commit);
        const plain = await collect(store.scan());

        await store.writeSegment!([a[0]!, a[1]!, b]);
        await store.writeSegment!([a[1]!, c]); // a copy held twice is fine
        // A torn line, and a line whose copy is not the commit of its key: both read from the key.
        const wrong = `events/INSTANCE/db/a/0000000003.jsonl\t${JSON.stringify(serializeCommit(a[0]!))}\n`;
        await counting.put(`${prefix}segments/zz-foreign.jsonl`, `${wrong}events/INSTANCE/db/b/00\t{"trunc`);

        gets = 0;
        expect(await collect(store.scan())).toEqual(plain);
        expect(gets).toBe(3 + 1); // three segments, and a3, which no segment holds correctly
        expect(await collect(store.scan({ aggregateType: 'INSTANCE' }))).toEqual(plain.slice(1)); // DATABASE sorts first
        const noBudget = createS3EventStore({ s3: counting, bucket: BUCKET, prefix, segmentCacheBytes: 0 });
        expect(await collect(noBudget.scan())).toEqual(plain);
      } finally {
        destroy(api);
        await deletePrefix(prefix);
      }
    });

    it('reads every copy, the outbox and then segment by segment, concurrency segments read ahead', async () => {
      const prefix = `${randomId('es')}/`;
      const store = createS3EventStore({ s3, bucket: BUCKET, prefix, concurrency: 2 });
      try {
        const commits = Array.from({ length: 7 }, (_, i) => makeCommit('INSTANCE', `db/w${i}`, 1));
        await Promise.all(commits.map((c) => store.append(c)));
        await store.markPublished(await store.listUnpublished(100)); // copies only in segments now
        for (const c of commits) await store.writeSegment!([c]); // 7 segments, 2 read ahead
        const pending = makeCommit('INSTANCE', 'db/pending', 1);
        await store.append(pending); // its copy is in the outbox
        const copies: Commit[] = [];
        for await (const c of store.scanCopies!()) copies.push(c);
        const ids = (cs: Commit[]) => cs.map((c) => c.aggregateId).sort();
        expect(ids(copies)).toEqual(ids([...commits, pending]));
        expect(copies[0]).toEqual(pending);
      } finally {
        await deletePrefix(prefix);
      }
    });

    it('writes one outbox entry per group of appends in flight together, carrying their commits', async () => {
      const prefix = `${randomId('es')}/`;
      const api = make() as S3Api | S3Client;
      const base: S3Api = 'send' in api ? sdkS3Api(api, BUCKET) : api;
      const puts: string[] = [];
      let gets = 0;
      let failEntries = false;
      const counting: S3Api = {
        ...base,
        put: (key, body, opts) => {
          puts.push(key.slice(prefix.length));
          if (failEntries && key.includes('/indexes/')) return Promise.reject(new Error('socket hang up'));
          return base.put(key, body, opts);
        },
        get: (key) => {
          gets++;
          return base.get(key);
        },
      };
      const store = createS3EventStore({ s3: counting, bucket: BUCKET, prefix, entryAttempts: 2 });
      try {
        const commits = Array.from({ length: 64 }, (_, i) => makeCommit('INSTANCE', `db/g${i}`, 1));
        await Promise.all(commits.map((c) => store.append(c)));
        const entryPuts = puts.filter((key) => key.startsWith('indexes/'));
        expect(puts).toHaveLength(64 + entryPuts.length);
        expect(entryPuts.length).toBeLessThan(32); // grouped: commits that landed together share one entry

        gets = 0;
        const listed = await store.listUnpublished(1000);
        expect(listed).toHaveLength(64);
        expect(new Set(listed.map((r) => r.entry)).size).toBe(entryPuts.length);
        expect(gets).toBe(entryPuts.length); // one read per entry, none per commit
        for (const r of listed) expect(r.commit).toEqual(commits.find((c) => c.aggregateId === r.aggregateId));

        // A short listing returns whole entries, and every entry it read (none read for nothing).
        gets = 0;
        const some = await store.listUnpublished(3);
        expect(some.length).toBeGreaterThanOrEqual(3);
        expect(new Set(some.map((r) => r.entry)).size).toBe(gets);
        expect(some).toEqual(listed.slice(0, some.length));
        await store.markPublished(listed);

        // The commit lands but its entry cannot be written: not acknowledged (UNAVAILABLE), and
        // nothing is listed (an entry proves its commits landed); re-appending repairs the entry.
        failEntries = true;
        const orphan = makeCommit('INSTANCE', 'db/orphan', 1);
        await expect(store.append(orphan)).rejects.toBeInstanceOf(UnavailableError);
        expect(await store.readCommits([orphan])).toEqual([orphan]);
        expect(await store.listUnpublished(10)).toEqual([]);
        failEntries = false;
        await store.append(structuredClone(orphan));
        expect((await store.listUnpublished(10)).map((r) => r.commit)).toEqual([orphan]);
        await store.markPublished(await store.listUnpublished(10));

        // appendCommit answers on the commit: the failed entry only rejects `indexed`.
        failEntries = true;
        const early = makeCommit('INSTANCE', 'db/early', 1);
        const { indexed } = await store.appendCommit(early);
        expect(await store.readCommits([early])).toEqual([early]);
        await expect(indexed).rejects.toBeInstanceOf(UnavailableError);
        expect(await store.listUnpublished(10)).toEqual([]);
        failEntries = false;
      } finally {
        destroy(api);
        await deletePrefix(prefix);
      }
    });

    it('answers a delete of no keys without a request (S3 refuses an empty DeleteObjects)', async () => {
      const api = make() as S3Api | S3Client;
      const base: S3Api = 'send' in api ? sdkS3Api(api, BUCKET) : api;
      try {
        await expect(base.deleteMany([])).resolves.toEqual([]);
      } finally {
        destroy(api);
      }
    });

    it('isolates stores by prefix', async () => {
      const [a, b] = [randomId('es'), randomId('es')];
      const one = createS3EventStore({ s3, bucket: BUCKET, prefix: a });
      const two = createS3EventStore({ s3, bucket: BUCKET, prefix: b });
      try {
        await one.append(makeCommit('DATABASE', 'shop', 1));
        await two.append(makeCommit('DATABASE', 'shop', 1));
        expect(await one.listUnpublished(10)).toHaveLength(1);
        expect(await two.readAggregate({ aggregateType: 'DATABASE', aggregateId: 'shop' })).toHaveLength(1);
      } finally {
        await Promise.all([deletePrefix(`${a}/`), deletePrefix(`${b}/`)]);
      }
    });

    it('reads a long aggregate across listing pages and marks more than 1000 refs published', async () => {
      const prefix = `${randomId('es')}/`;
      const store = createS3EventStore({ s3, bucket: BUCKET, prefix, concurrency: 32 });
      try {
        const commits = Array.from({ length: 1105 }, (_, i) => makeCommit('INSTANCE', 'db/long', i + 1));
        await mapLimit(commits, 64, (c) => store.append(c));

        const all = await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/long' });
        expect(all.map((c) => c.seq)).toEqual(commits.map((c) => c.seq));
        const tail = await store.readAggregate({ aggregateType: 'INSTANCE', aggregateId: 'db/long' }, 990, 20);
        expect(tail.map((c) => c.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 991 + i));

        const refs = await store.listUnpublished(5000);
        expect(refs).toHaveLength(1105);
        await store.markPublished(refs);
        expect(await store.listUnpublished(10)).toEqual([]);
      } finally {
        await deletePrefix(prefix);
      }
    });

    it('reports an unreachable endpoint as UnavailableError, quickly', async () => {
      const dead = make({ endpoint: 'http://127.0.0.1:1', timeoutMs: 500 });
      const store = createS3EventStore({ s3: dead, bucket: BUCKET, prefix: randomId('es') });
      const started = Date.now();
      try {
        await expect(store.ping()).rejects.toBeInstanceOf(UnavailableError);
        await expect(store.append(makeCommit('DATABASE', 'shop', 1))).rejects.toBeInstanceOf(UnavailableError);
        await expect(store.readAggregate({ aggregateType: 'DATABASE', aggregateId: 'shop' })).rejects.toMatchObject({
          code: 'UNAVAILABLE',
          retriable: true,
        });
        await expect(store.listUnpublished(10)).rejects.toBeInstanceOf(UnavailableError);
        await expect(store.getCheckpoint('relay')).rejects.toBeInstanceOf(UnavailableError);
        await expect(ensureBucket(dead, BUCKET)).rejects.toBeInstanceOf(UnavailableError);
        expect(Date.now() - started).toBeLessThan(5_000);
      } finally {
        destroy(dead);
      }
    });
  });
}
