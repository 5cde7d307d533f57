/**
 * The write path's ledger on its own: `--clients` concurrent writers, each appending to its own
 * aggregates as the gateway does (reserve, then confirm once the append is stored), for `--seconds`.
 * Prints reservations/s, reserve latency, PostgreSQL transactions per write and the PostgreSQL
 * processes' CPU per write (from /proc, so run it on the machine that runs PostgreSQL:
 * `npm run infra:up` first). No conflicts: this measures the statements, not the contention.
 *
 *   npx tsx bench/ledger-probe.ts [--clients 32] [--seconds 10] [--pool 10] [--unprepared]
 *
 * `--unprepared` sends the statements unprepared (DATABASE_PREPARED_STATEMENTS=false), to compare.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { migrate } from '../src/adapters/postgres/migrate.js';
import { createPostgresPool } from '../src/adapters/postgres/pool.js';
import { quoteIdent } from '../src/adapters/postgres/sql.js';
import { createPostgresSequenceStore } from '../src/adapters/sequenceStore/postgres.js';
import { engineEnv } from './cluster.js';
import { engineCpuMs } from './procstat.js';
import { percentile } from './stats.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '10' },
    pool: { type: 'string', default: '10' },
    unprepared: { type: 'boolean', default: false },
  },
});
const clients = Number(values.clients);
const seconds = Number(values.seconds);
if (!(clients > 0) || !(seconds > 0) || !(Number(values.pool) > 0)) throw new Error('options must be positive');

const pool = createPostgresPool({
  connectionString: engineEnv().DATABASE_URL,
  max: Number(values.pool),
  prepared: !values.unprepared,
});
const stats = new pg.Client({ connectionString: engineEnv().DATABASE_URL });
const transactions = async (): Promise<number> => {
  await stats.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await stats.query<{ n: string }>(
    'SELECT sum(xact_commit + xact_rollback)::bigint AS n FROM pg_stat_database',
  );
  return Number(rows[0]?.n ?? 0);
};
const schema = `ledger_probe_${Date.now().toString(36)}`;
try {
  await stats.connect();
  await migrate(pool, { schema });
  const ledger = createPostgresSequenceStore({ pool, schema });
  const latencies: number[] = [];
  let writes = 0;
  const tx0 = await transactions();
  const cpu0 = engineCpuMs('postgres');
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      // Each writer moves through its own aggregates: a create, then two updates of each.
      for (let i = 0; performance.now() < end; i++) {
        const key = `INSTANCE/probe/c${c}-${Math.floor(i / 3)}`;
        const expectedSeq = i % 3;
        const started = performance.now();
        const r = await ledger.reserve({
          key,
          expectedSeq,
          nextSeq: expectedSeq + 1,
          liveAfter: true,
          parent: 'DATABASE/probe',
          requireLive: [],
          forbidLiveChildren: false,
        });
        latencies.push(performance.now() - started);
        if (!r.ok) throw new Error(`reserve refused: ${JSON.stringify(r)}`);
        void ledger.confirm(key, expectedSeq + 1);
        writes++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1_500)); // confirms finish; statistics reach pg_stat_database
  const cpuMs = engineCpuMs('postgres') - cpu0;
  const tx = (await transactions()) - tx0;
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    `${clients} clients: ${Math.round(writes / elapsed)} writes/s, reserve p50 ${percentile(latencies, 50).toFixed(2)} ms, ` +
      `p99 ${percentile(latencies, 99).toFixed(2)} ms; PostgreSQL ${(tx / writes).toFixed(2)} transactions and ` +
      `${((cpuMs * 1000) / writes).toFixed(0)} µs CPU per write (${Math.round(cpuMs / elapsed / 10)} % of a core)\n`,
  );
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool.end();
  await stats.end();
}
