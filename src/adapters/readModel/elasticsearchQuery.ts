/**
 * Elasticsearch query DSL for `searchInstances`: filters, sort, and keyset paging.
 *
 * Paging does not use `search_after`: with `missing: _last`, ES 7.10 returns sentinel sort values
 * (`"Infinity"`, Long.MAX_VALUE for booleans, `null` for keywords) that do not round-trip — a `null`
 * keyword puts the page back at the start of the missing group, and Long.MAX_VALUE is not a safe JS
 * number. Instead the cursor holds the last doc's Position (query.ts, the same as in memory) and
 * the query adds "sorts after this position" as a filter.
 */
import type { InstanceQuery, OrderKey } from '../../ports/readModel.js';
import { DOC_VALUE } from './elasticsearchIndexes.js';
import { type Check, decodeSearchCursor, type Position, type Scalar, type SortKey, type ValidQuery } from './query.js';

type Clause = Record<string, unknown>;

const GROUP_FIELDS = ['p_num', 'p_str', 'p_bool'] as const;

const fieldOf = (property: string, value: Scalar): string =>
  `${typeof value === 'number' ? 'p_num' : typeof value === 'string' ? 'p_str' : 'p_bool'}.${property}`;

const anyOf = (property: string, values: Scalar[]): Clause => {
  const groups = new Map<string, Scalar[]>();
  for (const v of values) {
    const field = fieldOf(property, v);
    groups.set(field, [...(groups.get(field) ?? []), v]);
  }
  const clauses = [...groups].map(([field, vs]) => ({ terms: { [field]: vs } }));
  if (clauses.length === 0) return { match_none: {} };
  return clauses.length === 1 ? clauses[0]! : { bool: { should: clauses, minimum_should_match: 1 } };
};

const present = (property: string): Clause => ({ term: { p_exists: property } });

const toClause = (c: Check): Clause => {
  switch (c.kind) {
    case 'exists':
      return c.present ? present(c.property) : { bool: { must_not: [present(c.property)] } };
    case 'anyOf':
      return anyOf(c.property, c.values);
    case 'ne':
      return { bool: { filter: [present(c.property)], must_not: [anyOf(c.property, [c.value])] } };
    case 'range':
      return { range: { [fieldOf(c.property, c.value)]: { [c.op]: c.value } } };
  }
};

/** Three keys per property (numbers, strings, booleans, each missing last), then the id. */
const sortOf = (orderBy: OrderKey[]): Clause[] => [
  ...orderBy.flatMap((o) => {
    const order = o.direction === 'ASC' ? 'asc' : 'desc';
    return [
      { [`p_num.${o.property}`]: { order, missing: '_last', unmapped_type: 'double' } },
      { [`p_str.${o.property}`]: { order, missing: '_last', unmapped_type: 'keyword' } },
      { [`p_bool.${o.property}`]: { order, missing: '_last', unmapped_type: 'boolean' } },
    ];
  }),
  { id: 'asc' },
];

const MATCH_NONE: Clause = { match_none: {} };
const inGroup = (property: string, rank: number): Clause =>
  rank < 3
    ? { exists: { field: `${GROUP_FIELDS[rank]}.${property}` } }
    : { bool: { must_not: GROUP_FIELDS.map((f) => ({ exists: { field: `${f}.${property}` } })) } };

/** Docs whose key on `property` equals `key`. */
const sameKey = (property: string, [rank, value]: SortKey): Clause =>
  value === null ? inGroup(property, 3) : { term: { [`${GROUP_FIELDS[rank]}.${property}`]: value } };

/** Docs whose key on `property` sorts strictly after `key` (groups come in the same order both ways). */
const laterKey = (o: OrderKey, [rank, value]: SortKey): Clause => {
  const later: Clause[] = [];
  for (let r = rank + 1; r <= 3; r++) later.push(inGroup(o.property, r));
  const asc = o.direction === 'ASC';
  if (typeof value === 'number' || typeof value === 'string') {
    later.push({ range: { [`${GROUP_FIELDS[rank]}.${o.property}`]: { [asc ? 'gt' : 'lt']: value } } });
  } else if (typeof value === 'boolean' && value !== asc) {
    // ASC after false is true; DESC after true is false.
    later.push({ term: { [`p_bool.${o.property}`]: asc } });
  }
  return later.length === 0 ? MATCH_NONE : { bool: { should: later, minimum_should_match: 1 } };
};

/** Docs after `p` in the ordering: equal on the first i keys and later on key i, for some i. */
const afterClause = (orderBy: OrderKey[], p: Position): Clause => {
  const should: Clause[] = [];
  for (let i = 0; i <= orderBy.length; i++) {
    const equal = orderBy.slice(0, i).map((o, j) => sameKey(o.property, p.keys[j]!));
    const later = i < orderBy.length ? laterKey(orderBy[i]!, p.keys[i]!) : { range: { id: { gt: p.id } } };
    should.push({ bool: { filter: [...equal, later] } });
  }
  return { bool: { should, minimum_should_match: 1 } };
};

/**
 * The search request body: `size` is `first + 1` to learn `hasNextPage`. On a later page the
 * keyset condition is a `post_filter`, so the `matches` aggregation still counts every match
 * (the hits total counts only what is left): one round trip either way. Read it with `totalOf`.
 */
export const instanceSearchBody = (query: InstanceQuery, valid: ValidQuery): Record<string, unknown> => {
  const filter: Clause[] = [{ term: { database: query.database } }, { term: { deleted: false } }];
  if (query.classId != null) filter.push({ term: { classId: query.classId } });
  filter.push(...valid.checks.map(toClause));
  if (valid.searchWords.length > 0) {
    filter.push({ match: { search_text: { query: valid.searchWords.join(' '), operator: 'and' } } });
  }
  const body: Record<string, unknown> = {
    query: { bool: { filter } },
    sort: sortOf(valid.orderBy),
    size: query.first + 1,
    track_total_hits: true,
  };
  if (query.after) {
    body.post_filter = afterClause(valid.orderBy, decodeSearchCursor(query.after, valid.orderBy));
    body.track_total_hits = false;
    body.aggs = { matches: { value_count: { field: 'id' } } };
  }
  return body;
};

/** What a search returns of each hit: the doc value holding the whole doc, and the id to read an older doc by. */
export const HIT_FIELDS = { stored_fields: '_none_', docvalue_fields: [DOC_VALUE, 'aggregateId'] };

export interface CountedResponse {
  hits: { total?: { value: number } };
  aggregations?: { matches?: { value: number } };
}

export const totalOf = (res: CountedResponse): number => res.aggregations?.matches?.value ?? res.hits.total?.value ?? 0;
