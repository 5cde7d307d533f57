import type { ClaimOutcome, ClaimRequest, ProcessedEventRegistry } from '../../ports/registry.js';

interface EventRecord {
  eventId: string;
  aggregateKey: string;
  seq: number;
  status: 'processing' | 'failed' | 'done' | 'parked';
  owner: string;
  fence: number;
  leaseUntil: number;
  attempts: number;
  error: string;
  /** Last status change (epoch ms): done time for done, park time for parked. */
  updatedAt: number;
}

interface HandlerState {
  events: Map<string, EventRecord>;
  applied: Map<string, number>;
}

/**
 * The embedded registry: in-process, like the embedded profile's transport and read model (which
 * are rebuilt at start, so the registry starting empty is what they need). Every method decides
 * synchronously, so each call is atomic.
 */
export function createMemoryRegistry(): ProcessedEventRegistry {
  const handlers = new Map<string, HandlerState>();
  const stateOf = (handler: string): HandlerState => {
    let state = handlers.get(handler);
    if (!state) {
      state = { events: new Map(), applied: new Map() };
      handlers.set(handler, state);
    }
    return state;
  };

  const claimOne = (
    state: HandlerState,
    owner: string,
    leaseMs: number,
    request: ClaimRequest,
    now: number,
  ): ClaimOutcome => {
    const { eventId } = request;
    const record = state.events.get(eventId);
    if (record?.status === 'done') return { eventId, outcome: 'done' };
    if (record?.status === 'parked') return { eventId, outcome: 'parked' };
    const lastSeq = state.applied.get(request.aggregateKey);
    if (lastSeq !== undefined && lastSeq >= request.seq) return { eventId, outcome: 'stale', lastSeq };
    if (record?.status === 'processing' && record.owner !== owner && record.leaseUntil > now) {
      return { eventId, outcome: 'busy' };
    }
    const fence = (record?.fence ?? 0) + 1;
    state.events.set(eventId, {
      eventId,
      aggregateKey: record?.aggregateKey ?? request.aggregateKey,
      seq: record?.seq ?? request.seq,
      status: 'processing',
      owner,
      fence,
      leaseUntil: now + leaseMs,
      attempts: record?.attempts ?? 0,
      error: record?.error ?? '',
      updatedAt: now,
    });
    return { eventId, outcome: 'claimed', fence };
  };

  return {
    async claim(handler, owner, leaseMs, events) {
      const state = stateOf(handler);
      const now = Date.now();
      const first = new Map<string, ClaimOutcome>();
      return events.map((request) => {
        let outcome = first.get(request.eventId);
        if (!outcome) {
          outcome = claimOne(state, owner, leaseMs, request, now);
          first.set(request.eventId, outcome);
        }
        return { ...outcome };
      });
    },

    async heartbeat(handler, owner, leaseMs, claims) {
      const state = stateOf(handler);
      const now = Date.now();
      const lost: string[] = [];
      for (const { eventId, fence } of claims) {
        const record = state.events.get(eventId);
        if (record?.status === 'processing' && record.owner === owner && record.fence === fence) {
          record.leaseUntil = now + leaseMs;
        } else {
          lost.push(eventId);
        }
      }
      return lost;
    },

    async markDone(handler, claims) {
      const state = stateOf(handler);
      const now = Date.now();
      const refused: string[] = [];
      for (const claim of claims) {
        const record = state.events.get(claim.eventId);
        if (record?.fence !== claim.fence || (record.status !== 'processing' && record.status !== 'done')) {
          refused.push(claim.eventId);
          continue;
        }
        if (record.status === 'done') continue;
        record.status = 'done';
        record.leaseUntil = 0;
        record.updatedAt = now;
        const applied = state.applied.get(claim.aggregateKey) ?? 0;
        state.applied.set(claim.aggregateKey, Math.max(applied, claim.seq));
      }
      return refused;
    },

    async markFailed(handler, claim, error, maxAttempts) {
      const record = stateOf(handler).events.get(claim.eventId);
      if (record?.status !== 'processing' || record.fence !== claim.fence) {
        return record?.status === 'parked' ? 'parked' : 'retry';
      }
      record.attempts += 1;
      record.error = error;
      record.leaseUntil = 0;
      record.updatedAt = Date.now();
      record.status = record.attempts >= maxAttempts ? 'parked' : 'failed';
      return record.status === 'parked' ? 'parked' : 'retry';
    },

    async lastAppliedSeq(handler, aggregateKeys) {
      const applied = stateOf(handler).applied;
      const result = new Map<string, number>();
      for (const key of aggregateKeys) {
        const seq = applied.get(key);
        if (seq !== undefined) result.set(key, seq);
      }
      return result;
    },

    async parked(handler, limit) {
      return [...stateOf(handler).events.values()]
        .filter((r) => r.status === 'parked')
        .sort((a, b) => a.updatedAt - b.updatedAt || (a.eventId < b.eventId ? -1 : 1))
        .slice(0, Math.max(0, limit))
        .map((r) => ({ eventId: r.eventId, aggregateKey: r.aggregateKey, seq: r.seq, error: r.error }));
    },

    async unpark(handler, eventId) {
      const events = stateOf(handler).events;
      if (events.get(eventId)?.status === 'parked') events.delete(eventId);
    },

    async purge(handler, olderThanMs) {
      const events = stateOf(handler).events;
      const cutoff = Date.now() - olderThanMs;
      let purged = 0;
      for (const [eventId, record] of events) {
        if (record.status === 'done' && record.updatedAt < cutoff) {
          events.delete(eventId);
          purged++;
        }
      }
      return purged;
    },

    async ping() {},
  };
}
