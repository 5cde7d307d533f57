import { DATABASE_NAME, ENTITY_ID, PROPERTY_NAME } from '../aggregate.js';
import { fail, isJsonObject, quote } from './check.js';
import type { Command } from './commands.js';
import { LIMITS, RESERVED_PROPERTY_NAMES } from './limits.js';
import { type JsonObject, PROPERTY_TYPES, type PropertyDefinition, type PropertyType } from './types.js';

/**
 * A command whose input passed the shape checks, with defaults filled in. Every normalized command
 * is also a `Command`; normalizing one again gives an equal copy.
 */
export type NormalizedCommand =
  | { type: 'CreateDatabase'; input: { name: string; label: string | null; description: string | null } }
  | { type: 'DeleteDatabase'; input: { name: string; expectedSeq: number } }
  | {
      type: 'CreateOntologyClass';
      input: {
        database: string;
        id: string;
        label: string | null;
        description: string | null;
        properties: PropertyDefinition[];
      };
    }
  | {
      type: 'UpdateOntologyClass';
      input: {
        database: string;
        id: string;
        expectedSeq: number;
        /** Absent: unchanged; null: cleared. */
        label?: string | null;
        description?: string | null;
        addProperties: PropertyDefinition[];
        removeProperties: string[];
      };
    }
  | { type: 'DeleteOntologyClass'; input: { database: string; id: string; expectedSeq: number } }
  | { type: 'CreateInstance'; input: { database: string; classId: string; id: string | null; properties: JsonObject } }
  | {
      type: 'UpdateInstance';
      input: { database: string; id: string; expectedSeq: number; set: JsonObject; unset: string[] };
    }
  | { type: 'DeleteInstance'; input: { database: string; id: string; expectedSeq: number } };

/** `idempotencyKey` may ride along in an input; it is not part of the command and is dropped. */
const IGNORED_FIELDS = new Set(['idempotencyKey']);

/**
 * Checks the shape of a command's input (names, ids, lengths, types, limits) without looking at any
 * state: malformed input is BAD_USER_INPUT before NOT_FOUND or CONFLICT can be. Nothing is trimmed or
 * coerced; a copy with defaults filled in (`required: false`, `target: null`, absent label and
 * description null on creates) is returned.
 */
export function normalize(cmd: Command): NormalizedCommand {
  const type: unknown = cmd?.type;
  switch (type) {
    case 'CreateDatabase': {
      const i = inputOf(cmd, ['name', 'label', 'description']);
      return {
        type,
        input: {
          name: databaseName(i.name, 'input.name'),
          label: text(i.label, 'input.label', LIMITS.labelLength) ?? null,
          description: text(i.description, 'input.description', LIMITS.descriptionLength) ?? null,
        },
      };
    }
    case 'DeleteDatabase': {
      const i = inputOf(cmd, ['name', 'expectedSeq']);
      return { type, input: { name: databaseName(i.name, 'input.name'), expectedSeq: seq(i.expectedSeq) } };
    }
    case 'CreateOntologyClass': {
      const i = inputOf(cmd, ['database', 'id', 'label', 'description', 'properties']);
      return {
        type,
        input: {
          database: databaseName(i.database, 'input.database'),
          id: entityId(i.id, 'input.id'),
          label: text(i.label, 'input.label', LIMITS.labelLength) ?? null,
          description: text(i.description, 'input.description', LIMITS.descriptionLength) ?? null,
          properties: definitions(i.properties, 'input.properties'),
        },
      };
    }
    case 'UpdateOntologyClass':
      return updateOntologyClass(inputOf(cmd, UPDATE_CLASS_FIELDS));
    case 'DeleteOntologyClass':
    case 'DeleteInstance': {
      const i = inputOf(cmd, ['database', 'id', 'expectedSeq']);
      return {
        type,
        input: {
          database: databaseName(i.database, 'input.database'),
          id: entityId(i.id, 'input.id'),
          expectedSeq: seq(i.expectedSeq),
        },
      };
    }
    case 'CreateInstance': {
      const i = inputOf(cmd, ['database', 'classId', 'id', 'properties']);
      // id absent: the application service generates one before deciding.
      return {
        type,
        input: {
          database: databaseName(i.database, 'input.database'),
          classId: entityId(i.classId, 'input.classId'),
          id: i.id === undefined || i.id === null ? null : entityId(i.id, 'input.id'),
          properties: values(i.properties, 'input.properties'),
        },
      };
    }
    case 'UpdateInstance':
      return updateInstance(inputOf(cmd, ['database', 'id', 'expectedSeq', 'set', 'unset']));
    default:
      return fail('type', `unknown command type ${quote(String(type))}`);
  }
}

