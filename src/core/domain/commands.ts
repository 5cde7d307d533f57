import type { AggregateRef } from '../aggregate.js';
import type { AnyDomainEvent, InstanceState, JsonObject, OntologyClassState, PropertyType } from './types.js';

export interface PropertyInput {
  name: string;
  type: PropertyType;
  required?: boolean | null;
  target?: string | null;
}

/** Commands as the gateway receives them (the mutation inputs without `idempotencyKey`). */
export type Command =
  | { type: 'CreateDatabase'; input: { name: string; label?: string | null; description?: string | null } }
  | { type: 'DeleteDatabase'; input: { name: string; expectedSeq: number } }
  | {
      type: 'CreateOntologyClass';
      input: {
        database: string;
        id: string;
        label?: string | null;
        description?: string | null;
        properties: PropertyInput[];
      };
    }
  | {
      type: 'UpdateOntologyClass';
      input: {
        database: string;
        id: string;
        expectedSeq: number;
        label?: string | null;
        description?: string | null;
        addProperties?: PropertyInput[] | null;
        removeProperties?: string[] | null;
      };
    }
  | { type: 'DeleteOntologyClass'; input: { database: string; id: string; expectedSeq: number } }
  | {
      type: 'CreateInstance';
      input: { database: string; classId: string; id?: string | null; properties: unknown };
    }
  | {
      type: 'UpdateInstance';
      input: { database: string; id: string; expectedSeq: number; set?: unknown; unset?: string[] | null };
    }
  | { type: 'DeleteInstance'; input: { database: string; id: string; expectedSeq: number } };

export type CommandType = Command['type'];
export type CommandOf<T extends CommandType> = Extract<Command, { type: T }>;

/** The mutation each command comes from; idempotency keys are scoped by it (API.md "Idempotency keys"). */
export const MUTATION_OF: Readonly<Record<CommandType, string>> = {
  CreateDatabase: 'createDatabase',
  DeleteDatabase: 'deleteDatabase',
  CreateOntologyClass: 'createOntologyClass',
  UpdateOntologyClass: 'updateOntologyClass',
  DeleteOntologyClass: 'deleteOntologyClass',
  CreateInstance: 'createInstance',
  UpdateInstance: 'updateInstance',
  DeleteInstance: 'deleteInstance',
};

/**
 * What deciding needs besides the target aggregate's own state: states of other aggregates the
 * command refers to, loaded by the application service beforehand (see `dependenciesOf`). A missing
 * entry counts as a missing aggregate.
 */
export interface DecisionContext {
  now: string;
  /** CreateInstance/UpdateInstance: the instance's class (null if it never existed). */
  ontologyClass?: OntologyClassState | null;
  /** Instances referenced by REFERENCE values, by bare id (null when missing). */
  referencedInstances?: ReadonlyMap<string, InstanceState | null>;
  /** CreateOntologyClass/UpdateOntologyClass: classes named as REFERENCE targets, by bare id. */
  targetClasses?: ReadonlyMap<string, OntologyClassState | null>;
  /**
   * Whether the database of a class or an instance exists and is live. Creates need `true`
   * (otherwise NOT_FOUND of the database); updates only fail on an explicit `false`; deletes ignore it.
   */
  databaseLive?: boolean;
}

/**
 * Cross-aggregate invariants a decision depends on. The sequence store checks them atomically with
 * the seq reservation, so a concurrent delete cannot slip between the check and the append.
 */
export interface DecisionGuards {
  /** Aggregates that must be live when the event is appended. */
  requireLive: AggregateRef[];
  /** Aggregates that must still be at the seq the decision read (their state shaped the decision). */
  requireVersion: { ref: AggregateRef; seq: number }[];
  /** Refuse (BAD_USER_INPUT) if the aggregate has live children at append time. */
  forbidLiveChildren: boolean;
  /** The parent whose live children this aggregate counts as (class for an instance, database for a class). */
  parent: AggregateRef | null;
  /** Whether the aggregate is live after the event. */
  liveAfter: boolean;
}

export interface Decision {
  /** The aggregate the command targets (for a created instance: with its generated id). */
  target: AggregateRef;
  /** The seq the command expects the aggregate to be at (0 for a create; an existing live id is CONFLICT). */
  expectedSeq: number;
  events: AnyDomainEvent[];
  guards: DecisionGuards;
}

export type { JsonObject };
