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

export type WhereOperator = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'exists';

export interface WhereCondition {
  property: string;
  op: WhereOperator;
  value: unknown;
}

export interface OrderKey {
  property: string;
  direction: 'ASC' | 'DESC';
}

export interface Page {
  docs: ProjectedDoc[];
  /** Opaque cursor of each doc, same order. */
  cursors: string[];
  hasNextPage: boolean;
  totalCount: number;
}

export interface InstanceQuery {
  database: string;
  classId?: string | null;
  where: WhereCondition[];
  search?: string | null;
  orderBy: OrderKey[];
  first: number;
  after?: string | null;
}

export interface ReadModel {
  /**
   * Writes docs with external versioning: a doc whose seq is not above the stored one is ignored.
   * Resolves when the writes are visible to every query (after a refresh where the engine needs one).
   */
  apply(docs: ProjectedDoc[]): Promise<void>;
  /** Docs by aggregate id, tombstones included, null where absent. One round trip. */
  getMany(aggregateType: AggregateType, aggregateIds: string[]): Promise<(ProjectedDoc | null)[]>;
  /** Live databases (database omitted) or live classes of a database, ordered by id. */
  list(aggregateType: 'DATABASE' | 'ONTOLOGY_CLASS', options: { database?: string; first: number; after?: string | null }): Promise<Page>;
  /** Live instances matching the query. Invalid cursor → BadUserInputError('after'). */
  searchInstances(query: InstanceQuery): Promise<Page>;
  /** Drops every doc (before a rebuild). */
  reset(): Promise<void>;
  ping(): Promise<void>;
}
