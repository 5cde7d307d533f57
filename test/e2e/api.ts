import { randomId } from '../support/ids.js';
import { expectData, type GqlResponse, gql, type Variables } from './client.js';
import type {
  AggregateType,
  Connection,
  Database,
  DatabasePayload,
  DeletePayload,
  Event,
  Instance,
  InstanceOrder,
  InstancePayload,
  InstanceWhere,
  JsonObject,
  OntologyClass,
  OntologyClassPayload,
  PropertyInput,
} from './types.js';

/** The contract's operations, written as a web app would (variables typed with the contract's type names). */

export const DATABASE_FIELDS = 'name label description seq createdAt updatedAt';
export const CLASS_FIELDS =
  'database id label description properties { name type required target } seq createdAt updatedAt';
export const INSTANCE_FIELDS = 'database id classId properties seq createdAt updatedAt';
export const EVENT_FIELDS =
  'eventId kind type aggregateType aggregateId seq schemaVersion occurredAt actor correlationId causationId idempotencyKey payload';

const deletePayload = 'id seq eventId';

export const OPS = {
  createDatabase: `mutation CreateDatabase($input: CreateDatabaseInput!) {
    createDatabase(input: $input) { database { ${DATABASE_FIELDS} } seq eventId } }`,
  deleteDatabase: `mutation DeleteDatabase($input: DeleteDatabaseInput!) {
    deleteDatabase(input: $input) { ${deletePayload} } }`,
  createOntologyClass: `mutation CreateOntologyClass($input: CreateOntologyClassInput!) {
    createOntologyClass(input: $input) { ontologyClass { ${CLASS_FIELDS} } seq eventId } }`,
  updateOntologyClass: `mutation UpdateOntologyClass($input: UpdateOntologyClassInput!) {
    updateOntologyClass(input: $input) { ontologyClass { ${CLASS_FIELDS} } seq eventId } }`,
  deleteOntologyClass: `mutation DeleteOntologyClass($input: DeleteOntologyClassInput!) {
    deleteOntologyClass(input: $input) { ${deletePayload} } }`,
  createInstance: `mutation CreateInstance($input: CreateInstanceInput!) {
    createInstance(input: $input) { instance { ${INSTANCE_FIELDS} } seq eventId } }`,
  updateInstance: `mutation UpdateInstance($input: UpdateInstanceInput!) {
    updateInstance(input: $input) { instance { ${INSTANCE_FIELDS} } seq eventId } }`,
  deleteInstance: `mutation DeleteInstance($input: DeleteInstanceInput!) {
    deleteInstance(input: $input) { ${deletePayload} } }`,
  database: `query Database($name: ID!, $minSeq: Int) { database(name: $name, minSeq: $minSeq) { ${DATABASE_FIELDS} } }`,
  databases: `query Databases($first: Int, $after: String) {
    databases(first: $first, after: $after) { edges { cursor node { ${DATABASE_FIELDS} } } pageInfo { hasNextPage endCursor } totalCount } }`,
  ontologyClass: `query OntologyClass($database: ID!, $id: ID!, $minSeq: Int) {
    ontologyClass(database: $database, id: $id, minSeq: $minSeq) { ${CLASS_FIELDS} } }`,
  ontologyClasses: `query OntologyClasses($database: ID!, $first: Int, $after: String) {
    ontologyClasses(database: $database, first: $first, after: $after) {
      edges { cursor node { ${CLASS_FIELDS} } } pageInfo { hasNextPage endCursor } totalCount } }`,
  instance: `query Instance($database: ID!, $id: ID!, $minSeq: Int) {
    instance(database: $database, id: $id, minSeq: $minSeq) { ${INSTANCE_FIELDS} } }`,
  instances: `query Instances($database: ID!, $classId: ID, $where: [InstanceWhere!], $search: String,
      $orderBy: [InstanceOrder!], $first: Int, $after: String) {
    instances(database: $database, classId: $classId, where: $where, search: $search, orderBy: $orderBy, first: $first, after: $after) {
      edges { cursor node { ${INSTANCE_FIELDS} } } pageInfo { hasNextPage endCursor } totalCount } }`,
  events: `query Events($aggregateType: AggregateType!, $aggregateId: ID!, $fromSeq: Int, $first: Int) {
    events(aggregateType: $aggregateType, aggregateId: $aggregateId, fromSeq: $fromSeq, first: $first) { ${EVENT_FIELDS} } }`,
} as const;

export interface InstancesArgs {
  database: string;
  classId?: string;
  where?: InstanceWhere[];
  search?: string;
  orderBy?: InstanceOrder[];
  first?: number;
  after?: string | null;
}

