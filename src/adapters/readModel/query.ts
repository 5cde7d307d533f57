/**
 * Query semantics shared by every read-model adapter, so that the in-memory fake and Elasticsearch
 * answer alike (the contract suite holds them to it): operand validation, what counts as a
 * comparable value, word splitting for `search`, string order and the cursor codec.
 */
import { PROPERTY_NAME } from '../../core/aggregate.js';
import { BadUserInputError } from '../../core/errors.js';
import type { InstanceQuery, OrderKey, WhereCondition } from '../../ports/readModel.js';

/** Strings longer than this (UTF-16 units) are not indexed for comparison (ES keyword `ignore_above`). */
export const MAX_INDEXED_STRING = 8191;
/** Longer words are dropped from the full-text index (ES `length` filter; Lucene's term limit). */
export const MAX_WORD_LENGTH = 255;
/** Word separator, valid both as a Java (ES pattern tokenizer) and a JS `u` regex. */
export const WORD_SEPARATOR = '[^\\p{L}\\p{M}\\p{N}]+';
const WORD_SEPARATOR_RE = new RegExp(WORD_SEPARATOR, 'u');

export type Scalar = string | number | boolean;

export const isPresent = (value: unknown): boolean => value !== undefined && value !== null;

/** The value as a comparison and sort see it; undefined for objects, arrays and over-long strings. */
export const comparable = (value: unknown): Scalar | undefined => {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.length <= MAX_INDEXED_STRING ? value : undefined;
  return undefined;
};

/** Own property of an instance's `data.properties` (never the prototype's). */
export const propertyOf = (properties: Record<string, unknown>, name: string): unknown =>
  Object.hasOwn(properties, name) ? properties[name] : undefined;

export const propertiesOf = (data: Record<string, unknown>): Record<string, unknown> => {
  const p = data.properties;
  return p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as Record<string, unknown>) : {};
};

/** Lowercased words of a text, as the ES `cairn_words` analyzer produces them. */
export const words = (text: string): string[] =>
  text
    .split(WORD_SEPARATOR_RE)
    .map((w) => w.toLowerCase())
    .filter((w) => w.length > 0 && w.length <= MAX_WORD_LENGTH);

/** Code point order (= UTF-8 byte order, Lucene's keyword order); plain `<` is UTF-16 unit order. */
export const compareStrings = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800..DFFF) encode code points above U+FFFF: move them above U+E000..FFFF.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
};

/** Compares two scalars of the same JSON type. */
export const compareScalars = (a: Scalar, b: Scalar): number => {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  return Number(a) - Number(b);
};

/** A validated `where` condition. Ranges on booleans become `anyOf` the booleans they admit. */
export type Check =
  | { kind: 'exists'; property: string; present: boolean }
  | { kind: 'anyOf'; property: string; values: Scalar[] }
  | { kind: 'ne'; property: string; value: Scalar }
  | { kind: 'range'; property: string; op: 'gt' | 'gte' | 'lt' | 'lte'; value: number | string };

export interface ValidQuery {
  checks: Check[];
  orderBy: OrderKey[];
  /** Empty: no full-text filter. */
  searchWords: string[];
}

const isScalar = (v: unknown): v is Scalar =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

const checkName = (field: string, property: unknown): string => {
  if (typeof property !== 'string' || !PROPERTY_NAME.test(property)) {
    throw new BadUserInputError(field, `invalid property name ${JSON.stringify(property)}`);
  }
  return property;
};

const scalarOperand = (c: WhereCondition): Scalar => {
  if (!isScalar(c.value)) {
    throw new BadUserInputError('where', `${c.op} on ${c.property} needs a string, number or boolean operand`);
  }
  return c.value;
};

const booleansAdmitted = (op: 'gt' | 'gte' | 'lt' | 'lte', operand: boolean): boolean[] =>
  [false, true].filter((b) => {
    const d = Number(b) - Number(operand);
    return op === 'gt' ? d > 0 : op === 'gte' ? d >= 0 : op === 'lt' ? d < 0 : d <= 0;
  });

