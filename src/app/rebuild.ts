import { aggregateKey, parseAggregateKey } from '../core/aggregate.js';
import { type AggregateState, initialState } from '../core/domain/index.js';
import type { Commit } from '../core/envelope.js';
import { stateToDoc } from '../core/projection.js';
import type { EventStore } from '../ports/eventStore.js';
import type { ProjectedDoc, ReadModel } from '../ports/readModel.js';
import type { SequenceStore } from '../ports/sequenceStore.js';
import { applyCommits } from './aggregateRepository.js';

export interface RebuildResult {
  commits: number;
  aggregates: number;
  /** How the commits were found: every commit key listed, or commit copies checked against the ledger. */
  source: 'scan' | 'copies';
  /** Copies: aggregates whose copies fell short of the ledger, read from the store by key. */
  readFromStore?: number;
  /** Copies: aggregates the ledger does not know (kept as their copies say; `--full` verifies them). */
  notInLedger?: number;
}

export interface RebuildOptions {
  batchSize?: number;
  /** Commits listed and read per scan page. @default 1000 */
  pageSize?: number;
  /** List every commit key (`EventStore.scan`) even when copies and a ledger could be used. */
  full?: boolean;
  /**
   * Rebuilding from copies keeps every aggregate's seq in memory (~200 bytes each); a ledger with
   * more rows than this is rebuilt by the scan, which streams. @default 1_000_000
   */
  maxAggregatesInMemory?: number;
  onProgress?: (p: { commits: number; aggregates: number }) => void;
}

/**
 * Rebuilds the read model from the event store: folds every aggregate and writes its final doc in
 * bulk. Safe while a projector runs: external versioning keeps whichever seq is newer.
 *
 * With a ledger and a store that keeps commit copies, the commits come from the copies (a few
 * hundred per request) and the ledger says how far each aggregate must reach: an aggregate whose
 * copies fall short of its reserved seq is read from the store by key, so nothing is missed without
 * listing every commit key (S3's LIST rate bounded the scan). Otherwise, or with `full`, every
 * commit key is listed.
 */
export async function rebuildReadModel(
  deps: { eventStore: EventStore; readModel: ReadModel; sequenceStore?: SequenceStore },
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const { sequenceStore } = deps;
  if (!options.full && sequenceStore && deps.eventStore.scanCopies) {
    const reserved = await reservedSeqs(sequenceStore, options.maxAggregatesInMemory ?? 1_000_000);
    if (reserved) return rebuildFromCopies(deps.eventStore, reserved, deps.readModel, options);
  }
  return rebuildFromScan(deps.eventStore, deps.readModel, options);
}

/** The reserved seq of every aggregate (how far its commits can reach), or null past `max` rows. */
async function reservedSeqs(sequenceStore: SequenceStore, max: number): Promise<Map<string, number> | null> {
  const reserved = new Map<string, number>();
  for (let after: string | null = null; ; ) {
    const page = await sequenceStore.entries(after, LEDGER_PAGE);
    for (const entry of page) reserved.set(entry.key, entry.seq);
    if (reserved.size > max) return null;
    if (page.length < LEDGER_PAGE) return reserved;
    after = page[page.length - 1]!.key;
  }
}

/**
 * Two: the read model indexes one bulk while the next is built and sent (with one, Elasticsearch and
 * the rebuild each waited for the other about half the time; see README, Performance).
 */
const BULKS_IN_FLIGHT = 2;

/**
 * Bulk writes of docs, BULKS_IN_FLIGHT at a time while the caller reads on (the read model indexes one
 * while the next is sent). A failed write fails a later flush, or the final one, once the writes still
 * in flight have settled; nothing is sent after that.
 */
function docWriter(
  readModel: ReadModel,
  options: RebuildOptions,
  progress: () => { commits: number; aggregates: number },
) {
  const batchSize = options.batchSize ?? 500;
  let batch: ProjectedDoc[] = [];
  /** Each settles once its bulk and every earlier one have settled (progress is reported in order). */
  const inFlight: Promise<void>[] = [];
  let last: Promise<void> = Promise.resolve();
  /** Waits for a write; if it failed, for every write still in flight too, so none outlives the rebuild. */
  const settle = async (write: Promise<void>) => {
    try {
      await write;
    } catch (e) {
      await Promise.allSettled(inFlight);
      throw e;
    }
  };
  const flush = async (force: boolean) => {
    if (batch.length >= batchSize || (force && batch.length > 0)) {
      if (inFlight.length >= BULKS_IN_FLIGHT) await settle(inFlight.shift()!);
      const docs = batch;
      const reached = progress();
      batch = [];
      const applied = readModel.apply(docs);
      const before = last;
      last = Promise.allSettled([before, applied]).then(async () => {
        await before;
        await applied;
        options.onProgress?.(reached);
      });
      last.catch(() => undefined);
      inFlight.push(last);
    }
    if (force) await settle(last);
  };
  return {
    async add(state: AggregateState) {
      if (state.seq === 0) return;
      batch.push(stateToDoc(state));
      await flush(false);
    },
    done: () => flush(true),
  };
}

