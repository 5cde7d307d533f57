/**
 * The write-side domain: pure deciders and evolvers for Database, OntologyClass and Instance.
 * The application service normalizes a command, loads the target's state and its dependencies,
 * decides, and appends the events under the decision's guards.
 */

export type {
  Command,
  CommandOf,
  CommandType,
  Decision,
  DecisionContext,
  DecisionGuards,
  PropertyInput,
} from './commands.js';
export { MUTATION_OF } from './commands.js';
export { decide } from './decide.js';
export { type Dependencies, dependenciesOf, targetOf } from './dependencies.js';
export { LIMITS } from './limits.js';
export { normalizeCommand } from './normalize.js';
export { isIsoDateTime } from './properties.js';
export { type EventMeta, evolve, fold, initialState } from './state.js';
export type {
  AggregateState,
  AnyDomainEvent,
  DatabaseState,
  DomainEvent,
  DomainEventMap,
  DomainEventType,
  InstanceState,
  JsonObject,
  OntologyClassState,
  PropertyDefinition,
  PropertyType,
} from './types.js';
export { PROPERTY_TYPES } from './types.js';
