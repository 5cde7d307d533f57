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
  const meta = { seq: 0, exists: false, createdAt: null, updatedAt: null };
  if (ref.aggregateType === 'DATABASE') {
    return { aggregateType: 'DATABASE', ...meta, name: ref.aggregateId, label: null, description: null };
  }
  const { database, id } = splitAggregateId(ref.aggregateId);
  if (ref.aggregateType === 'ONTOLOGY_CLASS') {
    return { aggregateType: 'ONTOLOGY_CLASS', ...meta, database, id, label: null, description: null, properties: [] };
  }
  return { aggregateType: 'INSTANCE', ...meta, database, id, classId: '', properties: {} };
}

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
      return evolveInstance(stamp(state, meta), event, meta);
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

function evolveInstance(s: InstanceState, event: AnyDomainEvent, meta: EventMeta): InstanceState {
  const p = payloadOf(event);
  switch (event.type) {
    case 'InstanceCreated':
      return {
        ...s,
        ...created,
        createdAt: meta.occurredAt,
        classId: text(p.classId) ?? s.classId,
        properties: isJsonObject(p.properties) ? { ...p.properties } : {},
      };
    case 'InstanceUpdated': {
      const unset = new Set(strings(p.unset));
      const kept = Object.entries(s.properties).filter(([name]) => !unset.has(name));
      const set = isJsonObject(p.set) ? Object.entries(p.set).filter(([, v]) => v !== null) : [];
      // fromEntries defines own properties: no key can reach a prototype.
      return { ...s, properties: Object.fromEntries([...kept, ...set]) };
    }
    case 'InstanceDeleted':
      return { ...s, exists: false };
    default:
      return s;
  }
}

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
