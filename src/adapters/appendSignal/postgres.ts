import type pg from 'pg';
import { parseCommit, serializeCommit } from '../../core/envelope.js';
import type { AppendSignal } from '../../ports/appendSignal.js';
import { UNPUBLISHED_PREFIX, type WrittenEntry } from '../../ports/eventStore.js';
import { batchWhileBusy } from '../postgres/batchWhileBusy.js';
import { runQuery } from '../postgres/sql.js';

/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7_999;
/** Payloads in one NOTIFY statement at most (~8 MB of text at most). */
const MAX_PAYLOADS_PER_STATEMENT = 1_000;

/**
 * PostgreSQL LISTEN/NOTIFY. A signal with an entry is sent at once, carrying the entry's commits
 * when they fit in a payload (otherwise it is a plain signal), in the order notified. Plain signals
 * are coalesced: at most one NOTIFY per `coalesceMs` per process. Either way `notify` does not wait
 * for PostgreSQL, so it never adds to a mutation's latency.
 */
export function createPostgresAppendSignal(options: {
  pool: pg.Pool;
  channel?: string;
  coalesceMs?: number;
}): AppendSignal {
  const channel = options.channel ?? 'cairn_appended';
  const coalesceMs = options.coalesceMs ?? 2;
  let scheduled = false;
  // One NOTIFY statement at a time, carrying all that queued meanwhile: a pool would otherwise send
  // them on several connections, and a listener could get one writer's entries out of order.
  const notifyBatch = batchWhileBusy<string, void>(
    async (payloads) => {
      await runQuery(options.pool, 'SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', [
        channel,
        payloads,
      ]);
      return payloads.map(() => undefined);
    },
    { maxBatch: MAX_PAYLOADS_PER_STATEMENT },
  );
  const send = (payload: string) => {
    notifyBatch(payload).catch(() => undefined);
  };
  return {
    notify(entry) {
      const payload = entry ? encodeEntry(entry) : '';
      if (payload !== '') {
        send(payload);
        return;
      }
      if (scheduled) return;
      scheduled = true;
      setTimeout(() => {
        scheduled = false;
        send('');
      }, coalesceMs);
    },
    async listen(listener) {
      let client: pg.PoolClient | null = null;
      let stopped = false;
      const onNotification = (msg: pg.Notification) => {
        if (msg.channel === channel) listener(decodeEntry(msg.payload));
      };
      // A listening connection that dies is re-opened; until then the relay falls back to polling.
      const connect = async (): Promise<void> => {
        if (stopped) return;
        try {
          client = await options.pool.connect();
          client.on('notification', onNotification);
          client.on('error', () => {
            client?.release(true);
            client = null;
            setTimeout(() => void connect(), 1_000);
          });
          await client.query(`LISTEN ${channel}`);
        } catch {
          client?.release(true);
          client = null;
          setTimeout(() => void connect(), 1_000);
        }
      };
      await connect();
      return async () => {
        stopped = true;
        if (client) {
          await client.query(`UNLISTEN ${channel}`).catch(() => undefined);
          client.release();
          client = null;
        }
      };
    },
  };
}

/** The entry as a payload (each commit in its stored form), or '' when it does not fit. */
function encodeEntry(entry: WrittenEntry): string {
  const payload = JSON.stringify({ entry: entry.entry, commits: entry.commits.map(serializeCommit) });
  return Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES ? payload : '';
}

/**
 * The entry a payload carries; undefined for a plain signal, or for anything else on the channel
 * (a listener then lists the outbox, which is always correct).
 */
function decodeEntry(payload: string | undefined): WrittenEntry | undefined {
  if (!payload) return undefined;
  try {
    const body = JSON.parse(payload) as { entry?: unknown; commits?: unknown };
    const { entry, commits } = body;
    if (typeof entry !== 'string' || !entry.startsWith(UNPUBLISHED_PREFIX)) return undefined;
    if (!Array.isArray(commits) || commits.length === 0 || !commits.every((c) => typeof c === 'string'))
      return undefined;
    return { entry, commits: commits.map((c: string) => parseCommit(c)) };
  } catch {
    return undefined;
  }
}
