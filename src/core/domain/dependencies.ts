import { type AggregateRef, classRef, databaseRef, ENTITY_ID, instanceRef } from '../aggregate.js';
import type { Command } from './commands.js';
import { normalize } from './normalize.js';
import { definitionsByName } from './properties.js';
import type { AggregateState, JsonObject, OntologyClassState, PropertyDefinition } from './types.js';

export interface Dependencies {
  /** The database of a class or an instance (its liveness becomes `DecisionContext.databaseLive`). */
  database: AggregateRef | null;
  /** The class of an instance being created or updated. */
  ontologyClass: AggregateRef | null;
  /** Other instances the written values may reference (`DecisionContext.referencedInstances`). */
  referencedInstances: AggregateRef[];
  /** REFERENCE targets of the properties being defined, other than the class itself. */
  targetClasses: AggregateRef[];
}

/** The aggregate a command targets. Throws BAD_USER_INPUT on malformed input. */
export function targetOf(cmd: Command): AggregateRef {
  const c = normalize(cmd);
  switch (c.type) {
    case 'CreateDatabase':
    case 'DeleteDatabase':
      return databaseRef(c.input.name);
    case 'CreateOntologyClass':
    case 'UpdateOntologyClass':
    case 'DeleteOntologyClass':
      return classRef(c.input.database, c.input.id);
    case 'CreateInstance':
      if (c.input.id === null) throw new Error('CreateInstance has no id yet (the service generates one)');
      return instanceRef(c.input.database, c.input.id);
    case 'UpdateInstance':
    case 'DeleteInstance':
      return instanceRef(c.input.database, c.input.id);
  }
}

/**
 * The other aggregates whose states `decide` needs, given the target's state. Throws BAD_USER_INPUT
 * on malformed input.
 *
 * Which values are REFERENCEs depends on the instance's class. Without `ontologyClass`, every value
 * that could be an instance id is listed (a superset: harmless, states of missing ids are null);
 * with the loaded class, exactly the REFERENCE values. A reference to the instance itself is never
 * listed: `decide` answers it from the target's own state.
 */
export function dependenciesOf(
  cmd: Command,
  state: AggregateState,
  ontologyClass?: OntologyClassState | null,
): Dependencies {
  const c = normalize(cmd);
  const none: Dependencies = { database: null, ontologyClass: null, referencedInstances: [], targetClasses: [] };
  switch (c.type) {
    case 'CreateDatabase':
    case 'DeleteDatabase':
    case 'DeleteOntologyClass':
    case 'DeleteInstance':
      return none;
    case 'CreateOntologyClass':
    case 'UpdateOntologyClass': {
      const { database, id } = c.input;
      const defined = c.type === 'CreateOntologyClass' ? c.input.properties : c.input.addProperties;
      return { ...none, database: databaseRef(database), targetClasses: targetsOf(defined, database, id) };
    }
    case 'CreateInstance': {
      const { database, classId, id, properties } = c.input;
      return {
        ...none,
        database: databaseRef(database),
        ontologyClass: classRef(database, classId),
        referencedInstances: referencesOf(properties, database, id, ontologyClass),
      };
    }
    case 'UpdateInstance': {
      const { database, id, set } = c.input;
      const classId = state.aggregateType === 'INSTANCE' && state.exists ? state.classId : null;
      return {
        ...none,
        database: databaseRef(database),
        ontologyClass: classId === null ? null : classRef(database, classId),
        referencedInstances: referencesOf(set, database, id, ontologyClass),
      };
    }
  }
}

function targetsOf(properties: PropertyDefinition[], database: string, self: string): AggregateRef[] {
  const targets = new Set<string>();
  for (const p of properties) if (p.target !== null && p.target !== self) targets.add(p.target);
  return [...targets].map((t) => classRef(database, t));
}

function referencesOf(
  values: JsonObject,
  database: string,
  self: string | null,
  ontologyClass: OntologyClassState | null | undefined,
): AggregateRef[] {
  const definitions = ontologyClass ? definitionsByName(ontologyClass) : null;
  const ids = new Set<string>();
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== 'string' || value === self || !ENTITY_ID.test(value)) continue;
    if (definitions && definitions.get(name)?.type !== 'REFERENCE') continue;
    ids.add(value);
  }
  return [...ids].map((id) => instanceRef(database, id));
}
