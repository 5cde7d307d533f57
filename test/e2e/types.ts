/** The contract's shapes as a client sees them over the wire (API.md, schema/schema.graphql). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type AggregateType = 'DATABASE' | 'ONTOLOGY_CLASS' | 'INSTANCE';
export type PropertyType = 'STRING' | 'INT' | 'FLOAT' | 'BOOLEAN' | 'DATETIME' | 'REFERENCE' | 'JSON';

export interface Database {
  name: string;
  label: string | null;
  description: string | null;
  seq: number;
  createdAt: string;
  updatedAt: string;
}

export interface PropertyDefinition {
  name: string;
  type: PropertyType;
  required: boolean;
  target: string | null;
}

export interface PropertyInput {
  name: string;
  type: PropertyType;
  required?: boolean;
  target?: string;
}

export interface OntologyClass {
  database: string;
  id: string;
  label: string | null;
  description: string | null;
  properties: PropertyDefinition[];
  seq: number;
  createdAt: string;
  updatedAt: string;
}

export interface Instance {
  database: string;
  id: string;
  classId: string;
  properties: JsonObject;
  seq: number;
  createdAt: string;
  updatedAt: string;
}

export interface Event {
  eventId: string;
  kind: 'COMMAND' | 'DOMAIN';
  type: string;
  aggregateType: AggregateType;
  aggregateId: string;
  seq: number;
  schemaVersion: number;
  occurredAt: string;
  actor: string;
  correlationId: string;
  causationId: string | null;
  idempotencyKey: string | null;
  payload: Json;
}

export interface DatabasePayload {
  database: Database;
  seq: number;
  eventId: string;
}

export interface OntologyClassPayload {
  ontologyClass: OntologyClass;
  seq: number;
  eventId: string;
}

export interface InstancePayload {
  instance: Instance;
  seq: number;
  eventId: string;
}

export interface DeletePayload {
  id: string;
  seq: number;
  eventId: string;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

export interface InstanceWhere {
  property: string;
  eq?: Json;
  ne?: Json;
  gt?: Json;
  gte?: Json;
  lt?: Json;
  lte?: Json;
  in?: Json[];
  exists?: boolean;
}

export interface InstanceOrder {
  property: string;
  direction?: 'ASC' | 'DESC';
}

export interface InstanceChange {
  change: 'CREATED' | 'UPDATED' | 'DELETED';
  id: string;
  database: string;
  classId: string;
  seq: number;
  instance: Instance | null;
}

export interface AggregateChange {
  aggregateType: AggregateType;
  aggregateId: string;
  seq: number;
  eventType: string;
  eventId: string;
}
