/**
 * One phase of the bench again, on the data of a run kept with `npm run bench -- --keep` (its log
 * prints `kept: {"S3_PREFIX":"<ns>/",...}`; pass that `<ns>`), so two commits can be compared on the
 * same data, alternately, without writing a backlog each time. Needs `npm run infra:up`.
 *
 *   npx tsx bench/kept-probe.ts query <ns> [--seconds 8] [--index-prefix p] [--cpu-prof dir]
 *     a gateway on the namespace; `instance(id)` and then the bench's page of 100 (INSTANCE_PAGE),
 *     32 clients each: rate, latency, gateway and Elasticsearch CPU per query; first the same two
 *     reads sent to Elasticsearch directly (the bench's engine bounds)
 *   npx tsx bench/kept-probe.ts projector <ns> [--index-prefix p] [--cpu-prof dir]
 *     a projector with a fresh registry, group and indexes catching up on the namespace's events
 *     topic: events/s and CPU; its registry and indexes are removed afterwards
 *   npx tsx bench/kept-probe.ts relay <ns> [--commits 20000] [--group 8] [--cpu-prof dir]
 *     stages an outbox backlog in a scratch prefix (the namespace's commits, read from its segments,
 *     in group entries of `--group` commits), then a relay catching up on it into a scratch topic:
 *     events/s and CPU per 1,000 events; the scratch prefix and topic are removed
 *   npx tsx bench/kept-probe.ts rebuild <ns> [--with-roles] [--index-prefix p] [--cpu-prof dir]
 *     `npm run cli -- rebuild` timed as the bench times it, into scratch indexes, on a quiet machine
 *     (`--with-roles`: a gateway, relay and projector running on the namespace, as in the bench)
 *   npx tsx bench/kept-probe.ts fanout <ns> [--subscribers 10000] [--rounds 5] [--cpu-prof dir]
 *     gateway, relay and projector on the namespace; the bench's fan-out (subscribers of one
 *     instance of its database `benchfan`, one update per round): time to the first and the last
 *     subscriber, every process's CPU over the rounds, and per round the mean time from the event's
 *     recording to its publication, projection and arrival at the gateway; `--cpu-prof` profiles the gateway
 *
 * `--env NAME=value` (repeatable) sets a variable of the processes started (to compare settings).
 *
 * `--index-prefix` reads (query) or keeps (projector) read-model indexes under another prefix: a
 * projector run with `--index-prefix <ns>x` leaves indexes written by the code under test, which a
 * query run with the same prefix then reads.
 */
import { parseArgs } from 'node:util';
import type { Commit } from '../src/core/envelope.js';
import { dropNamespace, type EngineEndpoints, namespaceOf } from '../test/support/namespace.js';
import { elasticsearchQueryBaselines } from './baselines.js';
import { CairnProcess, engineEnv, pollUntil, runCli, settingsOf } from './cluster.js';
import { GqlClient, metricValue } from './http.js';
import { CpuMeter, cpuParams, waitForQuietMachine } from './procstat.js';
import { percentile } from './stats.js';
import { CLASS_ID, INSTANCE_BY_ID, INSTANCE_PAGE, rng, runLoop } from './workload.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '8' },
    'index-prefix': { type: 'string' },
    subscribers: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
    commits: { type: 'string', default: '20000' },
    group: { type: 'string', default: '8' },
    'cpu-prof': { type: 'string' },
    'with-roles': { type: 'boolean', default: false },
    env: { type: 'string', multiple: true },
  },
});
const [mode, ns] = positionals;
const MODES = ['query', 'projector', 'relay', 'fanout', 'rebuild'] as const;
if (!MODES.includes(mode as (typeof MODES)[number]) || !ns) {
  process.stderr.write(`usage: npx tsx bench/kept-probe.ts ${MODES.join('|')} <kept namespace> [options]\n`);
  process.exit(2);
}
const DB = 'bench'; // the bench's database (bench/run/context.ts)

const keptEnv = (): Record<string, string> => ({
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'warn',
  ...engineEnv(),
  CAIRN_PROFILE: 'production',
  S3_PREFIX: `${ns}/`,
  KAFKA_EVENTS_TOPIC: `${ns}.events`,
  DATABASE_SCHEMA: ns,
  ELASTICSEARCH_INDEX_PREFIX: values['index-prefix'] ?? ns,
  ...settingsOf(values.env),
});

