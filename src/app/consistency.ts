import { createHash } from 'node:crypto';
import { type AggregateType, aggregateKey } from '../core/aggregate.js';
import { type AggregateState, initialState } from '../core/domain/index.js';
import { stateToDoc } from '../core/projection.js';
import type { EventStore } from '../ports/eventStore.js';
import type { ProjectedDoc, ReadModel } from '../ports/readModel.js';
import { applyCommits } from './aggregateRepository.js';
import { canonicalJson } from './idempotency.js';

export interface Drift {
  aggregateType: AggregateType;
  aggregateId: string;
  storeSeq: number;
  readModelSeq: number | null;
  kind: 'missing' | 'behind' | 'ahead' | 'content';
}

export interface ConsistencyReport {
  aggregates: number;
  commits: number;
  drift: Drift[];
  repaired: number;
}

/** A hash of what a doc says (seq and data), independent of key order. */
export const docHash = (d: ProjectedDoc): string =>
  createHash('sha256')
    .update(canonicalJson({ seq: d.seq, deleted: d.deleted, classId: d.classId, data: d.data }))
    .digest('hex');

/**
 * Compares every aggregate of the event store with the read model (seq and content hash) and, with
 * `repair`, rewrites drifted docs from the folded events. The fault tests use it as their oracle.
 */
export async function checkConsistency(
  deps: { eventStore: EventStore; readModel: ReadModel },
  options: { repair?: boolean; batchSize?: number } = {},
): Promise<ConsistencyReport> {
  const batchSize = options.batchSize ?? 200;
  const report: ConsistencyReport = { aggregates: 0, commits: 0, drift: [], repaired: 0 };
  let batch: AggregateState[] = [];
  let current = null as { key: string; state: AggregateState } | null;

  const compare = async (states: AggregateState[]) => {
    const byType = new Map<AggregateType, AggregateState[]>();
    for (const s of states) byType.set(s.aggregateType, [...(byType.get(s.aggregateType) ?? []), s]);
    const fixes: ProjectedDoc[] = [];
    for (const [type, list] of byType) {
      const expected = list.map(stateToDoc);
      const actual = await deps.readModel.getMany(
        type,
        expected.map((d) => d.aggregateId),
      );
      expected.forEach((want, i) => {
        const got = actual[i] ?? null;
        const kind = driftKind(want, got);
        if (!kind) return;
        report.drift.push({
          aggregateType: type,
          aggregateId: want.aggregateId,
          storeSeq: want.seq,
          readModelSeq: got?.seq ?? null,
          kind,
        });
        if (kind === 'missing' || kind === 'behind') fixes.push(want);
      });
    }
    if (options.repair && fixes.length > 0) {
      await deps.readModel.apply(fixes);
      report.repaired += fixes.length;
    }
  };

  for await (const commit of deps.eventStore.scan()) {
    report.commits++;
    const key = aggregateKey(commit);
    if (current?.key !== key) {
      if (current) batch.push(current.state);
      current = { key, state: initialState(commit) };
      report.aggregates++;
      if (batch.length >= batchSize) {
        await compare(batch);
        batch = [];
      }
    }
    current.state = applyCommits(current.state, [commit]);
  }
  if (current) batch.push(current.state);
  await compare(batch);
  return report;
}

function driftKind(want: ProjectedDoc, got: ProjectedDoc | null): Drift['kind'] | null {
  if (!got) return want.deleted ? null : 'missing';
  if (got.seq < want.seq) return 'behind';
  if (got.seq > want.seq) return 'ahead';
  return docHash(got) === docHash(want) ? null : 'content';
}
