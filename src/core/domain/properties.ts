import { ENTITY_ID } from '../aggregate.js';
import { fail, hasOwn, quote } from './check.js';
import type { InstanceState, JsonObject, OntologyClassState, PropertyDefinition } from './types.js';

/** What checking REFERENCE values needs: the instance being written and the referenced ones. */
export interface ValueContext {
  /** The instance being written: a reference to itself is valid when its class is the target. */
  self: { id: string; classId: string };
  /** Referenced instances by bare id; a missing entry is a missing instance. */
  referencedInstances: ReadonlyMap<string, InstanceState | null> | undefined;
}

export interface CheckedValues {
  /** The non-null values, each valid for its property definition. */
  values: JsonObject;
  /** Names given as null (absent on create, unset on update). */
  nulls: string[];
  /** Bare ids of other instances referenced by REFERENCE values. */
  references: string[];
}

/**
 * Checks values against a class: every name is a property of the class and every non-null value has
 * its property's type. `field` is the input path of the object (`input.properties`, `input.set`).
 */
export function checkValues(
  input: JsonObject,
  ontologyClass: OntologyClassState,
  field: string,
  ctx: ValueContext,
): CheckedValues {
  const definitions = definitionsByName(ontologyClass);
  const values: JsonObject = {};
  const nulls: string[] = [];
  const references = new Set<string>();
  for (const [name, value] of Object.entries(input)) {
    const path = `${field}.${name}`;
    const def = definitions.get(name);
    if (!def) fail(path, `unknown property of class ${quote(ontologyClass.id)}`);
    if (value === null) {
      nulls.push(name);
      continue;
    }
    checkValue(def, value, path, ctx);
    if (def.type === 'REFERENCE' && value !== ctx.self.id) references.add(value as string);
    values[name] = value; // names were checked by normalize: never "__proto__"
  }
  return { values, nulls, references: [...references] };
}

/** Throws if a required property of the class has no (non-null) value. */
export function checkRequired(values: JsonObject, ontologyClass: OntologyClassState, field: string): void {
  for (const def of ontologyClass.properties) {
    if (def.required && (!hasOwn(values, def.name) || values[def.name] === null)) {
      fail(`${field}.${def.name}`, 'required property is missing');
    }
  }
}

export const definitionsByName = (c: OntologyClassState): Map<string, PropertyDefinition> =>
  new Map(c.properties.map((p) => [p.name, p]));

function checkValue(def: PropertyDefinition, value: unknown, path: string, ctx: ValueContext): void {
  switch (def.type) {
    case 'STRING':
      if (typeof value !== 'string') fail(path, 'must be a string');
      return;
    case 'INT':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail(path, 'must be a (safe) integer');
      return;
    case 'FLOAT':
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, 'must be a finite number');
      return;
    case 'BOOLEAN':
      if (typeof value !== 'boolean') fail(path, 'must be a boolean');
      return;
    case 'DATETIME':
      if (typeof value !== 'string' || !isIsoDateTime(value)) fail(path, 'must be an ISO-8601 date-time');
      return;
    case 'REFERENCE':
      checkReference(def, value, path, ctx);
      return;
    case 'JSON':
      return;
  }
}

function checkReference(def: PropertyDefinition, value: unknown, path: string, ctx: ValueContext): void {
  if (typeof value !== 'string' || !ENTITY_ID.test(value)) fail(path, 'must be the id of an instance');
  const target = def.target ?? '';
  const referenced = value === ctx.self.id ? ctx.self : ctx.referencedInstances?.get(value);
  if (!referenced || ('exists' in referenced && !referenced.exists)) {
    fail(path, `instance ${quote(value)} does not exist`);
  }
  if (referenced.classId !== target) fail(path, `instance ${quote(value)} is not of class ${quote(target)}`);
}

/**
 * ISO-8601 calendar date (extended format), optionally with a time (seconds and fraction optional)
 * and a `Z` or `±hh:mm` offset. `Date` must parse it too, and the day must exist (no February 30th).
 */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

export function isIsoDateTime(value: string): boolean {
  const m = ISO_DATE_TIME.exec(value);
  if (!m || Number.isNaN(Date.parse(value))) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC: it maps years 0-99 to 1900-1999
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return false;
  return Number(m[4] ?? 0) < 24 && Number(m[5] ?? 0) < 60 && Number(m[6] ?? 0) < 60;
}