const describeCpu = (use: Record<string, number>, perSecond: number): string =>
  Object.entries(use)
    .map(([k, pct]) => `${k.replace('cpu%.', '')} ${pct} % ${((pct * 10) / perSecond).toFixed(2)} ms`)
    .join(', ');

async function queries(): Promise<void> {
  const gateway = new CairnProcess(
    'gateway',
    { ...keptEnv(), CAIRN_ROLES: 'gateway', KAFKA_CHANGES_TOPIC: `${ns}.changes` },
    cpuProf(),
  );
  await gateway.start();
  const cpu = new CpuMeter(() => new Map([['gateway', gateway.pid]]));
  const gql = new GqlClient(gateway.graphql, 64);
  try {
    const all = await gql.must<{ instances: { edges: { node: { id: string } }[] } }>(
      INSTANCE_PAGE.replace('first: 100', 'first: 1000'),
      { database: DB, classId: CLASS_ID, min: 0 },
    );
    const ids = all.instances.edges.map((e) => e.node.id);
    if (ids.length === 0) throw new Error(`no instances in database ${DB} of ${ns}`);
    const random = rng(1);
    const seconds = Number(values.seconds);
    const engine = await elasticsearchQueryBaselines(keptEnv(), keptEnv().ELASTICSEARCH_INDEX_PREFIX!, {
      quick: false,
      clients: 32,
      warmupMs: 1_000,
      durationMs: (seconds * 1_000) / 2,
      database: DB,
      classId: CLASS_ID,
      ids,
      maxMin: 9_000,
      random,
    });
    for (const f of engine)
      process.stdout.write(
        `${f.name}: ${f.parameters.ratePerSecond}/s, p50 ${f.p50?.toFixed(1)} ms, p99 ${f.p99?.toFixed(1)} ms\n`,
      );
    const byId = async () => {
      const id = ids[Math.floor(random() * ids.length)]!;
      const r = await gql.post<{ instance: { id: string } | null }>(INSTANCE_BY_ID, { database: DB, id });
      return { ms: r.ms, ok: r.data?.instance?.id === id };
    };
    const page = async () => {
      const r = await gql.post<{ instances: { edges: unknown[] } }>(INSTANCE_PAGE, {
        database: DB,
        classId: CLASS_ID,
        min: Math.floor(random() * 9_000),
      });
      return { ms: r.ms, ok: (r.data?.instances?.edges.length ?? 0) > 0 };
    };
    for (const [name, op] of [
      ['instance(id)', byId],
      ['page of 100', page],
    ] as const) {
      const before = cpu.snapshot();
      const r = await runLoop(32, 1_000, seconds * 1_000, op);
      const rate = r.completed / r.seconds;
      const lat = [...r.latencies].sort((a, b) => a - b);
      process.stdout.write(
        `${name}, 32 clients: ${rate.toFixed(1)}/s, p50 ${percentile(lat, 50).toFixed(1)} ms, p99 ${percentile(lat, 99).toFixed(1)} ms, ` +
          `${r.errors} errors; CPU per query: ${describeCpu(cpuParams(CpuMeter.between(before, cpu.snapshot())), rate)}\n`,
      );
    }
  } finally {
    await gateway.stop();
  }
}

/** Node options profiling the process under test (`--cpu-prof dir`). */
const cpuProf = (): string[] => (values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : []);

