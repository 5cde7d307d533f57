import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Resolvers } from '../src/gateway/generated/graphql.js';
import { Mutation } from './mutation.js';
import { Query } from './query.js';
import { Subscription } from './subscription.js';
import { Database, Event, Instance, OntologyClass } from './types.js';

/** Thin resolvers: arguments in, one service call, contract shape out. */
export const resolvers: Resolvers = {
  JSON: JSONResolver,
  DateTime: DateTimeResolver,
  Query,
  Mutation,
  Subscription,
  Database,
  OntologyClass,
  Instance,
  Event,
};
