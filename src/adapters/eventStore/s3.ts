import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { mapLimit } from '../../app/concurrency.js';
import { type Commit, parseCommit, serializeCommit } from '../../core/envelope.js';
import { EventAlreadyExistsError, UnavailableError } from '../../core/errors.js';
import {
  aggregatePrefix,
  assertSafeKeyPart,
  assertValidCommit,
  assertValidRef,
  COMMIT_FILE,
  checkpointKey,
  commitKey,
  EVENTS_PREFIX,
  type EventStore,
  type EventStoreHooks,
  GROUP_ENTRY_FILE,
  MARKER_FILE,
  outboxEntryOf,
  padSeq,
  parseIndexKey,
  refsOfEntry,
  SEGMENTS_PREFIX,
  UNPUBLISHED_PREFIX,
  type UnpublishedRef,
} from '../../ports/eventStore.js';
import { copyLine, copyOf, createGroupEntryWriter, parseCopyLines, parseGroupEntry } from './commitCopies.js';
import { type ListResult, type S3Api, sdkS3Api } from './s3Api.js';

export interface S3EventStoreOptions extends EventStoreHooks {
  /**
   * Built by the composition root: the plain-HTTP client (`httpS3Api`, production), or an AWS SDK
   * client (endpoint, credentials, timeouts, SDK retries), wrapped here.
   */
  s3: S3Client | S3Api;
  bucket: string;
  /** Prepended to every key (test isolation, several stores in one bucket); a missing trailing '/' is added. @default '' */
  prefix?: string;
  /** Requests in flight for one read, scan page or markPublished. @default 16 */
  concurrency?: number;
  /** Attempts at the outbox entry when the commit was written but its entry was not. @default 4 */
  entryAttempts?: number;
  /** Least time between two outbox group entries of this store (see createGroupEntryWriter). @default 0 */
  entryIntervalMs?: number;
  /** Segment bytes a scan keeps in memory; commits beyond are read one by one. @default 256 MiB */
  segmentCacheBytes?: number;
}

const DEPENDENCY = 's3';
/** S3 lists and deletes at most 1000 keys per request. */
const MAX_KEYS = 1000;
/** Keys per DeleteObjects request of markPublished (S3 allows up to 1000). */
const DELETE_CHUNK = 50;
/** A concurrent conditional write to the same key is in progress (409): ask again this many times. */
const CONFLICT_ATTEMPTS = 5;

interface SdkError {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}
const asSdkError = (e: unknown): SdkError => (typeof e === 'object' && e !== null ? (e as SdkError) : {});
const statusOf = (e: unknown): number | undefined => asSdkError(e).$metadata?.httpStatusCode;

const isPreconditionFailed = (e: unknown): boolean =>
  statusOf(e) === 412 || asSdkError(e).name === 'PreconditionFailed';
const isConditionalConflict = (e: unknown): boolean =>
  statusOf(e) === 409 || asSdkError(e).name === 'ConditionalRequestConflict';
const isNotFound = (e: unknown): boolean => statusOf(e) === 404 || asSdkError(e).name === 'NoSuchKey';

/** No HTTP answer (connection refused or reset, DNS, timeout), throttling, or a server error. */
const isUnavailable = (e: unknown): boolean => {
  if (e instanceof TypeError || e instanceof RangeError) return false;
  const status = statusOf(e);
  return status === undefined || status >= 500 || status === 429 || status === 408;
};

/** Vendor failures become port errors; a client error (403, missing bucket) stays as it is: a bug or misconfiguration. */
const translate = (e: unknown): unknown => (isUnavailable(e) ? new UnavailableError(DEPENDENCY, e) : e);

const guard = async <T>(request: Promise<T>): Promise<T> => {
  try {
    return await request;
  } catch (e) {
    throw translate(e);
  }
};

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const NDJSON = 'application/x-ndjson';

