import { classRef, databaseRef } from '../aggregate.js';
import { NotFoundError } from '../errors.js';
import { fail, quote } from './check.js';
import type { Decision, DecisionContext } from './commands.js';
import { decision, requireLive, requireNotLive, requireSeq } from './decision.js';
import { LIMITS } from './limits.js';
import type { NormalizedOf } from './normalize.js';
import type { OntologyClassState, PropertyDefinition } from './types.js';

type ClassCommand = NormalizedOf<'CreateOntologyClass' | 'UpdateOntologyClass' | 'DeleteOntologyClass'>;

export function decideOntologyClass(cmd: ClassCommand, state: OntologyClassState, ctx: DecisionContext): Decision {
  const { database, id } = cmd.input;
  const target = classRef(database, id);
  const parent = databaseRef(database);
  switch (cmd.type) {
    case 'CreateOntologyClass': {
      if (ctx.databaseLive !== true) throw new NotFoundError(database, 'Database');
      requireNotLive(state, target.aggregateId);
      const targets = checkTargets(cmd.input.properties, id, 'input.properties', ctx);
      return decision(
        target,
        state.seq,
        { type: 'OntologyClassCreated', payload: { ...cmd.input } },
        { parent, requireLive: [parent, ...targets.map((t) => classRef(database, t))] },
      );
    }
    case 'UpdateOntologyClass':
      return decideUpdate(cmd, state, ctx);
    case 'DeleteOntologyClass':
      requireLive(state, target.aggregateId, 'Ontology class');
      requireSeq(state, target.aggregateId, cmd.input.expectedSeq);
      // Live instances are checked by the sequence store, atomically with the append.
      return decision(
        target,
        state.seq,
        { type: 'OntologyClassDeleted', payload: {} },
        { parent, liveAfter: false, forbidLiveChildren: true },
      );
  }
}

function decideUpdate(
  cmd: NormalizedOf<'UpdateOntologyClass'>,
  state: OntologyClassState,
  ctx: DecisionContext,
): Decision {
  const { database, id, expectedSeq, addProperties, removeProperties } = cmd.input;
  const target = classRef(database, id);
  const parent = databaseRef(database);
  requireLive(state, target.aggregateId, 'Ontology class');
  if (ctx.databaseLive === false) throw new NotFoundError(database, 'Database');
  requireSeq(state, target.aggregateId, expectedSeq);

  const existing = new Set(state.properties.map((p) => p.name));
  removeProperties.forEach((name, n) => {
    if (!existing.has(name)) fail(`input.removeProperties[${n}]`, `class has no property ${quote(name)}`);
  });
  addProperties.forEach((p, n) => {
    if (existing.has(p.name)) fail(`input.addProperties[${n}].name`, `class already has property ${quote(p.name)}`);
  });
  const count = state.properties.length - removeProperties.length + addProperties.length;
  if (count > LIMITS.classProperties) {
    fail('input.addProperties', `a class has at most ${LIMITS.classProperties} properties`);
  }
  const targets = checkTargets(addProperties, id, 'input.addProperties', ctx);

  const { label, description } = cmd.input;
  return decision(
    target,
    state.seq,
    {
      type: 'OntologyClassUpdated',
      payload: {
        ...(label === undefined ? {} : { label }),
        ...(description === undefined ? {} : { description }),
        addProperties,
        removeProperties,
      },
    },
    {
      parent,
      requireLive: [parent, ...targets.map((t) => classRef(database, t))],
      // Existing live instances would lack the new property: the sequence store refuses then.
      forbidLiveChildren: addProperties.some((p) => p.required),
    },
  );
}

/** Every REFERENCE target other than the class itself must be a live class; returns those targets. */
function checkTargets(properties: PropertyDefinition[], self: string, field: string, ctx: DecisionContext): string[] {
  const targets = new Set<string>();
  properties.forEach((p, n) => {
    if (p.target === null || p.target === self) return;
    if (!ctx.targetClasses?.get(p.target)?.exists) {
      fail(`${field}[${n}].target`, `class ${quote(p.target)} does not exist`);
    }
    targets.add(p.target);
  });
  return [...targets];
}
