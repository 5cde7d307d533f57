/** Aggregate identity as the contract names it (API.md "Aggregate identity"). */
export type AggregateType = 'DATABASE' | 'ONTOLOGY_CLASS' | 'INSTANCE';
export const AGGREGATE_TYPES: readonly AggregateType[] = ['DATABASE', 'ONTOLOGY_CLASS', 'INSTANCE'];

export interface AggregateRef {
  aggregateType: AggregateType;
  /** Database name, or "<database>/<id>" for a class or an instance. */
  aggregateId: string;
}

/** One string naming an aggregate across every port: "INSTANCE:db/id". */
export const aggregateKey = (ref: AggregateRef): string => `${ref.aggregateType}:${ref.aggregateId}`;

export const parseAggregateKey = (key: string): AggregateRef => {
  const at = key.indexOf(':');
  return { aggregateType: key.slice(0, at) as AggregateType, aggregateId: key.slice(at + 1) };
};

export const databaseRef = (name: string): AggregateRef => ({ aggregateType: 'DATABASE', aggregateId: name });
export const classRef = (database: string, id: string): AggregateRef => ({
  aggregateType: 'ONTOLOGY_CLASS',
  aggregateId: `${database}/${id}`,
});
export const instanceRef = (database: string, id: string): AggregateRef => ({
  aggregateType: 'INSTANCE',
  aggregateId: `${database}/${id}`,
});

/** Splits "<database>/<id>" into its parts (a database id has no slash). */
export const splitAggregateId = (aggregateId: string): { database: string; id: string } => {
  const slash = aggregateId.indexOf('/');
  return slash < 0
    ? { database: aggregateId, id: aggregateId }
    : { database: aggregateId.slice(0, slash), id: aggregateId.slice(slash + 1) };
};

export const DATABASE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
/** Class and instance ids: safe in an S3 key, a Kafka key and an Elasticsearch id. */
export const ENTITY_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export const PROPERTY_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export const isValidAggregateId = (type: AggregateType, aggregateId: string): boolean => {
  if (type === 'DATABASE') return DATABASE_NAME.test(aggregateId);
  const { database, id } = splitAggregateId(aggregateId);
  return aggregateId.includes('/') && DATABASE_NAME.test(database) && ENTITY_ID.test(id);
};
