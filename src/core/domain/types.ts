/** Write-side domain: states folded from events, commands decided against states. */

export type PropertyType = 'STRING' | 'INT' | 'FLOAT' | 'BOOLEAN' | 'DATETIME' | 'REFERENCE' | 'JSON';
export const PROPERTY_TYPES: readonly PropertyType[] = [
  'STRING',
  'INT',
  'FLOAT',
  'BOOLEAN',
  'DATETIME',
  'REFERENCE',
  'JSON',
];

export interface PropertyDefinition {
  name: string;
  type: PropertyType;
  required: boolean;
  /** REFERENCE only: the target class id (same database). */
  target: string | null;
}

export type JsonObject = { [key: string]: unknown };

/** Fields every aggregate state carries. `seq` 0 and `exists` false: never created. */
export interface AggregateMeta {
  seq: number;
  exists: boolean;
  createdAt: string | null;
  updatedAt: string | null;
}

export interface DatabaseState extends AggregateMeta {
  aggregateType: 'DATABASE';
  name: string;
  label: string | null;
  description: string | null;
}

export interface OntologyClassState extends AggregateMeta {
  aggregateType: 'ONTOLOGY_CLASS';
  database: string;
  id: string;
  label: string | null;
  description: string | null;
  properties: PropertyDefinition[];
}

export interface InstanceState extends AggregateMeta {
  aggregateType: 'INSTANCE';
  database: string;
  id: string;
  /** '' until created. */
  classId: string;
  properties: JsonObject;
}

/** The state of any aggregate, discriminated by `aggregateType`. */
export type AggregateState = DatabaseState | OntologyClassState | InstanceState;

/** Domain event types and payloads (schemaVersion 1). */
export interface DomainEventMap {
  DatabaseCreated: { name: string; label: string | null; description: string | null };
  DatabaseDeleted: Record<string, never>;
  OntologyClassCreated: {
    database: string;
    id: string;
    label: string | null;
    description: string | null;
    properties: PropertyDefinition[];
  };
  OntologyClassUpdated: {
    label?: string | null;
    description?: string | null;
    addProperties: PropertyDefinition[];
    removeProperties: string[];
  };
  OntologyClassDeleted: Record<string, never>;
  InstanceCreated: { database: string; id: string; classId: string; properties: JsonObject };
  InstanceUpdated: { set: JsonObject; unset: string[] };
  InstanceDeleted: Record<string, never>;
}

export type DomainEventType = keyof DomainEventMap;

export interface DomainEvent<T extends DomainEventType = DomainEventType> {
  type: T;
  payload: DomainEventMap[T];
}

export type AnyDomainEvent = { [T in DomainEventType]: DomainEvent<T> }[DomainEventType];