async function projector(): Promise<void> {
  const fresh = `probe_${Date.now().toString(36)}`;
  const scratch = {
    KAFKA_CHANGES_TOPIC: `${fresh}.changes`,
    DATABASE_SCHEMA: fresh,
    KAFKA_PROJECTOR_GROUP: `${fresh}-projector`,
    ELASTICSEARCH_INDEX_PREFIX: values['index-prefix'] ?? fresh,
  };
  const proc = new CairnProcess('projector', { ...keptEnv(), ...scratch, CAIRN_ROLES: 'projector' }, cpuProf());
  const cpu = new CpuMeter(() => new Map([['projector', proc.pid]]));
  // The backlog: every domain event of the namespace, i.e. one per commit in its ledger.
  const ledger = new (await import('pg')).default.Client({ connectionString: engineEnv().DATABASE_URL });
  await ledger.connect();
  const { rows } = await ledger.query<{ n: string }>(`SELECT sum(seq)::bigint AS n FROM "${ns}".ledger`);
  await ledger.end();
  const expected = Number(rows[0]?.n ?? 0);
  try {
    await proc.start();
    const before = cpu.snapshot();
    const t0 = performance.now();
    let applied = 0;
    let firstAt = Number.NaN;
    const done = await pollUntil(
      async () => {
        applied = await proc.metric('cairn_projector_applied_events_total');
        if (applied > 0 && Number.isNaN(firstAt)) firstAt = performance.now();
        return applied >= expected;
      },
      300_000,
      50,
    );
    const seconds = (performance.now() - t0) / 1000;
    const rate = applied / seconds;
    process.stdout.write(
      `projector: ${applied} of ${expected} events in ${seconds.toFixed(2)} s = ${rate.toFixed(0)} events/s${done ? '' : ' (timed out)'}` +
        ` (first applied after ${Math.round(firstAt - t0)} ms); ` +
        `CPU per 1,000 events: ${describeCpu(cpuParams(CpuMeter.between(before, cpu.snapshot())), rate / 1000)}\n`,
    );
  } finally {
    await proc.stop();
    // What this run made (registry, group, topic, its own indexes); `--index-prefix` indexes stay.
    await dropNamespace(engineEnv() as unknown as EngineEndpoints, namespaceOf(fresh));
  }
}

/** An S3 event store of the engines of `.infra/env` under `prefix`, as the production profile builds it. */
async function storeAt(prefix: string) {
  const { createS3EventStore } = await import('../src/adapters/eventStore/s3.js');
  const { httpS3Api } = await import('../src/adapters/eventStore/s3Api.js');
  const e = engineEnv();
  const bucket = e.S3_BUCKET ?? 'cairn-events';
  const s3 = httpS3Api({
    endpoint: e.S3_ENDPOINT!,
    region: e.S3_REGION ?? 'us-east-1',
    accessKeyId: e.S3_ACCESS_KEY_ID!,
    secretAccessKey: e.S3_SECRET_ACCESS_KEY!,
    forcePathStyle: true,
    bucket,
    timeoutMs: 10_000,
  });
  return { store: createS3EventStore({ s3, bucket, prefix, concurrency: 64 }), s3 };
}

/**
 * The namespace's first `--commits` commits (read from its segments) written under a scratch prefix
 * as outbox group entries of `--group` commits each, in order: the same entries every run, so two
 * commits of Cairn are compared on the same work. Only the entries: a relay reads the commits they
 * carry, never the commit keys.
 */
