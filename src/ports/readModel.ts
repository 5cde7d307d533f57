import type { AggregateType } from '../core/aggregate.js';

/**
 * One projected aggregate. Deleted aggregates stay as tombstones (`deleted: true`) so that a stale
 * write can still be refused by seq and `minSeq` can see the deletion; queries never return them.
 */
export interface ProjectedDoc {
  aggregateType: AggregateType;
  aggregateId: string;
  database: string;
  /** Bare id (the name for a database). */
  id: string;
  /** Instances only. */
  classId: string | null;
  seq: number;
  deleted: boolean;
  createdAt: string;
  updatedAt: string;
  /** Database: { label, description }; class: { label, description, properties }; instance: { properties }. */
  data: Record<string, unknown>;
}

/**
 * Operators of a `where` condition on `data.properties[property]` (API.md "Queries").
 *
 * - A comparison only matches a value of the operand's JSON type: numbers compare numerically,
 *   strings lexicographically by code point, booleans `false < true`. `age gt 20` never matches a
 *   string `age` of another class, and `age eq "30"` never matches the number 30.
 * - A comparison with a missing (or null) property is false, `ne` included; `exists: false` matches it.
 * - `ne` is "present and not eq", so a present value of another type matches.
 * - `in` takes an array of operands and matches when `eq` matches one of them (`[]` matches nothing).
 * - Operands of eq/ne/gt/gte/lt/lte/in must be strings, finite numbers or booleans; objects, arrays
 *   and null are BAD_USER_INPUT (comparing JSON objects is not supported). `exists` takes a boolean.
 * - Values that are objects or arrays (JSON properties) exist but compare with nothing and sort as
 *   missing; strings longer than 8,191 UTF-16 units likewise (the index keeps only shorter ones).
 */
export type WhereOperator = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'exists';

export interface WhereCondition {
  property: string;
  op: WhereOperator;
  value: unknown;
}

/**
 * One sort key. Missing values sort last in both directions. When one property holds values of
 * several JSON types (two classes, one name), they group as numbers, then strings, then booleans,
 * in both directions, each group ordered by `direction`.
 */
export interface OrderKey {
  property: string;
  direction: 'ASC' | 'DESC';
}

export interface Page {
  docs: ProjectedDoc[];
  /** Opaque cursor of each doc, same order. */
  cursors: string[];
  hasNextPage: boolean;
  /** Every live match, regardless of `first` and `after`. */
  totalCount: number;
}

export interface InstanceQuery {
  database: string;
  classId?: string | null;
  /** ANDed. Property names must match PROPERTY_NAME, else BAD_USER_INPUT (field `where`). */
  where: WhereCondition[];
  /**
   * Full text over the instance's top-level string property values: every word of `search` must
   * occur as a word of some value. Words are runs of Unicode letters, marks and digits, compared
   * case-insensitively; words longer than 255 units are ignored. A search with no words matches all.
   * Results are never ranked by relevance: the order is `orderBy`, then id.
   */
  search?: string | null;
  /** Then id ascending as the implicit tiebreak. Property names as in `where` (field `orderBy`). */
  orderBy: OrderKey[];
  /** Bounded by the caller (1..1000). */
  first: number;
  /** A cursor returned by the same query shape (same `orderBy`); anything else is BAD_USER_INPUT `after`. */
  after?: string | null;
}

export interface ReadModel {
  /**
   * Writes docs with external versioning: a doc whose seq is not above the stored one is ignored
   * silently (a stale or duplicate projection write); tombstones are stored like any doc. Docs are
   * applied in array order, so one batch may carry several versions of one aggregate.
   * Resolves when the writes are stored: every query started afterwards, in any process, sees them
   * (an engine that needs a refresh before a search does it when a search starts, not here).
   */
  apply(docs: ProjectedDoc[]): Promise<void>;
  /** Docs by aggregate id, tombstones included, null where absent, in the order asked. One round trip. */
  getMany(aggregateType: AggregateType, aggregateIds: string[]): Promise<(ProjectedDoc | null)[]>;
  /**
   * Live databases (`database` ignored) or live classes of `database` (of every database when
   * omitted), ordered by aggregate id — that is by id within one database. Cursor-paged.
   */
  list(
    aggregateType: 'DATABASE' | 'ONTOLOGY_CLASS',
    options: { database?: string; first: number; after?: string | null },
  ): Promise<Page>;
  /** Live instances matching the query. Invalid cursor → BadUserInputError('after'). */
  searchInstances(query: InstanceQuery): Promise<Page>;
  /** Drops every doc, tombstones included. Do not run it concurrently with apply. */
  reset(): Promise<void>;
  /**
   * Starts a rebuild into a new, empty generation of the read model that queries do not see, written
   * as a bulk load (an engine may skip per-write durability and refreshes until `publish`). Writes
   * through this read model's `apply` meanwhile (a projector) still go to the current generation:
   * whoever rebuilds catches up on them after `publish` (app/rebuild.ts).
   */
  beginRebuild(): Promise<ReadModelRebuild>;
  /** A cheap round trip proving the engine answers (health); UnavailableError when it does not. */
  ping(): Promise<void>;
}

/** A generation being rebuilt (ReadModel.beginRebuild). */
export interface ReadModelRebuild {
  /** Writes docs into the new generation, as ReadModel.apply does into the current one. */
  apply(docs: ProjectedDoc[]): Promise<void>;
  /** Makes the new generation durable, then the read model, for every aggregate type at once; drops the old one. */
  publish(): Promise<void>;
  /** Drops the new generation; the current one stays as it is. Idempotent. */
  discard(): Promise<void>;
}
