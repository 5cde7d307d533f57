import type { ProjectedDoc } from '../ports/readModel.js';
import { splitAggregateId } from './aggregate.js';
import type { AggregateState } from './domain/index.js';
import type { DatabaseState, InstanceState, OntologyClassState, PropertyDefinition } from './domain/types.js';

/**
 * The read-model document of an aggregate state, and back. Mutations answer with `stateToDoc` of the
 * write-side state; the projector stores it; both sides therefore serve one shape.
 */
export function stateToDoc(state: AggregateState): ProjectedDoc {
  const base = {
    seq: state.seq,
    deleted: !state.exists,
    createdAt: state.createdAt ?? '',
    updatedAt: state.updatedAt ?? '',
  };
  switch (state.aggregateType) {
    case 'DATABASE':
      return {
        ...base,
        aggregateType: 'DATABASE',
        aggregateId: state.name,
        database: state.name,
        id: state.name,
        classId: null,
        data: { label: state.label, description: state.description },
      };
    case 'ONTOLOGY_CLASS':
      return {
        ...base,
        aggregateType: 'ONTOLOGY_CLASS',
        aggregateId: `${state.database}/${state.id}`,
        database: state.database,
        id: state.id,
        classId: null,
        data: { label: state.label, description: state.description, properties: state.properties },
      };
    case 'INSTANCE':
      return {
        ...base,
        aggregateType: 'INSTANCE',
        aggregateId: `${state.database}/${state.id}`,
        database: state.database,
        id: state.id,
        classId: state.classId,
        data: { properties: state.properties },
      };
  }
}

export function docToState(doc: ProjectedDoc): AggregateState {
  const meta = {
    seq: doc.seq,
    exists: !doc.deleted,
    createdAt: doc.createdAt || null,
    updatedAt: doc.updatedAt || null,
  };
  const { database, id } = splitAggregateId(doc.aggregateId);
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  switch (doc.aggregateType) {
    case 'DATABASE':
      return {
        ...meta,
        aggregateType: 'DATABASE',
        name: doc.aggregateId,
        label: str(doc.data.label),
        description: str(doc.data.description),
      } satisfies DatabaseState;
    case 'ONTOLOGY_CLASS':
      return {
        ...meta,
        aggregateType: 'ONTOLOGY_CLASS',
        database,
        id,
        label: str(doc.data.label),
        description: str(doc.data.description),
        properties: (doc.data.properties ?? []) as PropertyDefinition[],
      } satisfies OntologyClassState;
    case 'INSTANCE':
      return {
        ...meta,
        aggregateType: 'INSTANCE',
        database,
        id,
        classId: doc.classId ?? '',
        properties: (doc.data.properties ?? {}) as Record<string, unknown>,
      } satisfies InstanceState;
  }
}
