import type { BeginResult, IdempotencyStore } from '../../ports/idempotencyStore.js';
import { type Journal, openJournal } from '../sequenceStore/journal.js';

export interface LocalIdempotencyStoreOptions {
  /** The journal file (created with its directory when missing). */
  file: string;
  /** Compact the journal once it is this big. @default 64 MiB */
  compactAfterBytes?: number;
}

export interface LocalIdempotencyStore extends IdempotencyStore {
  /** Rewrites the journal from the current state. */
  compact(): Promise<void>;
  /** Waits for queued writes and closes the file. */
  close(): Promise<void>;
}

interface KeyRow {
  scope: string;
  key: string;
  hash: string;
  state: 'started' | 'completed';
  /** Epoch ms; meaningful while started. */
  leaseUntil: number;
  /** The stored answer as JSON text (completed only). */
  response: string | null;
  updatedAt: number;
}

type KeyRecord = { put: KeyRow } | { del: { scope: string; key: string } };

const idOf = (scope: string, key: string): string => `${scope}\u0000${key}`;

/**
 * The embedded idempotency store: keys in memory, every change in a durable journal (the same
 * journal as the embedded ledger). Decisions are synchronous, so `begin` is atomic in-process.
 */
export async function createLocalIdempotencyStore(
  options: LocalIdempotencyStoreOptions,
): Promise<LocalIdempotencyStore> {
  const rows = new Map<string, KeyRow>();

  const apply = (record: KeyRecord): void => {
    if ('put' in record) rows.set(idOf(record.put.scope, record.put.key), record.put);
    else rows.delete(idOf(record.del.scope, record.del.key));
  };

  const journal: Journal<KeyRecord> = await openJournal<KeyRecord>({
    file: options.file,
    kind: 'cairn-idempotency',
    dependency: 'idempotency-store',
    compactAfterBytes: options.compactAfterBytes,
    apply: (record) => apply(parseRecord(record)),
    snapshot: function* () {
      for (const row of rows.values()) yield { put: row };
    },
  });

  const commit = async (records: KeyRecord[]): Promise<void> => {
    journal.assertWritable();
    for (const record of records) apply(record);
    return journal.write(records);
  };

  const decide = (scope: string, key: string, hash: string, leaseMs: number, now: number): BeginResult => {
    const row = rows.get(idOf(scope, key));
    if (row && row.hash !== hash) return { state: 'mismatch' };
    if (row?.state === 'completed') return { state: 'completed', response: JSON.parse(row.response ?? 'null') };
    if (row && row.leaseUntil > now) return { state: 'in_progress' };
    apply({ put: { scope, key, hash, state: 'started', leaseUntil: now + leaseMs, response: null, updatedAt: now } });
    return { state: 'started' };
  };

  return {
    async begin(scope, key, requestHash, leaseMs) {
      journal.assertWritable();
      const result = decide(scope, key, requestHash, leaseMs, Date.now());
      if (result.state === 'started') await journal.write([{ put: rows.get(idOf(scope, key))! }]);
      else await journal.barrier();
      return result;
    },

    async complete(scope, key, response) {
      const row = rows.get(idOf(scope, key));
      if (row?.state !== 'started') return journal.barrier();
      const json = JSON.stringify(response ?? null);
      await commit([{ put: { ...row, state: 'completed', leaseUntil: 0, response: json, updatedAt: Date.now() } }]);
    },

    async release(scope, key) {
      const row = rows.get(idOf(scope, key));
      if (row?.state !== 'started') return journal.barrier();
      await commit([{ del: { scope, key } }]);
    },

    async purge(olderThanMs) {
      const cutoff = Date.now() - olderThanMs;
      const expired: KeyRecord[] = [];
      for (const row of rows.values()) {
        if (row.updatedAt < cutoff) expired.push({ del: { scope: row.scope, key: row.key } });
      }
      if (expired.length === 0) {
        await journal.barrier();
        return 0;
      }
      await commit(expired);
      return expired.length;
    },

    compact: () => journal.compact(),
    close: () => journal.close(),
  };
}

function parseRecord(record: unknown): KeyRecord {
  const r = record as { put?: Partial<KeyRow>; del?: { scope?: unknown; key?: unknown } } | null;
  if (r?.put && typeof r.put.scope === 'string' && typeof r.put.key === 'string' && typeof r.put.hash === 'string') {
    const p = r.put;
    if (
      (p.state === 'started' || p.state === 'completed') &&
      typeof p.leaseUntil === 'number' &&
      typeof p.updatedAt === 'number' &&
      (p.response === null || typeof p.response === 'string')
    ) {
      return { put: p as KeyRow };
    }
  }
  if (r?.del && typeof r.del.scope === 'string' && typeof r.del.key === 'string') {
    return { del: { scope: r.del.scope, key: r.del.key } };
  }
  throw new Error(`malformed idempotency record: ${JSON.stringify(record)}`);
}