/** One gateway's operations. `url` is read on every call, so an Api survives a cluster restart. */
export class Api {
  constructor(private readonly url: () => string) {}

  request<T>(query: string, variables?: Variables, headers?: Record<string, string>): Promise<GqlResponse<T>> {
    return gql<T>(this.url(), query, variables, headers ? { headers } : {});
  }

  createDatabase(input: Variables) {
    return this.request<{ createDatabase: DatabasePayload }>(OPS.createDatabase, { input });
  }
  deleteDatabase(input: Variables) {
    return this.request<{ deleteDatabase: DeletePayload }>(OPS.deleteDatabase, { input });
  }
  createOntologyClass(input: Variables) {
    return this.request<{ createOntologyClass: OntologyClassPayload }>(OPS.createOntologyClass, { input });
  }
  updateOntologyClass(input: Variables) {
    return this.request<{ updateOntologyClass: OntologyClassPayload }>(OPS.updateOntologyClass, { input });
  }
  deleteOntologyClass(input: Variables) {
    return this.request<{ deleteOntologyClass: DeletePayload }>(OPS.deleteOntologyClass, { input });
  }
  createInstance(input: Variables) {
    return this.request<{ createInstance: InstancePayload }>(OPS.createInstance, { input });
  }
  updateInstance(input: Variables) {
    return this.request<{ updateInstance: InstancePayload }>(OPS.updateInstance, { input });
  }
  deleteInstance(input: Variables) {
    return this.request<{ deleteInstance: DeletePayload }>(OPS.deleteInstance, { input });
  }
  database(name: string, minSeq?: number) {
    return this.request<{ database: Database | null }>(OPS.database, { name, minSeq });
  }
  databases(first?: number, after?: string | null) {
    return this.request<{ databases: Connection<Database> }>(OPS.databases, { first, after });
  }
  ontologyClass(database: string, id: string, minSeq?: number) {
    return this.request<{ ontologyClass: OntologyClass | null }>(OPS.ontologyClass, { database, id, minSeq });
  }
  ontologyClasses(database: string, first?: number, after?: string | null) {
    return this.request<{ ontologyClasses: Connection<OntologyClass> }>(OPS.ontologyClasses, {
      database,
      first,
      after,
    });
  }
  instance(database: string, id: string, minSeq?: number) {
    return this.request<{ instance: Instance | null }>(OPS.instance, { database, id, minSeq });
  }
  instances(args: InstancesArgs) {
    return this.request<{ instances: Connection<Instance> }>(OPS.instances, { ...args });
  }
  events(aggregateType: AggregateType, aggregateId: string, options: { fromSeq?: number; first?: number } = {}) {
    return this.request<{ events: Event[] }>(OPS.events, { aggregateType, aggregateId, ...options });
  }

  // --- fixtures: succeed or throw with the server's answer ---

  /** Creates a database with a unique name and returns the payload. */
  async newDatabase(input: Variables = {}): Promise<DatabasePayload> {
    return expectData(await this.createDatabase({ name: randomId('db'), ...input })).createDatabase;
  }
  async newClass(database: string, id: string, properties: PropertyInput[], extra: Variables = {}) {
    return expectData(await this.createOntologyClass({ database, id, properties, ...extra })).createOntologyClass;
  }
  async newInstance(database: string, classId: string, properties: JsonObject, id?: string) {
    return expectData(await this.createInstance({ database, classId, properties, ...(id ? { id } : {}) }))
      .createInstance;
  }
  async update(database: string, id: string, expectedSeq: number, change: { set?: JsonObject; unset?: string[] }) {
    return expectData(await this.updateInstance({ database, id, expectedSeq, ...change })).updateInstance;
  }
  async eventsOf(
    aggregateType: AggregateType,
    aggregateId: string,
    options: { fromSeq?: number; first?: number } = {},
  ) {
    return expectData(await this.events(aggregateType, aggregateId, options)).events;
  }
  async list(args: InstancesArgs): Promise<Connection<Instance>> {
    return expectData(await this.instances(args)).instances;
  }
  /** The ids of one page of `instances`, in order. */
  async ids(args: InstancesArgs): Promise<string[]> {
    return (await this.list({ first: 1000, ...args })).edges.map((e) => e.node.id);
  }
  /** Waits (through `minSeq` reads) until the read model holds each instance at its seq. */
  async settle(database: string, written: { id: string; seq: number }[]): Promise<void> {
    await Promise.all(written.map(async (w) => expectData(await this.instance(database, w.id, w.seq))));
  }
}

export const apiOf = (url: () => string): Api => new Api(url);

/** The aggregate id of a class or an instance. */
export const aggregateIdOf = (database: string, id: string): string => `${database}/${id}`;

export const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