/** The public form of `normalize`: a normalized copy typed as a `Command`. */
export const normalizeCommand = (cmd: Command): Command => normalize(cmd);

const UPDATE_CLASS_FIELDS = [
  'database',
  'id',
  'expectedSeq',
  'label',
  'description',
  'addProperties',
  'removeProperties',
];

function updateOntologyClass(i: JsonObject): NormalizedCommand {
  const database = databaseName(i.database, 'input.database');
  const id = entityId(i.id, 'input.id');
  const expectedSeq = seq(i.expectedSeq);
  // Absent means "unchanged", null means "clear": keep the difference.
  const label = text(i.label, 'input.label', LIMITS.labelLength);
  const description = text(i.description, 'input.description', LIMITS.descriptionLength);
  const addProperties =
    i.addProperties === undefined || i.addProperties === null
      ? []
      : definitions(i.addProperties, 'input.addProperties');
  const removeProperties = names(i.removeProperties, 'input.removeProperties', LIMITS.classProperties);
  const removed = new Set(removeProperties);
  addProperties.forEach((p, n) => {
    if (removed.has(p.name)) fail(`input.addProperties[${n}].name`, 'also listed in removeProperties');
  });
  return {
    type: 'UpdateOntologyClass',
    input: {
      database,
      id,
      expectedSeq,
      ...(label === undefined ? {} : { label }),
      ...(description === undefined ? {} : { description }),
      addProperties,
      removeProperties,
    },
  };
}

function updateInstance(i: JsonObject): NormalizedCommand {
  const database = databaseName(i.database, 'input.database');
  const id = entityId(i.id, 'input.id');
  const expectedSeq = seq(i.expectedSeq);
  const set = i.set === undefined || i.set === null ? {} : values(i.set, 'input.set');
  const unset = names(i.unset, 'input.unset', LIMITS.instanceProperties);
  unset.forEach((name, n) => {
    if (set[name] !== undefined && set[name] !== null) fail(`input.unset[${n}]`, 'also given a value in set');
  });
  return { type: 'UpdateInstance', input: { database, id, expectedSeq, set, unset } };
}

function inputOf(cmd: { input?: unknown }, fields: readonly string[]): JsonObject {
  const input = cmd.input;
  if (!isJsonObject(input)) return fail('input', 'must be an object');
  for (const key of Object.keys(input)) {
    if (!fields.includes(key) && !IGNORED_FIELDS.has(key)) fail(`input.${key}`, 'unknown field');
  }
  return input;
}

function databaseName(v: unknown, field: string): string {
  if (typeof v !== 'string') return fail(field, 'must be a string');
  if (!DATABASE_NAME.test(v)) {
    fail(field, 'must be 1-63 characters of a-z, 0-9, _ or -, starting with a letter');
  }
  return v;
}

function entityId(v: unknown, field: string): string {
  if (typeof v !== 'string') return fail(field, 'must be a string');
  if (!ENTITY_ID.test(v)) {
    fail(field, 'must be 1-128 characters of A-Z, a-z, 0-9, _, ., : or -, starting with a letter or digit');
  }
  return v;
}

function propertyName(v: unknown, field: string): string {
  if (typeof v !== 'string') return fail(field, 'must be a string');
  if (!PROPERTY_NAME.test(v)) {
    fail(field, 'must be 1-64 characters of A-Z, a-z, 0-9 or _, not starting with a digit');
  }
  if (RESERVED_PROPERTY_NAMES.has(v)) fail(field, `${quote(v)} is a reserved name`);
  return v;
}