async function stageOutbox(prefix: string): Promise<{ commits: number; envelopes: number; entries: number }> {
  const { createGroupEntryWriter } = await import('../src/adapters/eventStore/commitCopies.js');
  const { serializeCommit } = await import('../src/core/envelope.js');
  const source = await storeAt(`${ns}/`);
  const target = await storeAt(prefix);
  const group = Number(values.group);
  let entries = 0;
  const writer = createGroupEntryWriter(
    async (key, body) => {
      entries++;
      await target.s3.put(`${prefix}${key}`, body, { contentType: 'application/x-ndjson' });
    },
    { maxGroup: group },
  );
  const commits: Commit[] = [];
  for await (const commit of source.store.scanCopies!()) {
    commits.push(commit);
    if (commits.length >= Number(values.commits)) break;
  }
  const t0 = performance.now();
  await Promise.all(commits.map((c) => writer.add(c, serializeCommit(c))));
  const envelopes = commits.reduce((n, c) => n + c.envelopes.length, 0);
  process.stdout.write(
    `staged ${commits.length} commits (${envelopes} envelopes) in ${entries} entries under ${prefix} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  return { commits: commits.length, envelopes, entries };
}

async function relay(): Promise<void> {
  const fresh = `probe_${Date.now().toString(36)}`;
  const staged = await stageOutbox(`${fresh}/`);
  const env = {
    ...keptEnv(),
    S3_PREFIX: `${fresh}/`,
    KAFKA_EVENTS_TOPIC: `${fresh}.events`,
    DATABASE_SCHEMA: fresh,
    CAIRN_ROLES: 'relay',
  };
  // MinIO removes a previous probe's dropped prefix in the background for minutes.
  const settle = await waitForQuietMachine({ maxMs: 120_000 });
  process.stdout.write(`waited ${settle.waitedSeconds} s for a quiet machine${settle.quiet ? '' : ' (still busy)'}\n`);
  const proc = new CairnProcess('relay', env, cpuProf());
  const cpu = new CpuMeter(() => new Map([['relay', proc.pid]]));
  try {
    await proc.start();
    const before = cpu.snapshot();
    const t0 = performance.now();
    let published = 0;
    const done = await pollUntil(
      async () => {
        published = await proc.metric('cairn_relay_published_envelopes_total');
        return published >= staged.envelopes;
      },
      300_000,
      50,
    );
    const seconds = (performance.now() - t0) / 1000;
    const rate = (published * (staged.commits / staged.envelopes)) / seconds;
    process.stdout.write(
      `relay: ${published} of ${staged.envelopes} envelopes in ${seconds.toFixed(2)} s = ${rate.toFixed(0)} events/s${done ? '' : ' (timed out)'}; ` +
        `CPU per 1,000 events: ${describeCpu(cpuParams(CpuMeter.between(before, cpu.snapshot())), rate / 1000)}\n`,
    );
  } finally {
    await proc.stop();
    await dropNamespace(engineEnv() as unknown as EngineEndpoints, namespaceOf(fresh));
  }
}

async function fanout(): Promise<void> {
  const { closeAll, openSubscribers } = await import('./ws.js');
  const env = { ...keptEnv(), KAFKA_CHANGES_TOPIC: `${ns}.changes`, KAFKA_PROJECTOR_GROUP: `${ns}-projector` };
  const procs = [
    new CairnProcess('gateway', { ...env, CAIRN_ROLES: 'gateway' }, cpuProf()),
    new CairnProcess('relay', { ...env, CAIRN_ROLES: 'relay' }),
    new CairnProcess('projector', { ...env, CAIRN_ROLES: 'projector' }),
  ];
  const [gateway] = procs as [CairnProcess, ...CairnProcess[]];
  for (const p of procs) await p.start();
  const cpu = new CpuMeter(() => new Map(procs.map((p) => [p.name, p.pid])));
  const gql = new GqlClient(gateway.graphql, 4);
  const db = 'benchfan';
  const target = 'x';
  const subs = await openSubscribers(
    gateway.ws,
    Number(values.subscribers),
    'subscription($db: ID!, $id: ID) { instanceChanged(database: $db, id: $id) { change id seq } }',
    { db, id: target },
  );
  try {
    await new Promise((r) => setTimeout(r, 2_000));
    const found = await gql.must<{ instance: { seq: number } | null }>(
      'query($db: ID!, $id: ID!) { instance(database: $db, id: $id) { seq } }',
      { db, id: target },
    );
    if (!found.instance) throw new Error(`no instance ${target} in database ${db} of ${ns}`);
    let seq = found.instance.seq;
    const firsts: number[] = [];
    const lasts: number[] = [];
    const stages: string[] = [];
    const before = cpu.snapshot();
    for (let round = 0; round < Number(values.rounds); round++) {
      let arrived = 0;
      let first = 0;
      let last = 0;
      for (const s of subs)
        s.onNext = (at) => {
          if (arrived++ === 0) first = at;
          last = at;
        };
      const lagsBefore = await stageLags(procs);
      const sentAt = performance.now();
      const r = await gql.must<{ updateInstance: { seq: number } }>(
        'mutation($input: UpdateInstanceInput!) { updateInstance(input: $input) { seq } }',
        { input: { database: db, id: target, expectedSeq: seq, set: { n: -round } } },
      );
      seq = r.updateInstance.seq;
      if (!(await pollUntil(async () => arrived >= subs.length, 30_000, 5)))
        throw new Error(`round ${round}: ${arrived} arrived`);
      firsts.push(first - sentAt);
      lasts.push(last - sentAt);
      stages.push(describeLags(lagsBefore, await stageLags(procs)));
      await new Promise((r) => setTimeout(r, 300));
    }
    const use = cpuParams(CpuMeter.between(before, cpu.snapshot()));
    const ms = (a: number[]) => a.map((x) => x.toFixed(0)).join(' / ');
    process.stdout.write(
      `fan-out to ${subs.length}: first ${ms(firsts)} ms, last ${ms(lasts)} ms; CPU over the rounds: ` +
        `${Object.entries(use)
          .map(([k, pct]) => `${k.replace('cpu%.', '')} ${pct} %`)
          .join(', ')}\n` +
        `  mean time from the event's recording to its publication / projection / arrival at the gateway, per round: ${stages.join('; ')}\n`,
    );
  } finally {
    closeAll(subs);
    for (const p of procs.reverse()) await p.stop();
  }
}

