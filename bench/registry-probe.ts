/**
 * The projector's registry on its own: claim + markDone of `--batch` events at a time, `--workers`
 * batches in flight, on fresh tables that grow to `--events` rows without an ANALYZE (as after a
 * burst). Prints events/s and the PostgreSQL processes' CPU per event (from /proc, so run it on the
 * machine that runs PostgreSQL: `npm run infra:up` first).
 *
 *   npx tsx bench/registry-probe.ts [--batch 250] [--workers 4] [--events 48000] [--unprepared]
 *
 * `--unprepared` sends the statements unprepared (DATABASE_PREPARED_STATEMENTS=false), to compare.
 */
import { parseArgs } from 'node:util';
import { migrate } from '../src/adapters/postgres/migrate.js';
import { createPostgresPool } from '../src/adapters/postgres/pool.js';
import { quoteIdent } from '../src/adapters/postgres/sql.js';
import { createPostgresRegistry } from '../src/adapters/registry/postgres.js';
import { engineEnv } from './cluster.js';
import { engineCpuMs } from './procstat.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '250' },
    workers: { type: 'string', default: '4' },
    events: { type: 'string', default: '48000' },
    unprepared: { type: 'boolean', default: false },
  },
});
const batch = Number(values.batch);
const workers = Number(values.workers);
const total = Number(values.events);
/** Aggregates the events are spread over (the bench's backlog has about 27,000 for 48,000 commits). */
const aggregates = Math.max(1, Math.round(total * 0.56));

const pool = createPostgresPool({
  connectionString: engineEnv().DATABASE_URL,
  max: workers + 2,
  prepared: !values.unprepared,
});
const schema = `registry_probe_${Date.now().toString(36)}`;
try {
  await migrate(pool, { schema });
  const registry = createPostgresRegistry({ pool, schema });
  let next = 0;
  const cpu0 = engineCpuMs('postgres');
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < total) {
        const first = next;
        next += batch;
        const events = Array.from({ length: Math.min(batch, total - first) }, (_, i) => ({
          eventId: `event-${first + i}`,
          aggregateKey: `INSTANCE/probe/${(first + i) % aggregates}`,
          seq: Math.floor((first + i) / aggregates) + 1,
        }));
        const outcomes = await registry.claim('projector', 'probe', 30_000, events);
        await registry.markDone(
          'projector',
          outcomes.map((o, i) => ({ ...events[i]!, fence: o.outcome === 'claimed' ? o.fence : 0 })),
        );
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = engineCpuMs('postgres') - cpu0;
  process.stdout.write(
    `batch ${batch}, ${workers} workers, ${total} events: ${Math.round(total / seconds)} events/s, ` +
      `PostgreSQL CPU ${((cpuMs * 1000) / total).toFixed(1)} µs/event (${Math.round(cpuMs / seconds / 10)} % of a core)\n`,
  );
  // Backends report their table counters when idle for a second.
  await new Promise((r) => setTimeout(r, 1_500));
  const { rows } = await pool.query<{ relname: string; upd: string; hot: string }>(
    `SELECT relname, n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE schemaname = $1 ORDER BY relname`,
    [schema],
  );
  for (const r of rows) process.stdout.write(`  ${r.relname}: ${r.upd} updates, ${r.hot} HOT\n`);
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool.end();
}
