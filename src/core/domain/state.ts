import { type AggregateRef, splitAggregateId } from '../aggregate.js';
import { isJsonObject } from './check.js';
import type {
  AggregateState,
  AnyDomainEvent,
  DatabaseState,
  InstanceState,
  JsonObject,
  OntologyClassState,
  PropertyDefinition,
} from './types.js';

export interface EventMeta {
  seq: number;
  occurredAt: string;
}

/** The state before any event: seq 0, not live. */
export function initialState(ref: AggregateRef): AggregateState {
  if (ref.aggregateType === 'DATABASE') {
    return { aggregateType: 'DATABASE', ...unborn, name: ref.aggregateId, label: null, description: null };
  }
  const { database, id } = splitAggregateId(ref.aggregateId);
  if (ref.aggregateType === 'ONTOLOGY_CLASS') {
    return { aggregateType: 'ONTOLOGY_CLASS', ...unborn, database, id, label: null, description: null, properties: [] };
  }
  // Written out, as evolveInstance's states are (the same shape for V8, and no spread).
  const state: InstanceState = {
    aggregateType: 'INSTANCE',
    seq: 0,
    exists: false,
    createdAt: null,
    updatedAt: null,
    database,
    id,
    classId: '',
    properties: {},
  };
  return state;
}

const unborn = { seq: 0, exists: false, createdAt: null, updatedAt: null };

/**
 * Applies one stored event. Total and tolerant: events come from the store and are trusted, so an
 * event that does not fit the state (another aggregate type, an unknown type, a missing payload
 * field) still moves `seq` and `updatedAt` and changes nothing else it cannot make sense of.
 */
export function evolve(state: AggregateState, event: AnyDomainEvent, meta: EventMeta): AggregateState {
  switch (state.aggregateType) {
    case 'DATABASE':
      return evolveDatabase(stamp(state, meta), event, meta);
    case 'ONTOLOGY_CLASS':
      return evolveClass(stamp(state, meta), event, meta);
    case 'INSTANCE':
      return evolveInstance(state, event, meta);
  }
}

export function fold(
  ref: AggregateRef,
  events: { event: AnyDomainEvent; seq: number; occurredAt: string }[],
): AggregateState {
  return events.reduce<AggregateState>((state, e) => evolve(state, e.event, e), initialState(ref));
}

const stamp = <S extends AggregateState>(state: S, meta: EventMeta): S => ({
  ...state,
  seq: meta.seq,
  updatedAt: meta.occurredAt,
});

const created = { exists: true } as const;
const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const payloadOf = (event: AnyDomainEvent): JsonObject => (isJsonObject(event.payload) ? event.payload : {});

function evolveDatabase(s: DatabaseState, event: AnyDomainEvent, meta: EventMeta): DatabaseState {
  const p = payloadOf(event);
  switch (event.type) {
    case 'DatabaseCreated':
      return { ...s, ...created, createdAt: meta.occurredAt, label: text(p.label), description: text(p.description) };
    case 'DatabaseDeleted':
      return { ...s, exists: false };
    default:
      return s;
  }
}

function evolveClass(s: OntologyClassState, event: AnyDomainEvent, meta: EventMeta): OntologyClassState {
  const p = payloadOf(event);
  switch (event.type) {
    case 'OntologyClassCreated':
      return {
        ...s,
        ...created,
        createdAt: meta.occurredAt,
        label: text(p.label),
        description: text(p.description),
        properties: definitions(p.properties),
      };
    case 'OntologyClassUpdated': {
      const removed = new Set([...strings(p.removeProperties), ...definitions(p.addProperties).map((d) => d.name)]);
      return {
        ...s,
        ...(Object.hasOwn(p, 'label') ? { label: text(p.label) } : {}),
        ...(Object.hasOwn(p, 'description') ? { description: text(p.description) } : {}),
        properties: [...s.properties.filter((d) => !removed.has(d.name)), ...definitions(p.addProperties)],
      };
    }
    case 'OntologyClassDeleted':
      return { ...s, exists: false };
    default:
      return s;
  }
}

/**
 * Instances are most of what is folded (projector, rebuild, every mutation), so their states are
 * written out field by field: on Node 20 an object literal with a spread and fields after it takes a
 * slow path: an update cost 4.3 µs with spreads against 0.5–0.85 µs written out, a create 1.2 against
 * 0.45 µs (Node 20, loops of 200,000 events).
 */
function evolveInstance(s: InstanceState, event: AnyDomainEvent, meta: EventMeta): InstanceState {
  const p = payloadOf(event);
  switch (event.type) {
    case 'InstanceCreated': {
      const properties: JsonObject = {};
      if (isJsonObject(p.properties))
        for (const [name, value] of Object.entries(p.properties)) put(properties, name, value);
      return instanceState(s, meta, true, meta.occurredAt, text(p.classId) ?? s.classId, properties);
    }
    case 'InstanceUpdated': {
      const unset = strings(p.unset);
      const properties: JsonObject = {};
      for (const name of Object.keys(s.properties))
        if (!unset.includes(name)) put(properties, name, s.properties[name]);
      if (isJsonObject(p.set))
        for (const [name, value] of Object.entries(p.set)) if (value !== null) put(properties, name, value);
      return instanceState(s, meta, s.exists, s.createdAt, s.classId, properties);
    }
    case 'InstanceDeleted':
      return instanceState(s, meta, false, s.createdAt, s.classId, s.properties);
    default:
      return instanceState(s, meta, s.exists, s.createdAt, s.classId, s.properties);
  }
}

/** Sets an own property, `__proto__` included (assigning that one would set the prototype). */
const put = (o: JsonObject, name: string, value: unknown): void => {
  if (name === '__proto__')
    Object.defineProperty(o, name, { value, enumerable: true, writable: true, configurable: true });
  else o[name] = value as JsonObject[string];
};

const instanceState = (
  s: InstanceState,
  meta: EventMeta,
  exists: boolean,
  createdAt: string | null,
  classId: string,
  properties: JsonObject,
): InstanceState => ({
  aggregateType: 'INSTANCE',
  seq: meta.seq,
  exists,
  createdAt,
  updatedAt: meta.occurredAt,
  database: s.database,
  id: s.id,
  classId,
  properties,
});

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);

/** Property definitions of a payload, defaults filled in (tolerant of older or partial shapes). */
function definitions(v: unknown): PropertyDefinition[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isJsonObject).map((d) => ({
    name: String(d.name),
    type: d.type as PropertyDefinition['type'],
    required: d.required === true,
    target: text(d.target),
  }));
}
