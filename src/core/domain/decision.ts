import { type AggregateRef, aggregateKey } from '../aggregate.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Decision, DecisionGuards } from './commands.js';
import type { AggregateMeta, AnyDomainEvent } from './types.js';

/** NOT_FOUND unless the aggregate is live (update and delete). */
export function requireLive(state: AggregateMeta, aggregateId: string, what: string): void {
  if (!state.exists) throw new NotFoundError(aggregateId, what);
}

/** CONFLICT unless the aggregate is at the expected seq. */
export function requireSeq(state: AggregateMeta, aggregateId: string, expectedSeq: number): void {
  if (expectedSeq !== state.seq) throw new ConflictError(aggregateId, expectedSeq, state.seq);
}

/** A create of a live id is CONFLICT with expectedSeq 0 (API.md "Order of checks"). */
export function requireNotLive(state: AggregateMeta, aggregateId: string): void {
  if (state.exists) throw new ConflictError(aggregateId, 0, state.seq);
}

/**
 * One decision with one event. `expectedSeq` is the aggregate's current seq: 0 for a first create,
 * the tombstone's seq for a re-create (history continues), the checked expectedSeq otherwise.
 */
export function decision(
  target: AggregateRef,
  expectedSeq: number,
  event: AnyDomainEvent,
  guards: Partial<DecisionGuards>,
): Decision {
  return {
    target,
    expectedSeq,
    events: [event],
    guards: {
      parent: guards.parent ?? null,
      requireLive: uniqueRefs(guards.requireLive ?? []),
      requireVersion: guards.requireVersion ?? [],
      forbidLiveChildren: guards.forbidLiveChildren ?? false,
      liveAfter: guards.liveAfter ?? true,
    },
  };
}

function uniqueRefs(refs: AggregateRef[]): AggregateRef[] {
  const seen = new Set<string>();
  return refs.filter((ref) => {
    const key = aggregateKey(ref);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