async function rebuildFromScan(eventStore: EventStore, readModel: ReadModel, options: RebuildOptions) {
  let commits = 0;
  let aggregates = 0;
  const writer = docWriter(readModel, options, () => ({ commits, aggregates }));
  let current = null as { key: string; state: AggregateState } | null;
  for await (const commit of eventStore.scan({ pageSize: options.pageSize ?? 1000 })) {
    commits++;
    const key = aggregateKey(commit);
    if (current?.key !== key) {
      if (current) await writer.add(current.state);
      current = { key, state: initialState(commit) };
      aggregates++;
    }
    current.state = applyCommits(current.state, [commit]);
  }
  if (current) await writer.add(current.state);
  await writer.done();
  return { commits, aggregates, source: 'scan' as const };
}

const LEDGER_PAGE = 5_000;
const STORE_READS_IN_FLIGHT = 16;

/** The seq of a commit's first domain event: the commit follows an aggregate at one less. */
const firstSeqOf = (c: Commit): number => {
  const domain = c.envelopes.filter((e) => e.kind === 'domain');
  return domain.length > 0 ? domain[0]!.seq : c.seq;
};

async function rebuildFromCopies(
  eventStore: EventStore,
  reserved: Map<string, number>,
  readModel: ReadModel,
  options: RebuildOptions,
): Promise<RebuildResult> {
  let commits = 0;
  let aggregates = 0;
  const writer = docWriter(readModel, options, () => ({ commits, aggregates }));
  /** Aggregates being folded, and copies that came before the commit they follow. */
  const open = new Map<string, { state: AggregateState; early: Map<number, Commit> }>();
  /** Aggregates written out, at the seq they reached (later copies of theirs are duplicates). */
  const finished = new Map<string, number>();

  for await (const commit of eventStore.scanCopies!()) {
    const key = aggregateKey(commit);
    if ((finished.get(key) ?? -1) >= commit.seq) continue;
    let folding = open.get(key);
    if (!folding) {
      if (finished.has(key)) continue; // past the reserved seq, which no stored commit passes
      folding = { state: initialState(commit), early: new Map() };
      open.set(key, folding);
      aggregates++;
    }
    if (commit.seq <= folding.state.seq) continue;
    folding.early.set(firstSeqOf(commit), commit);
    for (let next = folding.early.get(folding.state.seq + 1); next; next = folding.early.get(folding.state.seq + 1)) {
      folding.early.delete(folding.state.seq + 1);
      folding.state = applyCommits(folding.state, [next]);
      commits++;
    }
    // Complete: written now, so memory holds only the aggregates still being folded.
    if (folding.state.seq >= (reserved.get(key) ?? Number.POSITIVE_INFINITY) && folding.early.size === 0) {
      await writer.add(folding.state);
      open.delete(key);
      finished.set(key, folding.state.seq);
    }
  }

  // What the copies did not bring to its reserved seq is read from the store: a commit never copied
  // (its segment lost, or not yet written), one stored but not yet listed anywhere, or nothing at all
  // (a reservation whose append failed).
  let readFromStore = 0;
  const behind = [...reserved].filter(([key, seq]) => !finished.has(key) && (open.get(key)?.state.seq ?? 0) < seq);
  for (let i = 0; i < behind.length; i += STORE_READS_IN_FLIGHT) {
    const states = await Promise.all(
      behind.slice(i, i + STORE_READS_IN_FLIGHT).map(async ([key]) => {
        const ref = parseAggregateKey(key);
        const folding = open.get(key);
        open.delete(key);
        const from = folding?.state ?? initialState(ref);
        const rest = await eventStore.readAggregate(ref, from.seq);
        if (!folding && rest.length > 0) aggregates++;
        commits += rest.length;
        readFromStore++;
        return applyCommits(from, rest);
      }),
    );
    for (const state of states) await writer.add(state);
  }

  // Left open: aggregates the ledger does not know (their copies are all there is to go by).
  let notInLedger = 0;
  for (const [key, folding] of open) {
    if (!reserved.has(key)) notInLedger++;
    await writer.add(folding.state);
  }
  await writer.done();
  return { commits, aggregates, source: 'copies', readFromStore, notInLedger };
}
