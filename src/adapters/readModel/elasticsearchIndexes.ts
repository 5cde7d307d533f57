/**
 * Elasticsearch layout of the read model: one index per aggregate type behind an alias
 * (`<prefix>-databases`, `-classes`, `-instances`), explicit mappings, and the indexed copies of an
 * instance's properties.
 *
 * Why the indirection: `data` (the source of truth) is stored but not indexed (`enabled: false`), so
 * no property name is ever mapped from it. Each property value is copied by JSON type into its own
 * subfield — `p_num.<name>` (double), `p_str.<name>` (keyword), `p_bool.<name>` (boolean) — so one
 * name holding an INT in one class and a STRING in another maps two fields and never conflicts.
 * `p_exists` lists the names present, `search_text` holds the string values for full text.
 * Writes go through the alias with `require_alias`, so a write never auto-creates a dynamic index,
 * and `reset` swaps in a fresh index atomically.
 */
import { type AggregateType, PROPERTY_NAME } from '../../core/aggregate.js';
import type { ProjectedDoc } from '../../ports/readModel.js';
import { comparable, isPresent, MAX_INDEXED_STRING, MAX_WORD_LENGTH, propertiesOf, WORD_SEPARATOR } from './query.js';

export const INDEX_SUFFIX: Record<AggregateType, string> = {
  DATABASE: 'databases',
  ONTOLOGY_CLASS: 'classes',
  INSTANCE: 'instances',
};

/** The ProjectedDoc fields, as stored in `_source` (reads keep only these; asking Elasticsearch to filter `_source` cost it ~0.3 ms per document). */
export const DOC_FIELDS = [
  'aggregateType',
  'aggregateId',
  'database',
  'id',
  'classId',
  'seq',
  'deleted',
  'createdAt',
  'updatedAt',
  'data',
] as const;

/**
 * The doc's fields as JSON (base64) in binary doc values: what searches read. ES 7.10 reads a hit's
 * stored fields (`_id`, `_source`) at ~80 µs a hit, so a page of 100 cost ~8 ms of its CPU in the
 * fetch phase alone; from doc values it is ~3 ms. Gets (real time) still read `_source`.
 */
export const DOC_VALUE = 'doc';
const docValue = { type: 'binary', doc_values: true };
/** What an index made before DOC_VALUE existed is given, once per process (adding a field is allowed). */
export const DOC_VALUE_MAPPING = { properties: { [DOC_VALUE]: docValue } };

const keyword = { type: 'keyword' };
const stored = { type: 'keyword', index: false, doc_values: false };

const docProperties = {
  aggregateType: keyword,
  aggregateId: keyword,
  database: keyword,
  id: keyword,
  classId: keyword,
  seq: { type: 'long' },
  deleted: { type: 'boolean' },
  createdAt: stored,
  updatedAt: stored,
  data: { type: 'object', enabled: false },
  [DOC_VALUE]: docValue,
};

export interface IndexOptions {
  shards: number;
  replicas: number;
  /** `index.mapping.total_fields.limit`: each distinct property name costs up to three fields. */
  maxFields: number;
}

/**
 * Settings for a bulk load into an index nobody reads yet (a rebuild): no refreshes (each makes a
 * segment to merge later) and no replicas. `liveSettings` restores them. An asynchronous translog
 * as well measured no faster here, and would need a flush before the index goes live.
 */
export const BULK_LOAD_SETTINGS = { refresh_interval: '-1', number_of_replicas: 0 };
export const liveSettings = (o: IndexOptions) => ({ refresh_interval: null, number_of_replicas: o.replicas });

