import type { AggregateRef } from '../core/aggregate.js';
import { aggregateKey } from '../core/aggregate.js';
import { type AggregateState, evolve, initialState } from '../core/domain/index.js';
import type { AnyDomainEvent } from '../core/domain/types.js';
import type { Commit } from '../core/envelope.js';
import type { EventStore } from '../ports/eventStore.js';
import type { SequenceStore } from '../ports/sequenceStore.js';
import { Lru } from './lru.js';

/**
 * Write-side states, folded from the event store. States are cached; `load` with `fresh` brings the
 * cached state up to date. With a ledger, "up to date" is asked of the ledger first (one round trip
 * to the sequence store, far cheaper than an S3 listing): when it holds the cached seq nothing is
 * read; otherwise only the missing commits are fetched by key.
 */
export interface AggregateRepository {
  load(ref: AggregateRef, options?: { fresh?: boolean }): Promise<AggregateState>;
  /** The cached state, if any, without reading anything. */
  cached(ref: AggregateRef): AggregateState | undefined;
  /** Caches the state a successful append produced. */
  remember(state: AggregateState): void;
}

/** At most this many missing seqs are fetched by key; a longer gap is read with one listing. */
const MAX_DIRECT_READS = 8;

export function createAggregateRepository(deps: {
  eventStore: EventStore;
  cacheSize: number;
  /** The ledger (reserve precedes every append): tells whether a cached state is current. */
  ledger?: Pick<SequenceStore, 'get'>;
}): AggregateRepository {
  const { eventStore, ledger } = deps;
  const cache = new Lru<string, AggregateState>(deps.cacheSize);

  /** Folds the commits after `base.seq` found by one listing of the aggregate's keys. */
  const readListed = async (ref: AggregateRef, base: AggregateState) =>
    applyCommits(base, await eventStore.readAggregate(ref, base.seq));

  /**
   * Brings `base` up to `ledgerSeq`, the ledger's reserved seq. Commits are keyed by their last seq
   * and every seq up to it belongs to some commit, so the missing ones are among the keys
   * base.seq+1 .. ledgerSeq. A reserved seq whose append is still in flight is simply absent (as it
   * would be from a listing). A hole before a found commit means a commit spanning several seqs or
   * an odd store: the listing decides then.
   */
  const readMissing = async (ref: AggregateRef, base: AggregateState, ledgerSeq: number) => {
    const gap = ledgerSeq - base.seq;
    if (gap <= 0) return base;
    if (gap > MAX_DIRECT_READS) return readListed(ref, base);
    const refs = Array.from({ length: gap }, (_, i) => ({ ...ref, seq: base.seq + i + 1 }));
    const found = await eventStore.readCommits(refs);
    const lastFound = found.findLastIndex((c) => c !== null);
    if (found.slice(0, lastFound + 1).some((c) => c === null)) return readListed(ref, base);
    return applyCommits(base, found.slice(0, lastFound + 1) as Commit[]);
  };

  async function refresh(ref: AggregateRef, cached: AggregateState | undefined): Promise<AggregateState> {
    const base = cached ?? initialState(ref);
    if (!ledger) return readListed(ref, base);
    const entry = await ledger.get(aggregateKey(ref));
    // Never reserved: nothing can be in the store (an append always reserves first). A cached state
    // with commits the ledger does not know is odd (a ledger restored from elsewhere): list then.
    if (!entry) return cached && cached.seq > 0 ? readListed(ref, initialState(ref)) : base;
    // The ledger went below our cache (a rollback we did not see): distrust the cache.
    if (entry.seq < base.seq) return readListed(ref, initialState(ref));
    return readMissing(ref, base, entry.seq);
  }

  return {
    async load(ref, { fresh = true } = {}) {
      const key = aggregateKey(ref);
      const cached = cache.get(key);
      if (cached && !fresh) return cached;
      const state = await refresh(ref, cached);
      const current = cache.get(key);
      // A concurrent append may have cached a newer state meanwhile: keep the newest.
      if (!current || current.seq <= state.seq) cache.set(key, state);
      return state;
    },
    cached(ref) {
      return cache.get(aggregateKey(ref));
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
