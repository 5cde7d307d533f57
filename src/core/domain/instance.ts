import { classRef, databaseRef, instanceRef } from '../aggregate.js';
import { NotFoundError } from '../errors.js';
import { fail } from './check.js';
import type { Decision, DecisionContext } from './commands.js';
import { decision, requireLive, requireNotLive, requireSeq } from './decision.js';
import type { NormalizedOf } from './normalize.js';
import { checkRequired, checkValues, definitionsByName } from './properties.js';
import type { InstanceState, OntologyClassState } from './types.js';

type InstanceCommand = NormalizedOf<'CreateInstance' | 'UpdateInstance' | 'DeleteInstance'>;

export function decideInstance(cmd: InstanceCommand, state: InstanceState, ctx: DecisionContext): Decision {
  switch (cmd.type) {
    case 'CreateInstance':
      return decideCreate(cmd, state, ctx);
    case 'UpdateInstance':
      return decideUpdate(cmd, state, ctx);
    case 'DeleteInstance': {
      const { database, id } = cmd.input;
      const target = instanceRef(database, id);
      requireLive(state, target.aggregateId, 'Instance');
      requireSeq(state, target.aggregateId, cmd.input.expectedSeq);
      return decision(
        target,
        state.seq,
        { type: 'InstanceDeleted', payload: {} },
        { parent: classRef(database, state.classId), liveAfter: false },
      );
    }
  }
}

function decideCreate(cmd: NormalizedOf<'CreateInstance'>, state: InstanceState, ctx: DecisionContext): Decision {
  const { database, classId, id } = cmd.input;
  if (id === null) throw new Error('CreateInstance needs an id before deciding (the service generates one)');
  const target = instanceRef(database, id);
  if (ctx.databaseLive !== true) throw new NotFoundError(database, 'Database');
  const ontologyClass = liveClass(ctx, database, classId);
  requireNotLive(state, target.aggregateId);

  const checked = checkValues(cmd.input.properties, ontologyClass, 'input.properties', {
    self: { id, classId },
    referencedInstances: ctx.referencedInstances,
  });
  checkRequired(checked.values, ontologyClass, 'input.properties');
  return decision(
    target,
    state.seq,
    { type: 'InstanceCreated', payload: { database, id, classId, properties: checked.values } },
    guards(database, ontologyClass, checked.references),
  );
}

function decideUpdate(cmd: NormalizedOf<'UpdateInstance'>, state: InstanceState, ctx: DecisionContext): Decision {
  const { database, id, expectedSeq, set, unset } = cmd.input;
  const target = instanceRef(database, id);
  requireLive(state, target.aggregateId, 'Instance');
  if (ctx.databaseLive === false) throw new NotFoundError(database, 'Database');
  const ontologyClass = liveClass(ctx, database, state.classId);
  requireSeq(state, target.aggregateId, expectedSeq);

  const checked = checkValues(set, ontologyClass, 'input.set', {
    self: { id, classId: state.classId },
    referencedInstances: ctx.referencedInstances,
  });
  // `set` of null is the same as `unset`; neither may remove a required property.
  const definitions = definitionsByName(ontologyClass);
  checked.nulls.forEach((name) => {
    if (definitions.get(name)?.required) fail(`input.set.${name}`, 'a required property cannot be unset');
  });
  unset.forEach((name, n) => {
    if (definitions.get(name)?.required) fail(`input.unset[${n}]`, 'a required property cannot be unset');
  });
  const removed = [...new Set([...unset, ...checked.nulls])];
  return decision(
    target,
    state.seq,
    { type: 'InstanceUpdated', payload: { set: checked.values, unset: removed } },
    guards(database, ontologyClass, checked.references),
  );
}

/** The instance's class, which must be live (else NOT_FOUND of "<database>/<classId>"). */
function liveClass(ctx: DecisionContext, database: string, classId: string): OntologyClassState {
  const ontologyClass = ctx.ontologyClass;
  if (!ontologyClass?.exists) throw new NotFoundError(classRef(database, classId).aggregateId, 'Ontology class');
  if (ontologyClass.database !== database || ontologyClass.id !== classId) {
    throw new Error(
      `Decision context holds class ${ontologyClass.database}/${ontologyClass.id}, not ${database}/${classId}`,
    );
  }
  return ontologyClass;
}

const guards = (database: string, ontologyClass: OntologyClassState, references: string[]) => ({
  parent: classRef(database, ontologyClass.id),
  requireLive: [
    databaseRef(database),
    classRef(database, ontologyClass.id),
    ...references.map((ref) => instanceRef(database, ref)),
  ],
  // The values were validated against this version of the class: a schema change in between re-decides.
  requireVersion: [{ ref: classRef(database, ontologyClass.id), seq: ontologyClass.seq }],
});
