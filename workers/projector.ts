import { randomUUID } from 'node:crypto';
import { applyCommits } from '../src/app/aggregateRepository.js';
import { Lru } from '../src/app/lru.js';
import { type AggregateRef, aggregateKey } from '../src/core/aggregate.js';
import { type AggregateState, evolve, initialState } from '../src/core/domain/index.js';
import type { AnyDomainEvent } from '../src/core/domain/types.js';
import { type Envelope, parseEnvelope } from '../src/core/envelope.js';
import { isUnavailable } from '../src/core/errors.js';
import { docToState, stateToDoc } from '../src/core/projection.js';
import type { Logger } from '../src/observability/logger.js';
import { type Metrics, secondsSince } from '../src/observability/metrics.js';
import type { ChangeFeed, ChangeNotification } from '../src/ports/changeFeed.js';
import type { EventStore } from '../src/ports/eventStore.js';
import type { ProjectedDoc, ReadModel } from '../src/ports/readModel.js';
import type { ClaimOutcome, ProcessedEventRegistry } from '../src/ports/registry.js';
import type { ConsumedBatch, Transport, TransportConsumer } from '../src/ports/transport.js';
import { coalesceSmallBatches } from './coalesceBatches.js';
import { faultPointsFromEnv } from './faultPoints.js';

export const PROJECTOR_HANDLER = 'projector';

/** Batches of fewer events are merged with the other small batches of their fetch (coalesceSmallBatches). */
const COALESCE_BELOW = 200;

/** Aggregates whose last projected state a projector keeps, to skip reading their doc back. */
const RECENT_STATES = 10_000;

/**
 * The projector: consumes envelopes, claims each domain event in the registry, applies it to the
 * read model in seq order per aggregate (a gap is repaired by folding the aggregate from the event
 * store, so the transport is never trusted for completeness), emits change notifications, and only
 * then marks the events done. A projector dying before mark-done leaves the events to another owner,
 * which finds their effect there and notifies again: notifications are at-least-once, and the
 * gateways drop a repeat (ChangeHub).
 */
