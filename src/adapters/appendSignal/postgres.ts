import type pg from 'pg';
import { type Commit, parseCommit, serializeCommit } from '../../core/envelope.js';
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
 * (in one payload, or one per commit when they do not fit in one; a commit too large for a payload
 * is left to a plain signal), in the order notified. Plain signals are coalesced: at most one
 * NOTIFY per `coalesceMs` per process. Either way `notify` does not wait for PostgreSQL, so it
 * never adds to a mutation's latency.
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
  const signalListing = () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      send('');
    }, coalesceMs);
  };
  return {
    notify(entry) {
      if (!entry) {
        signalListing();
        return;
      }
      const { payloads, complete } = payloadsOf(entry);
      for (const payload of payloads) send(payload);
      // A commit too large for a payload: the relay finds it by listing the outbox.
      if (!complete) signalListing();
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

const encode = (entry: string, commits: Commit[], size: number | undefined): string =>
  JSON.stringify({ entry, commits: commits.map(serializeCommit), ...(size === undefined ? {} : { size }) });
const fits = (payload: string): boolean => Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES;

/**
 * The entry as payloads (each commit in its stored form): one when it fits, else one per commit
 * (the size on the last), leaving out a commit too large for a payload (`complete` false). A size
 * sent without all the commits is still right: the relay removes the entry only once it published
 * as many commits as the size says.
 */
function payloadsOf({ entry, commits, size }: WrittenEntry): { payloads: string[]; complete: boolean } {
  const whole = encode(entry, commits, size);
  if (fits(whole)) return { payloads: [whole], complete: true };
  const payloads = commits.map((c, i) => encode(entry, [c], i === commits.length - 1 ? size : undefined));
  const fitting = payloads.filter(fits);
  const complete = fitting.length === payloads.length;
  // The size rode on the last commit: when that one was left out, it travels alone.
  if (!complete && size !== undefined && !fits(payloads[payloads.length - 1]!)) fitting.push(encode(entry, [], size));
  return { payloads: fitting, complete };
}

/**
 * The entry a payload carries; undefined for a plain signal, or for anything else on the channel
 * (a listener then lists the outbox, which is always correct).
 */
function decodeEntry(payload: string | undefined): WrittenEntry | undefined {
  if (!payload) return undefined;
  try {
    const body = JSON.parse(payload) as { entry?: unknown; commits?: unknown; size?: unknown };
    const { entry, commits, size } = body;
    if (typeof entry !== 'string' || !entry.startsWith(UNPUBLISHED_PREFIX)) return undefined;
    if (!Array.isArray(commits) || !commits.every((c) => typeof c === 'string')) return undefined;
    const sized = typeof size === 'number' && Number.isSafeInteger(size) && size > 0;
    // Nothing to publish and nothing to close: not Cairn's.
    if (commits.length === 0 && !sized) return undefined;
    const parsed = commits.map((c: string) => parseCommit(c));
    return sized ? { entry, commits: parsed, size } : { entry, commits: parsed };
  } catch {
    return undefined;
  }
}
