import type { AggregateRef } from '../aggregate.js';
import type { Command, Decision, DecisionContext } from './commands.js';
import { decideDatabase } from './database.js';
import { targetOf } from './dependencies.js';
import { decideInstance } from './instance.js';
import { normalize } from './normalize.js';
import { decideOntologyClass } from './ontologyClass.js';
import type { AggregateState } from './types.js';

/**
 * Decides a command against the target's state and the context's states of other aggregates. Pure.
 * Checks run in the contract's order (API.md "Order of checks"): malformed input, NOT_FOUND,
 * CONFLICT, then validation against the state and the class schema; each throws a CairnError.
 * Cross-aggregate invariants that must hold at append time are returned as `guards`.
 */
export function decide(cmd: Command, state: AggregateState, ctx: DecisionContext): Decision {
  const c = normalize(cmd);
  const s = stateOf(targetOf(c), state);
  switch (c.type) {
    case 'CreateDatabase':
    case 'DeleteDatabase':
      return decideDatabase(c, s.aggregateType === 'DATABASE' ? s : mismatch(c.type, s));
    case 'CreateOntologyClass':
    case 'UpdateOntologyClass':
    case 'DeleteOntologyClass':
      return decideOntologyClass(c, s.aggregateType === 'ONTOLOGY_CLASS' ? s : mismatch(c.type, s), ctx);
    case 'CreateInstance':
    case 'UpdateInstance':
    case 'DeleteInstance':
      return decideInstance(c, s.aggregateType === 'INSTANCE' ? s : mismatch(c.type, s), ctx);
  }
}

/** The state must be the target's: a mismatch is a bug in the caller, never the user's fault. */
function stateOf(target: AggregateRef, state: AggregateState): AggregateState {
  const id = state.aggregateType === 'DATABASE' ? state.name : `${state.database}/${state.id}`;
  if (state.aggregateType !== target.aggregateType || id !== target.aggregateId) {
    throw new Error(
      `State of ${state.aggregateType}:${id} given to decide a command on ${target.aggregateType}:${target.aggregateId}`,
    );
  }
  return state;
}

function mismatch(type: string, state: AggregateState): never {
  throw new Error(`${type} cannot be decided on a ${state.aggregateType} state`);
}