function seq(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    return fail('input.expectedSeq', 'must be a non-negative integer');
  }
  return v;
}

/** undefined when absent (so that updates can tell "unchanged" from "cleared"). */
function text(v: unknown, field: string, max: number): string | null | undefined {
  if (v === undefined || v === null) return v;
  if (typeof v !== 'string') return fail(field, 'must be a string');
  if (v.length > max) fail(field, `must be at most ${max} characters`);
  return v;
}

function definitions(v: unknown, field: string): PropertyDefinition[] {
  if (!Array.isArray(v)) return fail(field, 'must be a list');
  if (v.length > LIMITS.classProperties) fail(field, `a class has at most ${LIMITS.classProperties} properties`);
  const seen = new Set<string>();
  return v.map((p: unknown, n) => {
    const def = definition(p, `${field}[${n}]`);
    if (seen.has(def.name)) fail(`${field}[${n}].name`, `duplicate property ${quote(def.name)}`);
    seen.add(def.name);
    return def;
  });
}

function definition(p: unknown, field: string): PropertyDefinition {
  if (!isJsonObject(p)) return fail(field, 'must be an object');
  for (const key of Object.keys(p)) {
    if (!['name', 'type', 'required', 'target'].includes(key)) fail(`${field}.${key}`, 'unknown field');
  }
  const name = propertyName(p.name, `${field}.name`);
  if (!PROPERTY_TYPES.includes(p.type as PropertyType)) {
    fail(`${field}.type`, `must be one of ${PROPERTY_TYPES.join(', ')}`);
  }
  const type = p.type as PropertyType;
  if (p.required !== undefined && p.required !== null && typeof p.required !== 'boolean') {
    fail(`${field}.required`, 'must be a boolean');
  }
  const required = p.required === true;
  if (type !== 'REFERENCE') {
    if (p.target !== undefined && p.target !== null) fail(`${field}.target`, 'only a REFERENCE property has a target');
    return { name, type, required, target: null };
  }
  if (p.target === undefined || p.target === null) return fail(`${field}.target`, 'required for a REFERENCE property');
  return { name, type, required, target: entityId(p.target, `${field}.target`) };
}

/** A list of property names (removeProperties, unset): absent is empty; no duplicates. */
function names(v: unknown, field: string, max: number): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return fail(field, 'must be a list');
  if (v.length > max) fail(field, `must have at most ${max} entries`);
  const seen = new Set<string>();
  return v.map((name: unknown, n) => {
    const checked = propertyName(name, `${field}[${n}]`);
    if (seen.has(checked)) fail(`${field}[${n}]`, `duplicate property ${quote(checked)}`);
    seen.add(checked);
    return checked;
  });
}

/** Instance property values: a JSON object with valid names, bounded size and bounded strings. */
function values(v: unknown, field: string): JsonObject {
  if (!isJsonObject(v)) return fail(field, 'must be a JSON object');
  const entries = Object.entries(v);
  if (entries.length > LIMITS.instanceProperties) {
    fail(field, `at most ${LIMITS.instanceProperties} properties`);
  }
  for (const [key, value] of entries) {
    propertyName(key, `${field}.${key}`);
    jsonValue(value, `${field}.${key}`);
  }
  return Object.fromEntries(entries);
}

/** Walks a value iteratively (no recursion limit): JSON only, no string longer than the limit. */
function jsonValue(root: unknown, field: string): void {
  const stack: unknown[] = [root];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v === 'boolean') continue;
    if (typeof v === 'string') {
      if (v.length > LIMITS.stringValueLength) {
        fail(field, `strings must be at most ${LIMITS.stringValueLength} characters`);
      }
      continue;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) fail(field, 'must be a JSON value (finite numbers only)');
      continue;
    }
    if (typeof v !== 'object' || v === null) fail(field, 'must be a JSON value');
    if (seen.has(v)) continue;
    seen.add(v);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push(child);
  }
}

export type NormalizedOf<T extends NormalizedCommand['type']> = Extract<NormalizedCommand, { type: T }>;
