import { parseAggregateKey } from '../core/aggregate.js';
import type { Logger } from '../observability/logger.js';
import type { EventStore } from '../ports/eventStore.js';
import type { LedgerEntry, SequenceStore } from '../ports/sequenceStore.js';
import type { AggregateRepository } from './aggregateRepository.js';
import { mapLimit } from './concurrency.js';

export interface OutboxRepairResult {
  /** Unconfirmed reservations looked at. */
  checked: number;
  /** Stored commits re-appended (so their outbox entry exists) and confirmed. */
  reappended: number;
  /** Reservations given back: nothing was stored for them and their writer is long gone. */
  rolledBack: number;
}

export interface OutboxRepair {
  /** One pass over the unconfirmed reservations old enough to look at. */
  sweep(): Promise<OutboxRepairResult>;
  /** Sweeps every `intervalMs` until the returned stop is called (a failed pass is logged, retried next time). */
  start(): () => Promise<void>;
}

/** Aggregates repaired at once. */
const REPAIR_CONCURRENCY = 16;

/**
 * The outbox repair. An S3 append writes the commit, then its outbox entry, then confirms the
 * ledger reservation; a writer that dies between the commit and the entry leaves a stored commit
 * that no listing of the outbox will find (the relay saw it only if its announcement arrived). Its
 * reservation stays unconfirmed, so it is found here: every stored commit after the confirmed seq
 * is appended again (identical bytes: the store accepts them and writes the entry; a duplicate
 * publication is harmless, the projector's registry drops it) and the reservation confirmed. A reservation with nothing stored whose writer
 * is long gone is given back, as a writer meeting it would.
 *
 * Looking too early is safe (re-appending an append in flight only duplicates its entry), so
 * `minAgeMs` only keeps the repair from doing the live writers' work.
 */
export function createOutboxRepair(deps: {
  eventStore: EventStore;
  sequenceStore: SequenceStore;
  repository: AggregateRepository;
  logger: Logger;
  options: { intervalMs: number; minAgeMs: number; abandonedMs: number; batchSize?: number };
}): OutboxRepair {
  const { eventStore, sequenceStore, repository, logger, options } = deps;
  const batchSize = options.batchSize ?? 100;

  async function repair(entry: LedgerEntry, now: number): Promise<{ reappended: number; rolledBack: number }> {
    const ref = parseAggregateKey(entry.key);
    const stored = await eventStore.readAggregate(ref, entry.confirmedSeq);
    for (const commit of stored) await eventStore.append(commit);
    const last = stored[stored.length - 1]?.seq ?? entry.confirmedSeq;
    if (stored.length > 0) await sequenceStore.confirm(entry.key, last);
    if (last >= entry.seq || now - entry.reservedAt <= options.abandonedMs)
      return { reappended: stored.length, rolledBack: 0 };
    const state = await repository.load(ref);
    if (state.seq >= entry.seq) return { reappended: stored.length, rolledBack: 0 };
    const rolledBack = await sequenceStore.rollback(entry.key, entry.seq, { seq: state.seq, live: state.exists });
    return { reappended: stored.length, rolledBack: rolledBack ? 1 : 0 };
  }

  async function sweep(): Promise<OutboxRepairResult> {
    const now = Date.now();
    const entries = await sequenceStore.unconfirmed(now - options.minAgeMs, batchSize);
    const result: OutboxRepairResult = { checked: entries.length, reappended: 0, rolledBack: 0 };
    // Aggregates side by side (each one's commits in order): a re-append waits for its outbox entry,
    // which may wait out S3_OUTBOX_ENTRY_INTERVAL_MS, and concurrent ones share it.
    for (const done of await mapLimit(entries, REPAIR_CONCURRENCY, (entry) => repair(entry, now))) {
      result.reappended += done.reappended;
      result.rolledBack += done.rolledBack;
    }
    if (result.reappended > 0 || result.rolledBack > 0) {
      logger.warn('outbox repair: appends left unfinished by a writer were completed', { ...result });
    }
    return result;
  }

  return {
    sweep,
    start() {
      let stopped = false;
      let timer: NodeJS.Timeout | null = null;
      let pass: Promise<unknown> = Promise.resolve();
      const schedule = () => {
        if (stopped) return;
        timer = setTimeout(() => {
          pass = sweep()
            .catch((e: unknown) => logger.warn('outbox repair pass failed; retrying later', { error: e }))
            .finally(schedule);
        }, options.intervalMs);
        timer.unref();
      };
      schedule();
      return async () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        await pass;
      };
    },
  };
}
