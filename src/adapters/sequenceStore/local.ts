import type { LedgerEntry, ReservationRequest, ReservationResult, SequenceStore } from '../../ports/sequenceStore.js';
import { type Journal, openJournal } from './journal.js';
import { absentEntry, checkReservation } from './validate.js';

export interface LocalSequenceStoreOptions {
  /** The journal file (created with its directory when missing). */
  file: string;
  /** Compact the journal once it is this big. @default 64 MiB */
  compactAfterBytes?: number;
}

/** The embedded ledger also exposes its lifecycle (the composition root closes it on shutdown). */
export interface LocalSequenceStore extends SequenceStore {
  /** Rewrites the journal from the current state. */
  compact(): Promise<void>;
  /** Waits for queued writes and closes the file. */
  close(): Promise<void>;
}

/**
 * The embedded ledger: the whole state in memory, every change in a durable journal. Decisions are
 * made synchronously against memory (so they are atomic within the process) and answered once the
 * journal has them on disk; reads also wait for the queued writes they may have seen.
 */
export async function createLocalSequenceStore(options: LocalSequenceStoreOptions): Promise<LocalSequenceStore> {
  const entries = new Map<string, LedgerEntry>();
  /** parent → keys of its live children, for the children guard. */
  const liveChildrenOf = new Map<string, Set<string>>();

  const put = (entry: LedgerEntry): void => {
    const previous = entries.get(entry.key);
    if (previous?.live && previous.parent !== null) liveChildrenOf.get(previous.parent)?.delete(entry.key);
    entries.set(entry.key, entry);
    if (entry.live && entry.parent !== null) {
      let children = liveChildrenOf.get(entry.parent);
      if (!children) {
        children = new Set();
        liveChildrenOf.set(entry.parent, children);
      }
      children.add(entry.key);
    }
  };

  const journal: Journal<LedgerEntry> = await openJournal<LedgerEntry>({
    file: options.file,
    kind: 'cairn-ledger',
    dependency: 'sequence-store',
    compactAfterBytes: options.compactAfterBytes,
    apply: (record) => put(parseEntry(record)),
    snapshot: () => entries.values(),
  });

  const commit = async (entry: LedgerEntry): Promise<void> => {
    journal.assertWritable();
    put(entry);
    return journal.write([entry]);
  };

  // Non-decreasing, so that reservations made one after the other never read as the reverse order.
  let lastReservedAt = 0;
  const clock = (): number => {
    lastReservedAt = Math.max(lastReservedAt, Date.now());
    return lastReservedAt;
  };

  const decide = (request: ReservationRequest): ReservationResult => {
    const current = entries.get(request.key);
    if ((current?.seq ?? 0) !== request.expectedSeq) {
      return { ok: false, reason: 'conflict', entry: { ...(current ?? absentEntry(request.key)) } };
    }
    for (const key of request.requireLive) {
      if (!entries.get(key)?.live) return { ok: false, reason: 'not_live', key };
    }
    for (const { key, seq } of request.requireVersion ?? []) {
      const entry = entries.get(key) ?? absentEntry(key);
      if (entry.seq !== seq) return { ok: false, reason: 'stale_version', key, entry: { ...entry } };
    }
    if (request.forbidLiveChildren) {
      const count = liveChildrenOf.get(request.key)?.size ?? 0;
      if (count > 0) return { ok: false, reason: 'has_live_children', count };
    }
    return { ok: true, reservedAt: clock() };
  };

  return {
    async reserve(request) {
      checkReservation(request);
      journal.assertWritable();
      const result = decide(request);
      if (!result.ok) {
        await journal.barrier();
        return result;
      }
      await commit({
        key: request.key,
        seq: request.nextSeq,
        live: request.liveAfter,
        parent: request.parent,
        confirmedSeq: entries.get(request.key)?.confirmedSeq ?? 0,
        reservedAt: result.reservedAt,
      });
      return result;
    },

    async confirm(key, seq) {
      const current = entries.get(key);
      if (current && seq > current.confirmedSeq) await commit({ ...current, confirmedSeq: seq });
      else await journal.barrier();
    },

    async rollback(key, fromSeq, to) {
      const current = entries.get(key);
      if (!current || current.seq !== fromSeq) {
        await journal.barrier();
        return false;
      }
      await commit({ ...current, seq: to.seq, live: to.live, confirmedSeq: Math.min(current.confirmedSeq, to.seq) });
      return true;
    },

    async get(key) {
      const entry = entries.get(key);
      await journal.barrier();
      return entry ? { ...entry } : null;
    },

    async liveChildren(parent, limit) {
      const keys = [...(liveChildrenOf.get(parent) ?? [])].sort();
      const children = keys.slice(0, Math.max(0, limit)).map((key) => ({ ...entries.get(key)! }));
      await journal.barrier();
      return children;
    },

    async unconfirmed(reservedBefore, limit) {
      // A scan: the embedded ledger is small, and the repair asks now and then.
      const rows: LedgerEntry[] = [];
      for (const entry of entries.values()) {
        if (entry.confirmedSeq < entry.seq && entry.reservedAt < reservedBefore) rows.push(entry);
      }
      rows.sort((a, b) => a.reservedAt - b.reservedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const listed = rows.slice(0, Math.max(0, limit)).map((entry) => ({ ...entry }));
      await journal.barrier();
      return listed;
    },

    async entries(afterKey, limit) {
      const keys = [...entries.keys()].filter((key) => afterKey === null || key > afterKey).sort();
      const page = keys.slice(0, Math.max(0, limit)).map((key) => ({ ...entries.get(key)! }));
      await journal.barrier();
      return page;
    },

    ping: () => journal.barrier(),
    compact: () => journal.compact(),
    close: () => journal.close(),
  };
}

function parseEntry(record: unknown): LedgerEntry {
  const r = record as Partial<LedgerEntry> | null;
  if (
    !r ||
    typeof r.key !== 'string' ||
    typeof r.seq !== 'number' ||
    typeof r.live !== 'boolean' ||
    (r.parent !== null && typeof r.parent !== 'string') ||
    typeof r.confirmedSeq !== 'number' ||
    typeof r.reservedAt !== 'number'
  ) {
    throw new Error(`malformed ledger record: ${JSON.stringify(record)}`);
  }
  return {
    key: r.key,
    seq: r.seq,
    live: r.live,
    parent: r.parent,
    confirmedSeq: r.confirmedSeq,
    reservedAt: r.reservedAt,
  };
}