export interface Projector {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Applies a batch of envelopes (the consumer's handler; exposed for tests and replay). */
  handle(envelopes: Envelope[]): Promise<void>;
  status(): { running: boolean; lastError: string | null; applied: number; parked: number };
}

export interface ProjectorDeps {
  transport: Transport;
  eventStore: EventStore;
  readModel: ReadModel;
  registry: ProcessedEventRegistry;
  changeFeed: ChangeFeed;
  logger: Logger;
  metrics?: Metrics;
  options: { groupId: string; leaseMs: number; heartbeatMs: number; maxAttempts: number; owner?: string };
}

type Claimed = { envelope: Envelope; fence: number };

export function createProjector(deps: ProjectorDeps): Projector {
  const { registry, readModel, eventStore, changeFeed, logger, metrics, options } = deps;
  const owner = options.owner ?? `projector-${randomUUID()}`;
  let consumer: TransportConsumer | null = null;
  let lastError: string | null = null;
  let applied = 0;
  let parked = 0;
  const faults = faultPointsFromEnv();
  /** The state this projector last wrote per aggregate. */
  const recent = new Lru<string, AggregateState>(RECENT_STATES);

  /** Claims every event, waiting while another live owner holds one (its lease may still expire). */
  async function claimAll(events: Envelope[]): Promise<Claimed[]> {
    const claimed: Claimed[] = [];
    let pending = events;
    for (let delay = 20; pending.length > 0; delay = Math.min(delay * 2, 1_000)) {
      const outcomes = await registry.claim(PROJECTOR_HANDLER, owner, options.leaseMs, pending.map(toClaim));
      const byId = new Map<string, ClaimOutcome>(outcomes.map((o) => [o.eventId, o]));
      const busy: Envelope[] = [];
      for (const envelope of pending) {
        const outcome = byId.get(envelope.eventId);
        if (outcome?.outcome === 'claimed') claimed.push({ envelope, fence: outcome.fence });
        else if (outcome?.outcome === 'busy') busy.push(envelope);
        else metrics?.projectorSkipped.inc({ reason: outcome?.outcome ?? 'unknown' });
      }
      pending = busy;
      if (pending.length > 0) await new Promise((r) => setTimeout(r, delay));
    }
    return claimed;
  }

  /**
   * Folds claimed events onto the current docs; returns new docs, one notification per event and the
   * states reached. An aggregate whose first event directly follows the state this projector last
   * wrote starts from that state instead of its doc: a state at a given seq is the same wherever it
   * was computed, so only the seq needs to match.
   */
  async function project(claimed: Claimed[]) {
    const byAggregate = new Map<string, Claimed[]>();
    for (const c of claimed) {
      const key = aggregateKey(c.envelope);
      const list = byAggregate.get(key);
      if (list) list.push(c);
      else byAggregate.set(key, [c]);
    }
    const known = new Map<string, AggregateState>();
    const toLoad: Envelope[] = [];
    for (const [key, list] of byAggregate) {
      list.sort((a, b) => a.envelope.seq - b.envelope.seq);
      const first = list[0]!;
      const last = recent.get(key);
      if (last && last.seq === first.envelope.seq - 1) known.set(key, last);
      // An aggregate's first event, claimed for the first time: the registry has applied nothing of
      // it (applied seqs are never purged), so there is no doc of ours to read. One a rebuild wrote
      // meanwhile is newer, and Elasticsearch's versioning keeps it.
      else if (first.envelope.seq === 1 && first.fence === 1) known.set(key, initialState(first.envelope));
      else toLoad.push(first.envelope);
    }
    const current = await loadDocs(toLoad);
    const docs: ProjectedDoc[] = [];
    const changes: ChangeNotification[] = [];
    const reached = new Map<string, AggregateState>();
    for (const [key, list] of byAggregate) {
      const ref: AggregateRef = {
        aggregateType: list[0]!.envelope.aggregateType,
        aggregateId: list[0]!.envelope.aggregateId,
      };
      const doc = current.get(key);
      let state: AggregateState = known.get(key) ?? (doc ? docToState(doc) : initialState(ref));
      const fromSeq = state.seq;
      /** The doc of `state` once made (for its notification), so the read model gets the same one. */
      let stateDoc: ProjectedDoc | null = null;
      for (const { envelope, fence } of list) {
        if (envelope.seq <= state.seq) {
          // Already projected (duplicate or stale). A takeover (fence > 1) of an event whose effect is
          // there means its owner failed between the write and mark-done, maybe before notifying:
          // notify (again; the gateways drop a repeat).
          if (fence > 1 && doc && doc.seq >= envelope.seq) changes.push(notification(envelope, doc));
          continue;
        }
        faults.checkPoison(envelope.aggregateId);
        if (envelope.seq !== state.seq + 1) {
          // A gap: the transport lost or reordered something; the event store has the truth. The
          // missing events are notified too, so subscribers still see every seq, in order.
          metrics?.projectorRepairs.inc();
          const commits = await eventStore.readAggregate(ref, state.seq);
          for (const missing of commits.filter((c) => c.seq < envelope.seq).flatMap((c) => c.envelopes)) {
            if (missing.kind !== 'domain' || missing.seq <= state.seq) continue;
            state = applyCommits(state, [{ ...ref, seq: missing.seq, envelopes: [missing] }]);
            stateDoc = stateToDoc(state);
            changes.push(notification(missing, stateDoc));
          }
        }
        state = evolve(state, { type: envelope.type, payload: envelope.payload } as AnyDomainEvent, {
          seq: envelope.seq,
          occurredAt: envelope.occurredAt,
        });
        stateDoc = stateToDoc(state);
        changes.push(notification(envelope, stateDoc));
      }
      if (state.seq > fromSeq) docs.push(stateDoc ?? stateToDoc(state));
      reached.set(key, state);
    }
    return { docs, changes, reached };
  }

  async function loadDocs(firsts: Envelope[]): Promise<Map<string, ProjectedDoc>> {
    const byType = new Map<Envelope['aggregateType'], string[]>();
    for (const e of firsts) {
      const ids = byType.get(e.aggregateType);
      if (ids) ids.push(e.aggregateId);
      else byType.set(e.aggregateType, [e.aggregateId]);
    }
    const result = new Map<string, ProjectedDoc>();
    await Promise.all(
      [...byType].map(async ([type, ids]) => {
        const docs = await readModel.getMany(type, ids);
        docs.forEach((d) => {
          if (d) result.set(aggregateKey(d), d);
        });
      }),
    );
    return result;
  }

  async function handle(envelopes: Envelope[]): Promise<void> {
    const events = envelopes.filter((e) => e.kind === 'domain');
    if (events.length === 0) return;
    const claimed = await claimAll(events);
    if (claimed.length === 0) return;
    const heartbeat = setInterval(() => {
      registry
        .heartbeat(
          PROJECTOR_HANDLER,
          owner,
          options.leaseMs,
          claimed.map((c) => ({ eventId: c.envelope.eventId, fence: c.fence })),
        )
        .catch(() => undefined);
    }, options.heartbeatMs);
    try {
      await applyClaimed(claimed);
    } catch (e) {
      if (isUnavailable(e)) throw e; // an engine is down: the whole batch is redelivered later
      await isolateFailures(claimed);
    } finally {
      clearInterval(heartbeat);
    }
  }

  async function applyClaimed(claimed: Claimed[]): Promise<void> {
    const ids = claimed.map((c) => c.envelope.aggregateId);
    await faults.reached('claimed', ids);
    const { docs, changes, reached } = await project(claimed);
    await readModel.apply(docs);
    for (const [key, state] of reached) recent.set(key, state);
    if (metrics) {
      const now = Date.now();
      for (const { envelope } of claimed) metrics.projectorLag.observe(secondsSince(envelope.occurredAt, now));
    }
    await faults.reached('applied', ids);
    // Notified before mark-done: a failure in between leaves the events claimable, so they are
    // notified again rather than never (the read model already holds their effect).
    await changeFeed.publish(changes);
    await faults.reached('notified', ids);
    const refused = await registry.markDone(
      PROJECTOR_HANDLER,
      claimed.map(({ envelope, fence }) => ({
        eventId: envelope.eventId,
        fence,
        aggregateKey: aggregateKey(envelope),
        seq: envelope.seq,
      })),
    );
    if (refused.length)
      logger.warn('lost leases while projecting; another owner finishes them', { refused: refused.length });
    applied += claimed.length - refused.length;
    metrics?.projectorApplied.inc(claimed.length - refused.length);
  }

  /**
   * A batch failed for a reason other than a down engine: apply it aggregate by aggregate so that one
   * poison event only holds back its own aggregate; it is retried with the batch and, after
   * `maxAttempts`, parked so the partition moves on.
   */
  async function isolateFailures(claimed: Claimed[]): Promise<void> {
    const groups = new Map<string, Claimed[]>();
    for (const c of claimed) groups.set(aggregateKey(c.envelope), [...(groups.get(aggregateKey(c.envelope)) ?? []), c]);
    let retry: unknown = null;
    for (const group of groups.values()) {
      try {
        await applyClaimed(group);
      } catch (e) {
        if (isUnavailable(e)) throw e;
        metrics?.projectorFailures.inc();
        if ((await recordFailure(group, e)) === 'retry') retry = e;
      }
    }
    if (retry) throw retry;
  }

  async function recordFailure(claimed: Claimed[], error: unknown): Promise<'retry' | 'parked'> {
    const message = error instanceof Error ? error.message : String(error);
    let result: 'retry' | 'parked' = 'parked';
    for (const { envelope, fence } of claimed) {
      const outcome = await registry
        .markFailed(PROJECTOR_HANDLER, { eventId: envelope.eventId, fence }, message, options.maxAttempts)
        .catch(() => 'retry' as const);
      if (outcome === 'parked') {
        parked++;
        metrics?.projectorParked.inc();
        logger.error('event parked after repeated failures', {
          eventId: envelope.eventId,
          aggregateId: envelope.aggregateId,
          seq: envelope.seq,
          error: message,
        });
      } else result = 'retry';
    }
    return result;
  }

  /** Small batches of one fetch (one per partition) are applied together: one claim, bulk, notification and mark-done. */
  const handleCoalesced = coalesceSmallBatches(handle, { alone: COALESCE_BELOW });

  async function onBatch(batch: ConsumedBatch): Promise<void> {
    const envelopes: Envelope[] = [];
    for (const m of batch.messages) {
      if (m.kind === 'command') continue; // not projected: left unparsed
      try {
        envelopes.push(parseEnvelope(m.value));
      } catch (e) {
        logger.error('unreadable message skipped', { key: m.key, offset: m.offset, error: e });
      }
    }
    try {
      await handleCoalesced(envelopes);
      lastError = null;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
      logger.warn('projection batch failed; it will be redelivered', { error: e });
      throw e;
    }
  }

  return {
    async start() {
      consumer = await deps.transport.consume({ groupId: options.groupId, fromBeginning: true }, onBatch);
    },
    async stop() {
      await consumer?.stop();
      consumer = null;
    },
    handle,
    status: () => ({ running: consumer !== null, lastError, applied, parked }),
  };
}

const toClaim = (e: Envelope) => ({ eventId: e.eventId, aggregateKey: aggregateKey(e), seq: e.seq });

const notification = (envelope: Envelope, doc: ProjectedDoc): ChangeNotification => ({
  aggregateType: envelope.aggregateType,
  aggregateId: envelope.aggregateId,
  seq: envelope.seq,
  eventType: envelope.type,
  eventId: envelope.eventId,
  occurredAt: envelope.occurredAt,
  doc,
});