const apiOf = (s3: S3Client | S3Api, bucket: string): S3Api => ('send' in s3 ? sdkS3Api(s3, bucket) : s3);

/** Creates the bucket unless it exists already (owned by these credentials). */
export async function ensureBucket(s3: S3Client | S3Api, bucket: string): Promise<void> {
  await guard(apiOf(s3, bucket).createBucket());
}

/**
 * The production event store: the key layout of the port in one S3 (or MinIO, or any S3-compatible)
 * bucket.
 *
 * An append is the commit, conditional on the key being absent (`If-None-Match: *`, so S3 itself
 * refuses an overwrite), then its outbox entry: one group entry per batch of appends in flight
 * together (or within `entryIntervalMs`), holding copies of their commits (see
 * createGroupEntryWriter). Under load that is about one PUT per append, and the relay reads one
 * object per group. A read is one listing of the aggregate's own keys plus parallel GETs.
 */
export function createS3EventStore(options: S3EventStoreOptions): EventStore {
  const { bucket, concurrency = 16, entryAttempts = 4, segmentCacheBytes = 256 * 2 ** 20 } = options;
  const s3 = apiOf(options.s3, bucket);
  const rawPrefix = options.prefix ?? '';
  const prefix = rawPrefix === '' || rawPrefix.endsWith('/') ? rawPrefix : `${rawPrefix}/`;
  const k = (key: string): string => prefix + key;

  const getText = async (key: string): Promise<string | null> => {
    try {
      return await s3.get(key);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw translate(e);
    }
  };

  const readKeys = (keys: string[]): Promise<Commit[]> =>
    mapLimit(keys, concurrency, async (key) => {
      const text = await getText(key);
      // Commits are never deleted; a listed key that vanished means someone tampered with the bucket.
      if (text === null) throw new Error(`Commit ${key} was listed but is gone`);
      return parseCommit(text);
    });

  /** The keys of every segment, in key order (time order: segment names start with their time). */
  const listSegmentKeys = async (): Promise<string[]> => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const res = await list(k(SEGMENTS_PREFIX), MAX_KEYS, token);
      keys.push(...res.keys);
      token = res.nextContinuationToken;
    } while (token !== undefined);
    return keys;
  };

  /**
   * Commit copies held by segments, by full commit key (raw text, parsed when used), for the keys
   * under `scanPrefix`, up to the memory budget; empty when there are no segments.
   */
  const loadSegments = async (scanPrefix: string): Promise<Map<string, string>> => {
    const copies = new Map<string, string>();
    const segmentKeys = await listSegmentKeys();
    let bytes = 0;
    await mapLimit(segmentKeys, concurrency, async (key) => {
      if (bytes >= segmentCacheBytes) return;
      const text = await getText(key);
      if (text === null) return;
      bytes += text.length;
      for (const [commitKey, body] of parseCopyLines(text)) {
        if (commitKey.startsWith(scanPrefix.slice(prefix.length))) copies.set(k(commitKey), body);
      }
    });
    return copies;
  };

  /** readKeys, taking what it can from segment copies (each used once, then freed). */
  const readKeysVia = async (copies: Map<string, string>, keys: string[]): Promise<Commit[]> => {
    if (copies.size === 0) return readKeys(keys);
    const found = new Map<string, Commit>();
    for (const key of keys) {
      const copy = copies.get(key);
      if (copy === undefined) continue;
      copies.delete(key);
      const commit = copyOf(copy);
      // A copy must be the commit of its key; anything else is read from the key itself.
      if (commit && k(commitKey(commit)) === key) found.set(key, commit);
    }
    const missing = keys.filter((key) => !found.has(key));
    const fetched = await readKeys(missing);
    missing.forEach((key, i) => {
      found.set(key, fetched[i]!);
    });
    return keys.map((key) => found.get(key)!);
  };

  const list = (listPrefix: string, maxKeys: number, token?: string, startAfter?: string) =>
    guard(
      s3.list({
        prefix: listPrefix,
        maxKeys: Math.max(1, Math.min(MAX_KEYS, maxKeys)),
        continuationToken: token,
        startAfter,
      }),
    );

  const keysOf = (res: ListResult, file: RegExp): string[] =>
    res.keys.filter((key) => file.test(key.slice(key.lastIndexOf('/') + 1)));

  const putCommit = async (commit: Commit, body: string): Promise<void> => {
    const key = k(commitKey(commit));
    for (let attempt = 1; ; attempt++) {
      try {
        await s3.put(key, body, { ifNoneMatch: true, contentType: NDJSON });
        return;
      } catch (e) {
        if (isConditionalConflict(e) && attempt < CONFLICT_ATTEMPTS) {
          // Another conditional PUT of this key is in flight. Asking again settles it: 412 if that
          // write landed, success if it failed. Persistent 409s are reported as "exists" below.
          await pause(10 * attempt + Math.random() * 20);
          continue;
        }
        if (!isPreconditionFailed(e) && !isConditionalConflict(e)) throw translate(e);
        // The key exists. If it holds these very bytes, this is a retry of our own write (an SDK
        // retry after a lost response, or the caller re-appending after UnavailableError): success.
        if ((await getText(key)) === body) return;
        throw new EventAlreadyExistsError(commit.aggregateId, commit.seq);
      }
    }
  };

  const groupEntries = createGroupEntryWriter(
    async (key, body) => {
      await s3.put(k(key), body, { contentType: NDJSON });
    },
    { minIntervalMs: options.entryIntervalMs, onEntryWritten: options.onEntryWritten },
  );

  /** The outbox entry of a stored commit, retried: the commit is there, so only S3 being down stops it. */
  const putEntry = async (commit: Commit, text: string): Promise<void> => {
    let cause: unknown;
    for (let attempt = 1; attempt <= entryAttempts; attempt++) {
      if (attempt > 1) await pause(25 * 2 ** (attempt - 2));
      try {
        await groupEntries.add(commit, text);
        return;
      } catch (e) {
        cause = e;
      }
    }
    throw new UnavailableError(DEPENDENCY, cause);
  };

  /** One outbox entry's refs: a marker names its commit, a group entry carries its commits. */
  const readEntry = async (key: string): Promise<UnpublishedRef[]> => {
    const entry = key.slice(prefix.length);
    const marker = parseIndexKey(entry);
    if (marker) return [{ ...marker, entry }];
    const text = await getText(key);
    // Removed by a relay meanwhile: published already.
    if (text === null) return [];
    return refsOfEntry(entry, parseGroupEntry(entry, text));
  };

  /**
   * Reads entries in key order, `concurrency` in flight, until about `limit` refs. A read starts as
   * soon as one ends (no window waits for its slowest GET) while the refs read, plus what the reads
   * in flight should bring at the refs per entry seen so far, fall short of `limit`. Every entry
   * read is kept (reading one and dropping it was a GET and a parse for nothing).
   */
  const readEntries = async (keys: string[], limit: number): Promise<{ refs: UnpublishedRef[]; keysRead: number }> => {
    const read: UnpublishedRef[][] = [];
    let started = 0;
    let finished = 0;
    let refs = 0;
    let failed = false;
    const wanted = () => refs + (started - finished) * (finished > 0 ? Math.max(1, refs / finished) : 1) < limit;
    const reader = async (): Promise<void> => {
      while (!failed && started < keys.length && wanted()) {
        const i = started++;
        try {
          read[i] = await readEntry(keys[i]!);
        } catch (e) {
          failed = true;
          throw e;
        }
        refs += read[i]!.length;
        finished++;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, keys.length)) }, reader));
    return { refs: read.flat(), keysRead: started };
  };

  /** Refs per outbox entry in recent reads (a group entry carries every commit of its group): sizes listings. */
  let refsPerEntry = 1;

  const store: EventStore = {
    async append(commit) {
      await (await store.appendCommit(commit)).indexed;
    },

    async appendCommit(commit) {
      assertValidCommit(commit);
      const text = serializeCommit(commit);
      // The commit first, then its outbox entry: an entry then proves its commits landed, so it can
      // carry them (the relay reads one object per group instead of one per commit). A writer dying
      // in between leaves a commit without an entry and its reservation unconfirmed: the outbox
      // repair re-appends it.
      await putCommit(commit, text);
      const indexed = putEntry(commit, text);
      // Handled here too: a caller that only wanted the commit must not see an unhandled rejection.
      indexed.catch(() => undefined);
      return { indexed };
    },

    async readAggregate(ref, afterSeq = 0, limit = Number.POSITIVE_INFINITY) {
      assertSafeKeyPart('aggregate id', ref.aggregateId);
      if (limit <= 0) return [];
      const listPrefix = k(aggregatePrefix(ref));
      const startAfter = afterSeq > 0 ? `${listPrefix}${padSeq(afterSeq)}.jsonl` : undefined;
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const res = await list(listPrefix, limit - keys.length, token, startAfter);
        // Only the aggregate's own commits: a deeper key would belong to another aggregate.
        for (const key of keysOf(res, COMMIT_FILE)) if (!key.includes('/', listPrefix.length)) keys.push(key);
        token = res.nextContinuationToken;
      } while (token !== undefined && keys.length < limit);
      return readKeys(keys.slice(0, limit));
    },

    async readCommits(refs) {
      refs.forEach(assertValidRef);
      return mapLimit(refs, concurrency, async (r) => {
        const text = await getText(k(commitKey(r)));
        return text === null ? null : parseCommit(text);
      });
    },

    async listUnpublished(limit, { after } = {}) {
      const listPrefix = k(UNPUBLISHED_PREFIX);
      let startAfter = after === undefined ? undefined : k(after);
      const refs: UnpublishedRef[] = [];
      // As many keys per listing as the refs still wanted take at the entry size seen lately, then
      // more if they fall short: listing `limit` keys walked (in MinIO, a directory and a metadata
      // file each) up to a dozen times the entries read when each carried a dozen commits.
      while (refs.length < limit) {
        const res = await list(
          listPrefix,
          Math.ceil(((limit - refs.length) / refsPerEntry) * 1.25),
          undefined,
          startAfter,
        );
        const keys = res.keys.filter((key) => {
          const name = key.slice(key.lastIndexOf('/') + 1);
          return MARKER_FILE.test(name) || GROUP_ENTRY_FILE.test(name);
        });
        const read = keys.length > 0 ? await readEntries(keys, limit - refs.length) : { refs: [], keysRead: 0 };
        refs.push(...read.refs);
        if (read.keysRead > 0) refsPerEntry = Math.max(1, (refsPerEntry + read.refs.length / read.keysRead) / 2);
        // Reading stopped before the listed entries ran out: about `limit` refs were read.
        if (read.keysRead < keys.length) break;
        if (res.nextContinuationToken === undefined || res.keys.length === 0) break;
        startAfter = res.keys[res.keys.length - 1];
      }
      return refs;
    },

    async markPublished(refs) {
      refs.forEach(assertValidRef);
      const keys = [...new Set(refs.map((r) => k(outboxEntryOf(r))))];
      const batches: string[][] = [];
      // MinIO deletes the keys of one request one after another (~0.4 ms each here): several smaller
      // requests in parallel finish a relay batch several times sooner.
      for (let i = 0; i < keys.length; i += DELETE_CHUNK) batches.push(keys.slice(i, i + DELETE_CHUNK));
      await mapLimit(batches, concurrency, async (batch) => {
        const failed = await guard(s3.deleteMany(batch));
        // Deleting an absent key is a success in S3, so any error here is a real failure.
        const first = failed[0];
        if (first) {
          throw new UnavailableError(
            DEPENDENCY,
            new Error(`DeleteObjects: ${first.code} ${first.message} (${first.key})`),
          );
        }
      });
    },

    async *scan(scanOptions = {}) {
      const { aggregateType, pageSize = 100 } = scanOptions;
      const listPrefix = k(aggregateType === undefined ? EVENTS_PREFIX : `${EVENTS_PREFIX}${aggregateType}/`);
      // One page ahead: the next page is listed and its commits fetched while the consumer handles
      // this one, so a scan is bounded by the GETs in flight, not by list-read-consume in turn.
      const copies = await loadSegments(listPrefix);
      const fetchPage = async (token?: string) => {
        const res = await list(listPrefix, pageSize, token);
        return { commits: await readKeysVia(copies, keysOf(res, COMMIT_FILE)), token: res.nextContinuationToken };
      };
      let next: ReturnType<typeof fetchPage> | undefined = fetchPage();
      while (next) {
        const page: Awaited<ReturnType<typeof fetchPage>> = await next;
        next = page.token === undefined ? undefined : fetchPage(page.token);
        // Handled in case the consumer stops early (its failure is then nobody's business).
        next?.catch(() => undefined);
        yield* page.commits;
      }
    },

    async *scanCopies(options = {}) {
      // The outbox first: an entry removed after this listing had its commits published, and the
      // relay copies published commits into segments (a copy missing from both is found by whoever
      // completes this read against the ledger).
      for (let after: string | undefined; ; ) {
        const refs = await store.listUnpublished(1000, { after });
        if (refs.length === 0) break;
        for (const ref of refs) if (ref.commit) yield ref.commit;
        after = refs[refs.length - 1]!.entry;
      }
      const segmentKeys = await listSegmentKeys();
      // Segments are read `concurrency` ahead and handled in key order as each arrives: folding starts
      // with the first one (waiting for a whole window of them held it back ~0.25 s here), and memory
      // stays bounded to the segments read ahead.
      const ahead: Promise<string | null>[] = [];
      let next = 0;
      const readAhead = () => {
        while (next < segmentKeys.length && ahead.length < concurrency) {
          const read = getText(segmentKeys[next++]!);
          // Handled here in case the caller stops early; a failure still surfaces when it is awaited.
          read.catch(() => undefined);
          ahead.push(read);
        }
      };
      readAhead();
      while (ahead.length > 0) {
        const text = await ahead.shift()!;
        readAhead();
        for (const [key, body] of parseCopyLines(text ?? '')) {
          const commit = copyOf(body, options);
          // A copy must be the commit of its key; anything else is left to the completion.
          if (commit && commitKey(commit) === key) yield commit;
        }
      }
    },

    async writeSegment(commits) {
      if (commits.length === 0) return;
      commits.forEach(assertValidCommit);
      const name = `${new Date().toISOString().replace(/[-:.]/g, '')}-${randomBytes(6).toString('hex')}.jsonl`;
      await guard(
        s3.put(k(`${SEGMENTS_PREFIX}${name}`), commits.map((c) => copyLine(c)).join(''), { contentType: NDJSON }),
      );
    },

    async getCheckpoint<T>(name: string): Promise<T | null> {
      assertSafeKeyPart('checkpoint name', name);
      const text = await getText(k(checkpointKey(name)));
      return text === null ? null : (JSON.parse(text) as T);
    },

    async putCheckpoint<T>(name: string, value: T): Promise<void> {
      assertSafeKeyPart('checkpoint name', name);
      await guard(s3.put(k(checkpointKey(name)), JSON.stringify(value), { contentType: 'application/json' }));
    },

    async ping() {
      try {
        await s3.headBucket();
      } catch (e) {
        throw new UnavailableError(DEPENDENCY, e);
      }
    },
  };
  return store;
}
