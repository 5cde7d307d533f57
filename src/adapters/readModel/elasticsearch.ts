import { randomBytes } from 'node:crypto';
import { AGGREGATE_TYPES, type AggregateType } from '../../core/aggregate.js';
import { UnavailableError } from '../../core/errors.js';
import type { Page, ProjectedDoc, ReadModel, ReadModelRebuild } from '../../ports/readModel.js';
import { createCoalescedRefresh } from './coalescedRefresh.js';
import { type Client, errors } from './elasticsearchClient.js';
import {
  DOC_VALUE,
  DOC_VALUE_MAPPING,
  fromDocValue,
  fromSource,
  INDEX_SUFFIX,
  type IndexOptions,
  indexBody,
  liveSettings,
  sourceText,
} from './elasticsearchIndexes.js';
import { HIT_FIELDS, instanceSearchBody, totalOf } from './elasticsearchQuery.js';
import { decodeCursor, encodeCursor, encodeSearchCursor, invalidCursor, positionOf, validateQuery } from './query.js';

export interface ElasticsearchReadModelOptions extends Partial<IndexOptions> {
  client: Client;
  /** Lowercase; the aliases are `<indexPrefix>-databases`, `-classes` and `-instances`. */
  indexPrefix: string;
}

export interface ElasticsearchReadModel extends ReadModel {
  /** Creates the indexes and their aliases where missing. Called lazily (once) by every other method. */
  ensureIndexes(): Promise<void>;
  /** Deletes the indexes (test cleanup, teardown). */
  dropIndexes(): Promise<void>;
}

/** A search hit: doc values only (see DOC_VALUE); `doc` is missing on docs an older version wrote. */
interface Hit {
  fields: { aggregateId: [string]; [DOC_VALUE]?: [string] };
}
interface SearchResponse {
  hits: { total?: { value: number }; hits: Hit[] };
  aggregations?: { matches?: { value: number } };
}
interface MgetResponse {
  docs: { _id: string; found?: boolean; _source?: Record<string, unknown>; error?: EsError }[];
}
interface EsError {
  type: string;
  reason: string;
}
interface BulkResponse {
  errors: boolean;
  items: Record<string, { _id: string; status: number; error?: EsError }>[];
}

/**
 * Read model on Elasticsearch 7.10 (OSS). Writes use external versioning (`version: seq`), so a
 * stale or duplicate write is a per-item 409 and is ignored.
 *
 * Refresh on read: a bulk does not refresh; every search first refreshes its index (coalesced, see
 * coalescedRefresh.ts), so it includes every write acknowledged before it started, which is what
 * the port promises. A refresh is the costliest part of a small write: on the dev engine a 1-doc
 * bulk costs Elasticsearch 12.3 ms CPU with `refresh: true` and 3.7 ms without, while a refresh
 * with nothing new costs 1.5 ms (`node` probe, 300 serial calls each). Writes far outnumber list
 * queries, and concurrent searches share refreshes. Gets (`mget`) are real time and need none.
 * `wait_for` would wait for the next periodic refresh (~1 s). See elasticsearchIndexes.ts for the layout
 * and elasticsearchQuery.ts for queries and paging. Connection failures, timeouts, 429 and 5xx
 * become UnavailableError('elasticsearch'); other refusals, ElasticsearchRefusedError.
 */