/** Settings and mappings of a new index of one aggregate type (`bulkLoad`: see BULK_LOAD_SETTINGS). */
export const indexBody = (type: AggregateType, o: IndexOptions, bulkLoad = false): Record<string, unknown> => {
  const settings: Record<string, unknown> = {
    number_of_shards: o.shards,
    number_of_replicas: o.replicas,
    ...(bulkLoad ? BULK_LOAD_SETTINGS : {}),
  };
  if (type !== 'INSTANCE') return { settings, mappings: { dynamic: 'strict', properties: docProperties } };
  return {
    settings: {
      ...settings,
      'mapping.total_fields.limit': o.maxFields,
      analysis: {
        tokenizer: { cairn_words: { type: 'pattern', pattern: WORD_SEPARATOR } },
        filter: { cairn_word_length: { type: 'length', min: 1, max: MAX_WORD_LENGTH } },
        analyzer: {
          cairn_words: { type: 'custom', tokenizer: 'cairn_words', filter: ['lowercase', 'cairn_word_length'] },
        },
      },
    },
    mappings: {
      dynamic: 'strict',
      dynamic_templates: [
        { p_num: { path_match: 'p_num.*', mapping: { type: 'double' } } },
        { p_str: { path_match: 'p_str.*', mapping: { type: 'keyword', ignore_above: MAX_INDEXED_STRING } } },
        { p_bool: { path_match: 'p_bool.*', mapping: { type: 'boolean' } } },
      ],
      properties: {
        ...docProperties,
        p_num: { type: 'object', dynamic: true },
        p_str: { type: 'object', dynamic: true },
        p_bool: { type: 'object', dynamic: true },
        p_exists: keyword,
        search_text: { type: 'text', analyzer: 'cairn_words', norms: false, index_options: 'docs' },
      },
    },
  };
};

/**
 * The `_source` written for a doc, as the JSON text a bulk sends: the doc's fields, DOC_VALUE, and
 * for an instance the indexed copies of its properties. The doc's fields are stringified once and
 * that text reused for DOC_VALUE and the source (stringifying an object of them again for the bulk
 * body was ~9 % of a rebuild's CPU).
 */
export const sourceText = (doc: ProjectedDoc): string => {
  const fields: Record<string, unknown> = {};
  for (const f of DOC_FIELDS) fields[f] = doc[f];
  const json = JSON.stringify(fields);
  const docValueField = `,"${DOC_VALUE}":"${Buffer.from(json).toString('base64')}"`;
  const copies = doc.aggregateType === 'INSTANCE' ? `,${JSON.stringify(indexedCopies(doc)).slice(1, -1)}` : '';
  return `${json.slice(0, -1)}${docValueField}${copies}}`;
};

/** The `_source` written for a doc (sourceText, as an object). */
export const toSource = (doc: ProjectedDoc): Record<string, unknown> => JSON.parse(sourceText(doc));

/** What an instance's properties are indexed as (see the layout above). */
const indexedCopies = (doc: ProjectedDoc) => {
  const num: [string, number][] = [];
  const str: [string, string][] = [];
  const bool: [string, boolean][] = [];
  const exists: string[] = [];
  const text: string[] = [];
  for (const [name, value] of Object.entries(propertiesOf(doc.data))) {
    if (typeof value === 'string') text.push(value);
    // Names are validated upstream; one with a dot or a wildcard would corrupt the mapping, so skip it.
    if (!PROPERTY_NAME.test(name) || !isPresent(value)) continue;
    exists.push(name);
    const v = comparable(value);
    if (typeof v === 'number') num.push([name, v]);
    else if (typeof v === 'string') str.push([name, v]);
    else if (typeof v === 'boolean') bool.push([name, v]);
  }
  // fromEntries defines own properties, so a property named `__proto__` stays a plain key.
  return {
    p_num: Object.fromEntries(num),
    p_str: Object.fromEntries(str),
    p_bool: Object.fromEntries(bool),
    p_exists: exists,
    search_text: text,
  };
};

export const fromSource = (source: Record<string, unknown>): ProjectedDoc => {
  const doc: Record<string, unknown> = {};
  for (const f of DOC_FIELDS) doc[f] = source[f];
  return doc as unknown as ProjectedDoc;
};

/** The doc a search hit's DOC_VALUE holds. */
export const fromDocValue = (value: string): ProjectedDoc =>
  fromSource(JSON.parse(Buffer.from(value, 'base64').toString('utf8')));