/**
 * `npm run cli -- rebuild` on the namespace as the bench runs it, into scratch indexes (or
 * `--index-prefix`'s), after the machine is quiet; `--with-roles` runs a gateway, relay and
 * projector on the namespace meanwhile, as in the bench (the projector on the indexes rebuilt).
 */
async function rebuild(): Promise<void> {
  const fresh = `probe_${Date.now().toString(36)}`;
  const env = { ...keptEnv(), ELASTICSEARCH_INDEX_PREFIX: values['index-prefix'] ?? fresh };
  const roles = values['with-roles']
    ? (['gateway', 'relay', 'projector'] as const).map(
        (role) => new CairnProcess(role, { ...env, CAIRN_ROLES: role, KAFKA_CHANGES_TOPIC: `${ns}.changes` }),
      )
    : [];
  const cpu = new CpuMeter(() => new Map(roles.map((p) => [p.name, p.pid])));
  try {
    for (const p of roles) await p.start();
    await waitForQuietMachine({ maxMs: 60_000 });
    const before = cpu.snapshot();
    const run = await runCli(['rebuild'], env, cpuProf());
    const use = cpuParams(CpuMeter.between(before, cpu.snapshot()));
    if (run.code !== 0) throw new Error(`cli rebuild exited ${run.code}: ${run.stderr.slice(-2000)}`);
    const out = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as { commits: number; seconds: number };
    const wall = run.wallMs / 1000;
    process.stdout.write(
      `rebuild: ${out.commits} commits in ${out.seconds} s = ${(out.commits / out.seconds).toFixed(0)} events/s ` +
        `(the CLI ran ${wall.toFixed(2)} s); CPU per 1,000 commits over the CLI's run: ${describeCpu(use, out.commits / wall / 1000)}\n`,
    );
  } finally {
    for (const p of roles.reverse()) await p.stop();
    // The scratch indexes; `--index-prefix` indexes stay.
    if (!values['index-prefix']) await dropNamespace(engineEnv() as unknown as EngineEndpoints, namespaceOf(fresh));
  }
}

/** The pipeline's lag histograms (relay, projector, gateway), as in the bench's end-to-end phase. */
const LAGS = [
  ['relay', 'cairn_relay_lag_seconds'],
  ['projector', 'cairn_projector_lag_seconds'],
  ['gateway', 'cairn_change_delivery_lag_seconds'],
] as const;

async function stageLags(procs: CairnProcess[]): Promise<{ sum: number; count: number }[]> {
  return Promise.all(
    LAGS.map(async ([role, name]) => {
      const text = await procs.find((p) => p.name === role)!.metrics();
      return { sum: metricValue(text, `${name}_sum`) ?? 0, count: metricValue(text, `${name}_count`) ?? 0 };
    }),
  );
}

const describeLags = (before: { sum: number; count: number }[], after: { sum: number; count: number }[]): string =>
  after
    .map((a, i) => {
      const n = a.count - before[i]!.count;
      return n > 0 ? (((a.sum - before[i]!.sum) / n) * 1000).toFixed(1) : '–';
    })
    .join(' / ');

const modes = { query: queries, projector, relay, fanout, rebuild };
await modes[mode as (typeof MODES)[number]]();
