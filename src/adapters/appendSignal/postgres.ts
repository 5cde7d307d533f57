import type pg from 'pg';
import type { AppendSignal } from '../../ports/appendSignal.js';

/**
 * PostgreSQL LISTEN/NOTIFY. Notifications are coalesced: at most one NOTIFY per `coalesceMs` per
 * process, sent after the mutation was answered, so it never adds to a mutation's latency.
 */
export function createPostgresAppendSignal(options: {
  pool: pg.Pool;
  channel?: string;
  coalesceMs?: number;
}): AppendSignal {
  const channel = options.channel ?? 'cairn_appended';
  const coalesceMs = options.coalesceMs ?? 2;
  let scheduled = false;
  return {
    notify() {
      if (scheduled) return;
      scheduled = true;
      setTimeout(() => {
        scheduled = false;
        options.pool.query('SELECT pg_notify($1, $2)', [channel, '']).catch(() => undefined);
      }, coalesceMs);
    },
    async listen(listener) {
      let client: pg.PoolClient | null = null;
      let stopped = false;
      const onNotification = (msg: pg.Notification) => {
        if (msg.channel === channel) listener();
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
