import type { HealthCheck } from '../gateway/health.js';
import type { AppendSignal } from '../ports/appendSignal.js';
import type { ChangeFeed } from '../ports/changeFeed.js';
import type { EventStore } from '../ports/eventStore.js';
import type { IdempotencyStore } from '../ports/idempotencyStore.js';
import type { ReadModel } from '../ports/readModel.js';
import type { ProcessedEventRegistry } from '../ports/registry.js';
import type { SequenceStore } from '../ports/sequenceStore.js';
import type { Transport } from '../ports/transport.js';

/** One adapter per port, as a profile builds them, plus their health probes and shutdown. */
export interface Adapters {
  eventStore: EventStore;
  sequenceStore: SequenceStore;
  idempotencyStore: IdempotencyStore;
  transport: Transport;
  readModel: ReadModel;
  registry: ProcessedEventRegistry;
  changeFeed: ChangeFeed;
  appendSignal: AppendSignal;
  /** Probes by dependency name; `critical` ones make /health answer 503 when down. */
  health: Record<string, { check: HealthCheck; critical: boolean }>;
  /** The read model starts empty and must be rebuilt from the event store (in-process index). */
  rebuildAtStart: boolean;
  /** Only one process writes (cached states of other aggregates can be trusted). */
  singleWriter: boolean;
  close(): Promise<void>;
}

/** A health probe that pings a dependency and, when it answers, reports what was reached. */
export function probe(ping: () => Promise<unknown>, detail: string, critical = true) {
  const check: HealthCheck = async () => {
    await ping();
    return detail;
  };
  return { check, critical };
}
