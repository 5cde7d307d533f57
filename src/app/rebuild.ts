import { type AggregateType, aggregateKey, parseAggregateKey } from '../core/aggregate.js';
import { type AggregateState, initialState } from '../core/domain/index.js';
import type { Commit } from '../core/envelope.js';
import { docToState, stateToDoc } from '../core/projection.js';
import type { EventStore } from '../ports/eventStore.js';
import type { ProjectedDoc, ReadModel, ReadModelRebuild } from '../ports/readModel.js';
import type { LedgerEntry, SequenceStore } from '../ports/sequenceStore.js';
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
  /** Aggregates brought up to date after the swap: changed while the rebuild ran (needs a ledger). */
  caughtUp?: number;
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
 * Rebuilds the read model from the event store into a new generation (ReadModel.beginRebuild), which
 * replaces the current one only when complete: queries keep the old read model until then, and a
 * failed rebuild leaves it as it was. Folds every aggregate and writes its final doc in bulk.
 *
 * With a ledger and a store that keeps commit copies, the commits come from the copies (a few
 * hundred per request) and the ledger says how far each aggregate must reach: an aggregate whose
 * copies fall short of its reserved seq is read from the store by key, so nothing is missed without
 * listing every commit key (S3's LIST rate bounded the scan). Otherwise, or with `full`, every
 * commit key is listed.
 *
 * A projector may run meanwhile; it writes to the generation being replaced. So after the swap the
 * ledger is read again and every aggregate it has past the seq the rebuild wrote is folded on from
 * the store and written (external versioning keeps whichever of that and the projector's is newer).
 */
export async function rebuildReadModel(
  deps: { eventStore: EventStore; readModel: ReadModel; sequenceStore?: SequenceStore },
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const { sequenceStore } = deps;
  const target = await deps.readModel.beginRebuild();
  const written = new WrittenSeqs(options.maxAggregatesInMemory ?? 1_000_000);
  let result: RebuildResult;
  try {
    result = await fill(deps, target, written, options);
    await target.publish();
  } catch (e) {
    await target.discard().catch(() => undefined);
    throw e;
  }
  if (sequenceStore) result.caughtUp = await catchUp(deps.eventStore, deps.readModel, sequenceStore, written);
  return result;
}

async function fill(
  deps: { eventStore: EventStore; sequenceStore?: SequenceStore },
  target: ReadModelRebuild,
  written: WrittenSeqs,
  options: RebuildOptions,
): Promise<RebuildResult> {
  const { sequenceStore } = deps;
  if (!options.full && sequenceStore && deps.eventStore.scanCopies) {
    const reserved = await reservedSeqs(sequenceStore, options.maxAggregatesInMemory ?? 1_000_000);
    if (reserved) return rebuildFromCopies(deps.eventStore, reserved, docWriter(target, written, options));
  }
  return rebuildFromScan(deps.eventStore, docWriter(target, written, options), options);
}

/** The seq the rebuild wrote per aggregate, up to `max` of them (past that, the catch-up reads docs). */
class WrittenSeqs {
  private seqs: Map<string, number> | null = new Map();
  constructor(private readonly max: number) {}
  add(doc: ProjectedDoc): void {
    this.seqs?.set(aggregateKey(doc), doc.seq);
    if (this.seqs && this.seqs.size > this.max) this.seqs = null;
  }
  /** Whether the rebuild is known to have written this aggregate at `seq` or later. */
  reached(key: string, seq: number): boolean {
    return (this.seqs?.get(key) ?? -1) >= seq;
  }
}

/**
 * Writes, after the swap, what the read model lacks of the ledger: each aggregate whose ledger seq is
 * past what the rebuild wrote, and past its current doc, folded on from that doc with the store's
 * later commits. A reservation whose commit never landed reads nothing and writes nothing.
 */
async function catchUp(
  eventStore: EventStore,
  readModel: ReadModel,
  sequenceStore: SequenceStore,
  written: WrittenSeqs,
): Promise<number> {
  let caughtUp = 0;
  for (let after: string | null = null; ; ) {
    const page = await sequenceStore.entries(after, LEDGER_PAGE);
    const byType = new Map<AggregateType, LedgerEntry[]>();
    for (const entry of page) {
      if (written.reached(entry.key, entry.seq)) continue;
      const type = parseAggregateKey(entry.key).aggregateType;
      const list = byType.get(type);
      if (list) list.push(entry);
      else byType.set(type, [entry]);
    }
    for (const [aggregateType, entries] of byType) {
      const refs = entries.map((e) => parseAggregateKey(e.key));
      const docs = await readModel.getMany(
        aggregateType,
        refs.map((r) => r.aggregateId),
      );
      const behind = entries.flatMap((e, i) => ((docs[i]?.seq ?? 0) < e.seq ? [{ ref: refs[i]!, doc: docs[i] }] : []));
      for (let i = 0; i < behind.length; i += STORE_READS_IN_FLIGHT) {
        const states = await Promise.all(
          behind.slice(i, i + STORE_READS_IN_FLIGHT).map(async ({ ref, doc }) => {
            const from = doc ? docToState(doc) : initialState(ref);
            const rest = await eventStore.readAggregate(ref, from.seq);
            return rest.length > 0 ? applyCommits(from, rest) : null;
          }),
        );
        const updated = states.flatMap((state) => (state ? [stateToDoc(state)] : []));
        await readModel.apply(updated);
        caughtUp += updated.length;
      }
    }
    if (page.length < LEDGER_PAGE) return caughtUp;
    after = page[page.length - 1]!.key;
  }
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
function docWriter(target: ReadModelRebuild, written: WrittenSeqs, options: RebuildOptions) {
  /** What the rebuild has read so far, set by its reader: reported once written (onProgress). */
  const progress = { commits: 0, aggregates: 0 };
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
      const reached = { ...progress };
      batch = [];
      const applied = target.apply(docs);
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
    progress,
    async add(state: AggregateState) {
      if (state.seq === 0) return;
      const doc = stateToDoc(state);
      written.add(doc);
      batch.push(doc);
      await flush(false);
    },
    done: () => flush(true),
  };
}

type DocWriter = ReturnType<typeof docWriter>;

async function rebuildFromScan(eventStore: EventStore, writer: DocWriter, options: RebuildOptions) {
  const p = writer.progress;
  let current = null as { key: string; state: AggregateState } | null;
  for await (const commit of eventStore.scan({ pageSize: options.pageSize ?? 1000 })) {
    p.commits++;
    const key = aggregateKey(commit);
    if (current?.key !== key) {
      if (current) await writer.add(current.state);
      current = { key, state: initialState(commit) };
      p.aggregates++;
    }
    current.state = applyCommits(current.state, [commit]);
  }
  if (current) await writer.add(current.state);
  await writer.done();
  return { commits: p.commits, aggregates: p.aggregates, source: 'scan' as const };
}

const LEDGER_PAGE = 5_000;
const STORE_READS_IN_FLIGHT = 16;

/** The seq of a commit's first domain event: the commit follows an aggregate at one less. */
const firstSeqOf = (c: Commit): number => c.envelopes.find((e) => e.kind === 'domain')?.seq ?? c.seq;

async function rebuildFromCopies(
  eventStore: EventStore,
  reserved: Map<string, number>,
  writer: DocWriter,
): Promise<RebuildResult> {
  const p = writer.progress;
  /** Aggregates being folded, and copies that came before the commit they follow (by first seq). */
  const open = new Map<string, { state: AggregateState; early: Map<number, Commit> | null }>();
  /** Aggregates written out, at the seq they reached (later copies of theirs are duplicates). */
  const finished = new Map<string, number>();

  for await (const commit of eventStore.scanCopies!({ eventsOnly: true })) {
    const key = aggregateKey(commit);
    if ((finished.get(key) ?? -1) >= commit.seq) continue;
    let folding = open.get(key);
    if (!folding) {
      if (finished.has(key)) continue; // past the reserved seq, which no stored commit passes
      folding = { state: initialState(commit), early: null };
      open.set(key, folding);
      p.aggregates++;
    }
    if (commit.seq <= folding.state.seq) continue;
    if (firstSeqOf(commit) !== folding.state.seq + 1) {
      folding.early ??= new Map();
      folding.early.set(firstSeqOf(commit), commit);
      continue;
    }
    folding.state = applyCommits(folding.state, [commit]);
    p.commits++;
    for (let next = folding.early?.get(folding.state.seq + 1); next; next = folding.early?.get(folding.state.seq + 1)) {
      folding.early!.delete(folding.state.seq + 1);
      folding.state = applyCommits(folding.state, [next]);
      p.commits++;
    }
    // Complete: written now, so memory holds only the aggregates still being folded.
    if (folding.state.seq >= (reserved.get(key) ?? Number.POSITIVE_INFINITY) && !folding.early?.size) {
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
        if (!folding && rest.length > 0) p.aggregates++;
        p.commits += rest.length;
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
  return { commits: p.commits, aggregates: p.aggregates, source: 'copies', readFromStore, notInLedger };
}
