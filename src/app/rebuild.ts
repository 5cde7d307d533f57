import { aggregateKey } from '../core/aggregate.js';
import { type AggregateState, initialState } from '../core/domain/index.js';
import { stateToDoc } from '../core/projection.js';
import type { EventStore } from '../ports/eventStore.js';
import type { ProjectedDoc, ReadModel } from '../ports/readModel.js';
import { applyCommits } from './aggregateRepository.js';

/**
 * Rebuilds the read model from the event store: folds every aggregate and writes its final doc in
 * bulk. Safe while a projector runs: external versioning keeps whichever seq is newer.
 */
export async function rebuildReadModel(
  deps: { eventStore: EventStore; readModel: ReadModel },
  options: {
    batchSize?: number;
    /** Commits listed and read per scan page. @default 1000 */
    pageSize?: number;
    onProgress?: (p: { commits: number; aggregates: number }) => void;
  } = {},
): Promise<{ commits: number; aggregates: number }> {
  const batchSize = options.batchSize ?? 500;
  let batch: ProjectedDoc[] = [];
  let current = null as { key: string; state: AggregateState } | null;
  let commits = 0;
  let aggregates = 0;
  // One bulk write in flight while the scan reads on: a write failure still fails the rebuild (at
  // the next flush at the latest).
  let writing: Promise<void> = Promise.resolve();
  const flush = async (force: boolean) => {
    if (batch.length >= batchSize || (force && batch.length > 0)) {
      await writing;
      const docs = batch;
      const progress = { commits, aggregates };
      batch = [];
      writing = deps.readModel.apply(docs).then(() => options.onProgress?.(progress));
      writing.catch(() => undefined);
    }
    if (force) await writing;
  };
  for await (const commit of deps.eventStore.scan({ pageSize: options.pageSize ?? 1000 })) {
    commits++;
    const key = aggregateKey(commit);
    if (current?.key !== key) {
      if (current && current.state.seq > 0) batch.push(stateToDoc(current.state));
      current = { key, state: initialState(commit) };
      aggregates++;
      await flush(false);
    }
    current.state = applyCommits(current.state, [commit]);
  }
  if (current && current.state.seq > 0) batch.push(stateToDoc(current.state));
  await flush(true);
  return { commits, aggregates };
}
