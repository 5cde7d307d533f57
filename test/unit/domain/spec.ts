import { expect } from 'vitest';
import { type AggregateRef, classRef, databaseRef, instanceRef } from '../../../src/core/aggregate.js';
import {
  type AggregateState,
  type AnyDomainEvent,
  type Command,
  type CommandType,
  type Decision,
  type DecisionContext,
  decide,
  fold,
  type InstanceState,
  type JsonObject,
  type OntologyClassState,
  type PropertyDefinition,
  type PropertyType,
} from '../../../src/core/domain/index.js';
import type { CairnError } from '../../../src/core/errors.js';

/** occurredAt of the n-th given event (1-based): distinct, increasing. */
export const at = (seq: number): string => new Date(Date.UTC(2024, 0, 1, 0, 0, seq)).toISOString();
export const NOW = '2024-06-01T00:00:00.000Z';

export const DB = 'shop';
export const dbRef = databaseRef(DB);
export const classOf = (id: string): AggregateRef => classRef(DB, id);
export const instanceOf = (id: string): AggregateRef => instanceRef(DB, id);

/** Folds events given at seq 1..n. */
export const stateAfter = (ref: AggregateRef, events: AnyDomainEvent[]): AggregateState =>
  fold(
    ref,
    events.map((event, n) => ({ event, seq: n + 1, occurredAt: at(n + 1) })),
  );

/**
 * Given/when/then for deciders (Emmett's DeciderSpecification): `given(ref, events).when(command,
 * ctx).then(events)` or `.thenThrows(ErrorClass, extensions)`. The context defaults to a live
 * database and nothing else; `then` returns the decision for further assertions.
 */
export function given(ref: AggregateRef, events: AnyDomainEvent[] = []) {
  const state = stateAfter(ref, events);
  return {
    state,
    when(command: Command, ctx: Partial<DecisionContext> = {}) {
      const run = (): Decision => decide(command, state, { now: NOW, databaseLive: true, ...ctx });
      return {
        // biome-ignore lint/suspicious/noThenProperty: the given/when/then vocabulary; never awaited
        then(expected: AnyDomainEvent[]): Decision {
          const decision = run();
          expect(decision.events).toEqual(expected);
          return decision;
        },
        thenThrows(
          errorClass: abstract new (...args: never[]) => CairnError,
          extensions?: Record<string, unknown>,
        ): CairnError {
          let error: unknown;
          try {
            run();
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(errorClass);
          const cairnError = error as CairnError;
          if (extensions) expect(cairnError.extensions).toMatchObject(extensions);
          return cairnError;
        },
      };
    },
  };
}

/** A command whose input is whatever a careless client might send. */
export const raw = (type: CommandType, input: unknown): Command => ({ type, input }) as unknown as Command;

export const prop = (
  name: string,
  type: PropertyType,
  opts: { required?: boolean; target?: string } = {},
): PropertyDefinition => ({ name, type, required: opts.required ?? false, target: opts.target ?? null });

export const classCreated = (id: string, properties: PropertyDefinition[]): AnyDomainEvent => ({
  type: 'OntologyClassCreated',
  payload: { database: DB, id, label: null, description: null, properties },
});

export const instanceCreated = (id: string, classId: string, properties: JsonObject = {}): AnyDomainEvent => ({
  type: 'InstanceCreated',
  payload: { database: DB, id, classId, properties },
});

export const classState = (id: string, properties: PropertyDefinition[]): OntologyClassState =>
  stateAfter(classOf(id), [classCreated(id, properties)]) as OntologyClassState;

export const deletedClassState = (id: string): OntologyClassState =>
  stateAfter(classOf(id), [classCreated(id, []), { type: 'OntologyClassDeleted', payload: {} }]) as OntologyClassState;

export const instanceState = (id: string, classId: string, properties: JsonObject = {}): InstanceState =>
  stateAfter(instanceOf(id), [instanceCreated(id, classId, properties)]) as InstanceState;

export const deletedInstanceState = (id: string, classId: string): InstanceState =>
  stateAfter(instanceOf(id), [instanceCreated(id, classId), { type: 'InstanceDeleted', payload: {} }]) as InstanceState;

/** A ReadonlyMap of states by bare id. */
export const byId = <S extends { id: string }>(...states: S[]): ReadonlyMap<string, S | null> =>
  new Map(states.map((s) => [s.id, s]));
