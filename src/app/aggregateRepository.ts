import type { AggregateRef } from '../core/aggregate.js';
import { aggregateKey } from '../core/aggregate.js';
import { type AggregateState, evolve, initialState } from '../core/domain/index.js';
import type { AnyDomainEvent } from '../core/domain/types.js';
import type { Commit } from '../core/envelope.js';
import type { EventStore } from '../ports/eventStore.js';
import { Lru } from './lru.js';

/**
 * Write-side states, folded from the event store. States are cached; `load` with `fresh` reads only
 * the commits after the cached seq (one bounded listing), so a warm load costs one round trip or none.
 */
export interface AggregateRepository {
  load(ref: AggregateRef, options?: { fresh?: boolean }): Promise<AggregateState>;
  /** Caches the state a successful append produced. */
  remember(state: AggregateState): void;
}

export function createAggregateRepository(deps: { eventStore: EventStore; cacheSize: number }): AggregateRepository {
  const cache = new Lru<string, AggregateState>(deps.cacheSize);
  return {
    async load(ref, { fresh = true } = {}) {
      const key = aggregateKey(ref);
      const cached = cache.get(key);
      if (cached && !fresh) return cached;
      const base = cached ?? initialState(ref);
      const commits = await deps.eventStore.readAggregate(ref, base.seq);
      const state = applyCommits(base, commits);
      cache.set(key, state);
      return state;
    },
    remember(state) {
      const key = aggregateKey(refOf(state));
      const cached = cache.get(key);
      if (!cached || cached.seq < state.seq) cache.set(key, state);
    },
  };
}

export function applyCommits(state: AggregateState, commits: Commit[]): AggregateState {
  let next = state;
  for (const commit of commits) {
    for (const envelope of commit.envelopes) {
      if (envelope.kind !== 'domain' || envelope.seq <= next.seq) continue;
      const event = { type: envelope.type, payload: envelope.payload } as AnyDomainEvent;
      next = evolve(next, event, { seq: envelope.seq, occurredAt: envelope.occurredAt });
    }
  }
  return next;
}

export function refOf(state: AggregateState): AggregateRef {
  switch (state.aggregateType) {
    case 'DATABASE':
      return { aggregateType: 'DATABASE', aggregateId: state.name };
    case 'ONTOLOGY_CLASS':
      return { aggregateType: 'ONTOLOGY_CLASS', aggregateId: `${state.database}/${state.id}` };
    case 'INSTANCE':
      return { aggregateType: 'INSTANCE', aggregateId: `${state.database}/${state.id}` };
  }
}