export function createElasticsearchReadModel({
  client,
  indexPrefix,
  shards = 1,
  replicas = 0,
  maxFields = 10_000,
}: ElasticsearchReadModelOptions): ElasticsearchReadModel {
  const indexOptions: IndexOptions = { shards, replicas, maxFields };
  const alias = (type: AggregateType): string => `${indexPrefix}-${INDEX_SUFFIX[type]}`;
  const fresh = (type: AggregateType): string =>
    `${alias(type)}-g${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

  const indexesOf = async (type: AggregateType): Promise<string[]> => {
    const { body, statusCode } = await call('get alias', () =>
      client.indices.getAlias<Record<string, unknown>>({ name: alias(type) }, { ignore: [404] }),
    );
    return statusCode === 404 ? [] : Object.keys(body);
  };

  const ensureIndex = async (type: AggregateType): Promise<void> => {
    if ((await indexesOf(type)).length === 0) await createFirstIndex(type);
    await primariesActive(type);
    // An index made before DOC_VALUE existed gets it (a no-op on one that has it).
    await call('update mapping', () => client.indices.putMapping({ index: alias(type), body: DOC_VALUE_MAPPING }));
  };

  // An index another process has just created exists before its primary shards start: reads in
  // between fail per document (no_shard_available_action_exception). Health alone is no guard, as
  // ES 7 reports a just-created index yellow with no shard active; so also wait for `shards` active
  // copies (exact with one primary, the default; with more, a started replica could stand in for a
  // primary still starting). Once per process, ~10 ms when ready.
  const primariesActive = async (type: AggregateType): Promise<void> => {
    const { body } = await call('wait for index', () =>
      client.cluster.health<{ timed_out: boolean; status: string; active_primary_shards: number }>(
        { index: alias(type), wait_for_status: 'yellow', wait_for_active_shards: String(shards), timeout: '30s' },
        { ignore: [408] },
      ),
    );
    if (body.timed_out) {
      const state = `${body.status}, ${body.active_primary_shards}/${shards} primaries active`;
      throw new UnavailableError('elasticsearch', new Error(`${alias(type)} is not ready after 30 s (${state})`));
    }
  };

  const createFirstIndex = async (type: AggregateType): Promise<void> => {
    // A fixed first name: two processes starting together create one index, not two behind one alias.
    const { body } = await call('create index', () =>
      client.indices.create<{ error?: EsError }>(
        { index: `${alias(type)}-g0`, body: { ...indexBody(type, indexOptions), aliases: { [alias(type)]: {} } } },
        { ignore: [400] },
      ),
    );
    if (body.error && body.error.type !== 'resource_already_exists_exception') {
      throw new Error(`Elasticsearch refused to create ${alias(type)}: ${body.error.type}: ${body.error.reason}`);
    }
  };

  let ready: Promise<void> | null = null;
  const ensureIndexes = (): Promise<void> => {
    ready ??= Promise.all(AGGREGATE_TYPES.map(ensureIndex)).then(
      () => undefined,
      (e: unknown) => {
        ready = null;
        throw e;
      },
    );
    return ready;
  };

  const refreshes = new Map(
    AGGREGATE_TYPES.map((type) => [
      type,
      createCoalescedRefresh(async () => {
        await call('refresh', () => client.indices.refresh({ index: alias(type) }));
      }),
    ]),
  );

  const search = async (type: AggregateType, body: Record<string, unknown>): Promise<SearchResponse> => {
    await ensureIndexes();
    await refreshes.get(type)!();
    const { body: res } = await call('search', () =>
      client.search<SearchResponse>({
        index: alias(type),
        body: { ...body, ...HIT_FIELDS },
      }),
    );
    return res;
  };

  /** The hits' docs, in order; a doc written before DOC_VALUE existed is read by id. */
  const docsOf = async (type: AggregateType, hits: Hit[]): Promise<ProjectedDoc[]> => {
    const docs = hits.map((h) => (h.fields[DOC_VALUE] ? fromDocValue(h.fields[DOC_VALUE][0]) : null));
    const missing = hits.filter((_, i) => !docs[i]).map((h) => h.fields.aggregateId[0]);
    if (missing.length === 0) return docs as ProjectedDoc[];
    const byId = new Map((await getMany(type, missing)).flatMap((d) => (d ? [[d.aggregateId, d] as const] : [])));
    return hits.flatMap((h, i) => docs[i] ?? byId.get(h.fields.aggregateId[0]) ?? []);
  };

  /** Writes docs, each into the index (or alias: `viaAlias`) `indexOf` names for its type. */
  const bulk = async (docs: ProjectedDoc[], indexOf: (type: AggregateType) => string, viaAlias: boolean) => {
    let body = '';
    for (const d of docs) {
      const action = { _index: indexOf(d.aggregateType), _id: d.aggregateId, version: d.seq, version_type: 'external' };
      body += `${JSON.stringify({ index: action })}\n${sourceText(d)}\n`;
    }
    const { body: res } = await call('bulk', () =>
      client.bulk<BulkResponse, string>({ body, require_alias: viaAlias, filter_path: BULK_RESPONSE_FIELDS }),
    );
    if (res.errors) checkBulkItems(res);
  };

  /**
   * A rebuild's generation: fresh indexes, not behind the aliases, with bulk-load settings; published
   * by restoring the live settings, refreshing, and one alias update for every type (readers switch
   * atomically, the old indexes go). Every bulk is durable when it answers, as for the live indexes.
   */
  const beginRebuild = async (): Promise<ReadModelRebuild> => {
    await ensureIndexes();
    const indexes = new Map(AGGREGATE_TYPES.map((type) => [type, fresh(type)]));
    const names = [...indexes.values()];
    let state: 'open' | 'published' | 'discarded' = 'open';
    const discard = async () => {
      if (state !== 'open') return;
      state = 'discarded';
      await call('delete indexes', () => client.indices.delete({ index: names }, { ignore: [404] }));
    };
    try {
      await Promise.all(
        [...indexes].map(([type, index]) =>
          call('create index', () => client.indices.create({ index, body: indexBody(type, indexOptions, true) })),
        ),
      );
      await call('wait for index', () =>
        client.cluster.health({ index: names, wait_for_status: 'yellow', timeout: '30s' }),
      );
    } catch (e) {
      await discard().catch(() => undefined);
      throw e;
    }
    return {
      async apply(docs) {
        if (state !== 'open') throw new Error(`This rebuild is ${state}`);
        if (docs.length > 0) await bulk(docs, (type) => indexes.get(type)!, false);
      },
      async publish() {
        if (state !== 'open') {
          if (state === 'discarded') throw new Error('This rebuild is discarded');
          return;
        }
        await call('index settings', () =>
          client.indices.putSettings({ index: names, body: { index: liveSettings(indexOptions) } }),
        );
        await call('refresh', () => client.indices.refresh({ index: names }));
        const old = (await Promise.all(AGGREGATE_TYPES.map(indexesOf))).flat();
        await call('swap alias', () =>
          client.indices.updateAliases({
            body: {
              actions: [
                ...[...indexes].map(([type, index]) => ({ add: { index, alias: alias(type) } })),
                ...old.map((index) => ({ remove_index: { index } })),
              ],
            },
          }),
        );
        state = 'published';
      },
      discard,
    };
  };

  const toPage = async (
    type: AggregateType,
    res: SearchResponse,
    first: number,
    cursor: (doc: ProjectedDoc) => string,
  ): Promise<Page> => {
    const docs = await docsOf(type, res.hits.hits.slice(0, first));
    return {
      docs,
      cursors: docs.map(cursor),
      hasNextPage: res.hits.hits.length > first,
      totalCount: totalOf(res),
    };
  };

  const getMany: ReadModel['getMany'] = async (aggregateType, aggregateIds) => {
    if (aggregateIds.length === 0) return [];
    await ensureIndexes();
    const { body } = await call('mget', () =>
      client.mget<MgetResponse>({ index: alias(aggregateType), body: { ids: aggregateIds } }),
    );
    return body.docs.map((d): ProjectedDoc | null => {
      // A per-document failure inside a 200 is a shard that cannot answer yet (e.g. still recovering
      // after a restart: no_shard_available_action_exception): an outage, not a bug.
      if (d.error)
        throw new UnavailableError(
          'elasticsearch',
          new Error(`Elasticsearch failed to get ${d._id}: ${d.error.type}: ${d.error.reason}`),
        );
      return d.found && d._source ? fromSource(d._source) : null;
    });
  };

  return {
    ensureIndexes,

    async dropIndexes() {
      const indexes = (await Promise.all(AGGREGATE_TYPES.map(indexesOf))).flat();
      ready = null;
      if (indexes.length > 0) await call('delete indexes', () => client.indices.delete({ index: indexes }));
    },

    async apply(docs) {
      if (docs.length === 0) return;
      await ensureIndexes();
      await bulk(docs, alias, true);
    },

    getMany,

    async list(aggregateType, { database, first, after }) {
      const filter: Record<string, unknown>[] = [{ term: { deleted: false } }];
      if (aggregateType === 'ONTOLOGY_CLASS' && database !== undefined) filter.push({ term: { database } });
      const body: Record<string, unknown> = {
        query: { bool: { filter } },
        sort: [{ aggregateId: 'asc' }],
        size: first + 1,
        track_total_hits: true,
      };
      if (after) {
        const { a } = decodeCursor(after);
        if (typeof a !== 'string') throw invalidCursor();
        body.search_after = [a];
      }
      const res = await search(aggregateType, body);
      return toPage(aggregateType, res, first, (d) => encodeCursor({ a: d.aggregateId }));
    },

    async searchInstances(query) {
      const valid = validateQuery(query);
      const res = await search('INSTANCE', instanceSearchBody(query, valid));
      return toPage('INSTANCE', res, query.first, (d) =>
        encodeSearchCursor(valid.orderBy, positionOf(valid.orderBy, d.id, d.data as Record<string, unknown>)),
      );
    },

    async reset() {
      // An empty generation swapped in: readers never see a missing index, and no deleted-doc
      // versions survive (delete-by-query would refuse seq 1 again for a minute).
      await (await beginRebuild()).publish();
    },

    beginRebuild,

    async ping() {
      await call('ping', () => client.ping());
    },
  };
}

/** What checkBulkItems reads of a bulk's answer: Elasticsearch then writes and the client parses a third. */
const BULK_RESPONSE_FIELDS = 'errors,items.*._id,items.*.status,items.*.error';

/** 409 = a stale or duplicate write (external versioning): ignored. Anything else fails the batch. */
const checkBulkItems = (res: BulkResponse): void => {
  for (const item of res.items) {
    const r = Object.values(item)[0];
    if (!r?.error || r.status === 409) continue;
    if (r.status === 429 || r.status >= 500) {
      throw new UnavailableError('elasticsearch', new Error(`${r._id}: ${r.error.type}: ${r.error.reason}`));
    }
    throw new Error(`Elasticsearch refused ${r._id}: ${r.error.type}: ${r.error.reason}`);
  }
};

const isUnavailable = (e: unknown): boolean =>
  e instanceof errors.ConnectionError ||
  e instanceof errors.TimeoutError ||
  e instanceof errors.NoLivingConnectionsError ||
  (e instanceof errors.ResponseError && (e.statusCode === 429 || (e.statusCode ?? 0) >= 500));

/** A 4xx answer: a bug or a bad request, not an outage (the gateway masks it as internal). */
export class ElasticsearchRefusedError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    cause: unknown,
  ) {
    super(message, { cause });
    this.name = 'ElasticsearchRefusedError';
  }
}

/** Runs one client call, translating vendor failures into port errors. */
async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isUnavailable(e)) throw new UnavailableError('elasticsearch', e);
    if (e instanceof errors.ResponseError) {
      const err = (e.body as { error?: { type?: string; reason?: string } } | undefined)?.error;
      const detail = err ? `${err.type}: ${err.reason}` : e.message;
      throw new ElasticsearchRefusedError(`Elasticsearch refused ${what}: ${detail}`, e.statusCode, e);
    }
    throw e;
  }
}
