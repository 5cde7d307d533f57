/**
 * Where the CPU goes per mutation: starts a production cluster (gateway, relay, projector) on a fresh
 * namespace, measures every process's CPU (Cairn's and the engines', from /proc) while idle, then
 * while the bench's create/update mix is paced at each given rate, and prints the CPU per process
 * in % of a core and in ms per mutation, and PostgreSQL transactions per mutation (the whole
 * server's, so run nothing else meanwhile). `--roles gateway` starts the gateway alone (the write
 * path without relay and projector). Run it on the machine that runs the engines
 * (`npm run infra:up` first); it leaves nothing behind.
 *
 *   npx tsx bench/cpu-probe.ts [--rates 10,30] [--seconds 10] [--roles gateway,relay,projector] [--cpu-prof dir]
 *     [--hot 200]   (instances the updates go to, Zipf-distributed: fewer means more CONFLICTs; the bench uses 5000)
 *     [--node-arg=--flag ...]   (node options of the Cairn processes, e.g. --node-arg=--max-semi-space-size=32)
 *     [--env NAME=value ...]    (settings of the Cairn processes, e.g. --env S3_OUTBOX_ENTRY_INTERVAL_MS=10)
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { dropNamespace } from '../test/support/namespace.js';
import { CairnProcess, engineEnv, namespace, settingsOf, sleep } from './cluster.js';
import { GqlClient } from './http.js';
import { CpuMeter, cpuParams } from './procstat.js';
import { percentile } from './stats.js';
import {
  AggregatePool,
  CLASS_ID,
  CLASS_PROPERTIES,
  CREATE_CLASS,
  CREATE_DATABASE,
  rng,
  runMix,
  Zipf,
} from './workload.js';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '10,30' },
    seconds: { type: 'string', default: '10' },
    roles: { type: 'string', default: 'gateway,relay,projector' },
    'cpu-prof': { type: 'string' },
    'node-arg': { type: 'string', multiple: true },
    hot: { type: 'string', default: '200' },
    env: { type: 'string', multiple: true },
  },
});
const rates = values.rates.split(',').map(Number);
const seconds = Number(values.seconds);
const hotCount = Number(values.hot);
if (rates.some((r) => !(r > 0)) || !(seconds > 0)) throw new Error('--rates must be positive numbers, --seconds > 0');
if (!Number.isInteger(hotCount) || hotCount < 1) throw new Error('--hot must be a positive integer');

const engines = engineEnv();
const ns = namespace();
const env = {
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'warn',
  ...engines,
  ...ns,
  CAIRN_PROFILE: 'production',
  ...settingsOf(values.env),
};
const profDir = values['cpu-prof'];
const roles = values.roles.split(',');
if (!roles.includes('gateway') || roles.some((r) => !['gateway', 'relay', 'projector'].includes(r)))
  throw new Error('--roles: gateway, then any of relay, projector');
const procs = roles.map(
  (role) =>
    new CairnProcess(role, { ...env, CAIRN_ROLES: role }, [
      ...(values['node-arg'] ?? []),
      ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, role)}`] : []),
    ]),
);
const cpu = new CpuMeter(() => new Map(procs.map((p) => [p.name, p.pid])));
const stats = new pg.Client({ connectionString: engines.DATABASE_URL });
/** Transactions the whole server has committed or rolled back (its statistics lag by up to a second). */
const pgTransactions = async (): Promise<number> => {
  await stats.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await stats.query<{ n: string }>(
    'SELECT sum(xact_commit + xact_rollback)::bigint AS n FROM pg_stat_database',
  );
  return Number(rows[0]?.n ?? 0);
};

try {
  await stats.connect();
  for (const p of procs) await p.start();
  const client = new GqlClient(procs[0]!.graphql, 64);
  const database = 'probe';
  await client.must(CREATE_DATABASE, { input: { name: database } });
  await client.must(CREATE_CLASS, { input: { database, id: CLASS_ID, properties: CLASS_PROPERTIES } });
  const pool = new AggregatePool(database, 'i');
  const random = rng(1);
  const mix = (o: { createRatio: number; hot: string[]; count?: number; ratePerSecond?: number; ms?: number }) =>
    runMix({
      client,
      pool,
      concurrency: 32,
      createRatio: o.createRatio,
      hot: o.hot,
      zipf: new Zipf(Math.max(1, o.hot.length), 1),
      random,
      warmupMs: 0,
      count: o.count,
      durationMs: o.ms,
      ratePerSecond: o.ratePerSecond,
    });
  await mix({ createRatio: 1, hot: [], count: hotCount });
  const hot = pool.ids.slice(0, hotCount);
  await sleep(3_000); // the seeding's relay and projector work settles

  const report = (label: string, rate: number, snapshot: ReturnType<CpuMeter['snapshot']>, latencies: number[]) => {
    const use = cpuParams(CpuMeter.between(snapshot, cpu.snapshot()));
    const parts = Object.entries(use).map(([k, v]) => {
      const perMutation = rate > 0 ? ` ${((Number(v) * 10) / rate).toFixed(1)} ms` : '';
      return `${k.replace('cpu%.', '')} ${v} %${perMutation}`;
    });
    const sorted = [...latencies].sort((a, b) => a - b);
    const ack = sorted.length
      ? ` ack p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms;`
      : '';
    process.stdout.write(`${label}:${ack} ${parts.join(', ')}\n`);
  };

  const idle = cpu.snapshot();
  await sleep(seconds * 1_000);
  report('idle', 0, idle, []);
  for (const rate of rates) {
    const before = cpu.snapshot();
    const transactionsBefore = await pgTransactions();
    const r = await mix({ createRatio: 0.3, hot, ratePerSecond: rate, ms: seconds * 1_000 });
    const achieved = r.measured / r.measuredSeconds;
    report(
      `${rate}/s (achieved ${achieved.toFixed(1)}/s, ${r.conflicts} conflicts (${(r.conflicts / r.measuredSeconds).toFixed(1)}/s), ${r.errors} errors)`,
      achieved,
      before,
      r.latencies,
    );
    await sleep(1_500); // the backends' statistics of the last second reach pg_stat_database
    const transactions = (await pgTransactions()) - transactionsBefore;
    process.stdout.write(`  postgres transactions per mutation: ${(transactions / r.measured).toFixed(2)}\n`);
  }
} finally {
  for (const p of procs) await p.stop();
  await stats.end().catch(() => undefined);
  await dropNamespace(engines, ns);
}
