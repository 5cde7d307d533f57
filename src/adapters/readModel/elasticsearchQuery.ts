/** Elasticsearch query DSL for `searchInstances`: filters, sort and search_after cursors. */
import type { InstanceQuery, OrderKey } from '../../ports/readModel.js';
import {
  type Check,
  decodeCursor,
  encodeCursor,
  invalidCursor,
  orderSignature,
  type Scalar,
  type ValidQuery,
} from './query.js';

type Clause = Record<string, unknown>;

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

/** Three keys per property (numbers, strings, booleans, each missing last), then the unique id. */
const sortOf = (orderBy: OrderKey[]): Clause[] => [
  ...orderBy.flatMap((o) => {
    const order = o.direction === 'ASC' ? 'asc' : 'desc';
    return [
      { [`p_num.${o.property}`]: { order, missing: '_last', unmapped_type: 'double' } },
      { [`p_str.${o.property}`]: { order, missing: '_last', unmapped_type: 'keyword' } },
      { [`p_bool.${o.property}`]: { order, missing: '_last', unmapped_type: 'boolean' } },
    ];
  }),
  { aggregateId: 'asc' },
];

const isSortValue = (v: unknown): boolean =>
  v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/** The search_after values a cursor carries; refuses a cursor of another ordering. */
const searchAfter = (after: string, orderBy: OrderKey[]): unknown[] => {
  const { s, a } = decodeCursor(after);
  if (s !== orderSignature(orderBy) || !Array.isArray(a) || a.length !== orderBy.length * 3 + 1) throw invalidCursor();
  if (!a.every(isSortValue) || typeof a.at(-1) !== 'string') throw invalidCursor();
  return a;
};

export const cursorOf = (orderBy: OrderKey[], sort: unknown[] | undefined): string =>
  encodeCursor({ s: orderSignature(orderBy), a: sort ?? [] });

/** The search request body (without size bookkeeping beyond `first + 1`). */
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
  if (query.after) body.search_after = searchAfter(query.after, valid.orderBy);
  return body;
};
