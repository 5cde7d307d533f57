import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { createPostgresAppendSignal } from '../../src/adapters/appendSignal/postgres.js';
import { describeAppendSignalContract } from '../contract/appendSignal.contract.js';
import { randomId } from '../support/ids.js';

let pool: pg.Pool;

beforeAll(() => {
  pool = new pg.Pool({ connectionString: inject('engines').DATABASE_URL, max: 4 });
  pool.on('error', () => undefined);
});
afterAll(async () => {
  await pool.end();
});

describeAppendSignalContract('postgres', async () => {
  // A channel per test, and a sender with its own pool as in another process.
  const channel = randomId('cairn_sig_');
  const senderPool = new pg.Pool({ connectionString: inject('engines').DATABASE_URL, max: 2 });
  return {
    sender: createPostgresAppendSignal({ pool: senderPool, channel }),
    receiver: createPostgresAppendSignal({ pool, channel }),
    sendRaw: async (payload) => {
      await senderPool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    cleanup: () => senderPool.end(),
  };
});