const toCheck = (c: WhereCondition): Check => {
  const property = checkName('where', c.property);
  switch (c.op) {
    case 'exists':
      if (typeof c.value !== 'boolean') throw new BadUserInputError('where', `exists on ${property} needs a boolean`);
      return { kind: 'exists', property, present: c.value };
    case 'eq':
      return { kind: 'anyOf', property, values: [scalarOperand(c)] };
    case 'ne':
      return { kind: 'ne', property, value: scalarOperand(c) };
    case 'in': {
      if (!Array.isArray(c.value) || !c.value.every(isScalar)) {
        throw new BadUserInputError('where', `in on ${property} needs an array of strings, numbers or booleans`);
      }
      return { kind: 'anyOf', property, values: c.value };
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const value = scalarOperand(c);
      return typeof value === 'boolean'
        ? { kind: 'anyOf', property, values: booleansAdmitted(c.op, value) }
        : { kind: 'range', property, op: c.op, value };
    }
    default:
      throw new BadUserInputError('where', `unknown operator ${JSON.stringify(c.op)}`);
  }
};

export const validateQuery = (query: InstanceQuery): ValidQuery => ({
  checks: query.where.map(toCheck),
  orderBy: query.orderBy.map((o) => {
    checkName('orderBy', o.property);
    if (o.direction !== 'ASC' && o.direction !== 'DESC') {
      throw new BadUserInputError('orderBy', `invalid direction ${JSON.stringify(o.direction)}`);
    }
    return { property: o.property, direction: o.direction };
  }),
  searchWords: query.search ? [...new Set(words(query.search))] : [],
});

/** Identifies an ordering inside a cursor, so a cursor of another ordering is refused. */
export const orderSignature = (orderBy: OrderKey[]): string =>
  orderBy.map((o) => `${o.property}:${o.direction}`).join(',');

export const encodeCursor = (value: unknown): string =>
  Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

export const invalidCursor = (reason = 'not a cursor of this query'): BadUserInputError =>
  new BadUserInputError('after', reason);

/** Decodes an opaque cursor to its JSON; anything that is not one is BAD_USER_INPUT `after`. */
export const decodeCursor = (after: string): Record<string, unknown> => {
  const bytes = Buffer.from(after, 'base64url');
  // Node's decoder skips foreign characters; a real cursor re-encodes to itself.
  if (after.length === 0 || bytes.toString('base64url') !== after) throw invalidCursor('malformed cursor');
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalidCursor('malformed cursor');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidCursor('malformed cursor');
  return value as Record<string, unknown>;
};

/**
 * Position of an instance in an ordering: per orderBy entry its type group (0 numbers, 1 strings,
 * 2 booleans, 3 missing — the same groups in both directions) and value, then the id. Cursors carry
 * it, so they are the same in every adapter (keyset paging, no engine sort values).
 */
export type SortKey = [0, number] | [1, string] | [2, boolean] | [3, null];
export interface Position {
  keys: SortKey[];
  id: string;
}
const RANK = { number: 0, string: 1, boolean: 2 } as const;

export const sortKey = (properties: Record<string, unknown>, property: string): SortKey => {
  const v = comparable(propertyOf(properties, property));
  return v === undefined ? [3, null] : ([RANK[typeof v as 'number' | 'string' | 'boolean'], v] as SortKey);
};

export const positionOf = (orderBy: OrderKey[], id: string, data: Record<string, unknown>): Position => {
  const properties = propertiesOf(data);
  return { keys: orderBy.map((o) => sortKey(properties, o.property)), id };
};

export const comparePositions = (orderBy: OrderKey[], a: Position, b: Position): number => {
  for (let i = 0; i < orderBy.length; i++) {
    const [ra, va] = a.keys[i]!;
    const [rb, vb] = b.keys[i]!;
    if (ra !== rb) return ra - rb;
    if (va === null || vb === null) continue;
    const d = compareScalars(va, vb);
    if (d !== 0) return orderBy[i]!.direction === 'ASC' ? d : -d;
  }
  return compareStrings(a.id, b.id);
};

const isSortKey = (k: unknown): k is SortKey => {
  if (!Array.isArray(k) || k.length !== 2) return false;
  const [rank, value] = k as [unknown, unknown];
  return (
    (rank === 0 && typeof value === 'number' && Number.isFinite(value)) ||
    (rank === 1 && typeof value === 'string') ||
    (rank === 2 && typeof value === 'boolean') ||
    (rank === 3 && value === null)
  );
};

export const encodeSearchCursor = (orderBy: OrderKey[], p: Position): string =>
  encodeCursor({ s: orderSignature(orderBy), k: p.keys, id: p.id });

/** The position an `after` cursor names; refuses a cursor of another ordering. */
export const decodeSearchCursor = (after: string, orderBy: OrderKey[]): Position => {
  const { s, k, id } = decodeCursor(after);
  if (s !== orderSignature(orderBy) || typeof id !== 'string') throw invalidCursor();
  if (!Array.isArray(k) || k.length !== orderBy.length || !k.every(isSortKey)) throw invalidCursor();
  return { keys: k, id };
};
