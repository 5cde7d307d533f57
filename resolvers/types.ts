import type { PropertyDefinition } from '../src/core/domain/types.js';
import { BadUserInputError } from '../src/core/errors.js';
import type {
  DatabaseResolvers,
  EventResolvers,
  InstanceResolvers,
  OntologyClassResolvers,
} from '../src/gateway/generated/graphql.js';

/** Object field resolvers over read-model docs (and envelopes for `Event`). */
export const Database: DatabaseResolvers = {
  name: (d) => d.id,
  label: (d) => (d.data.label as string | null) ?? null,
  description: (d) => (d.data.description as string | null) ?? null,
};

export const OntologyClass: OntologyClassResolvers = {
  label: (d) => (d.data.label as string | null) ?? null,
  description: (d) => (d.data.description as string | null) ?? null,
  properties: (d) => (d.data.properties as PropertyDefinition[] | undefined) ?? [],
};

export const Instance: InstanceResolvers = {
  classId: (d) => d.classId ?? '',
  properties: (d) => d.data.properties ?? {},
  class: async (d, _, ctx) => {
    const doc = await ctx.docs('ONTOLOGY_CLASS').load(`${d.database}/${d.classId}`);
    return doc && !doc.deleted ? doc : null;
  },
  ref: async (d, { property }, ctx) => {
    const cls = await ctx.docs('ONTOLOGY_CLASS').load(`${d.database}/${d.classId}`);
    const def = (cls?.data.properties as PropertyDefinition[] | undefined)?.find((p) => p.name === property);
    if (cls && !cls.deleted && def?.type !== 'REFERENCE') {
      throw new BadUserInputError('property', `${property} is not a REFERENCE property of class ${d.classId}`);
    }
    const value = (d.data.properties as Record<string, unknown> | undefined)?.[property];
    if (typeof value !== 'string') return null;
    const doc = await ctx.docs('INSTANCE').load(`${d.database}/${value}`);
    return doc && !doc.deleted ? doc : null;
  },
};

export const Event: EventResolvers = {
  kind: (e) => (e.kind === 'command' ? 'COMMAND' : 'DOMAIN'),
  payload: (e) => e.payload ?? {},
};
