/**
 * `npm run bench [-- --quick] [-- --profile embedded|production] [-- --cpu-prof]`
 *
 * Measures Cairn end to end — mutation acknowledgement, mutation → subscription notification, relay,
 * projector and rebuild throughput on a backlog, query latency, subscription fan-out, peak RSS — and,
 * in the same run, the raw speed of the engines underneath for the same work. Prints a table and
 * writes `bench/results/<timestamp>.json` (checked by `bench/check-output.ts`).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { dropNamespace } from '../test/support/namespace.js';
import {
  diskBaselines,
  elasticsearchBaselines,
  elasticsearchQueryBaselines,
  kafkaBaselines,
  postgresBaselines,
  s3Baselines,
  s3Client,
  sampleCommits,
  sampleLocalCommits,
} from './baselines.js';
import { checkResults } from './check-output.js';
import { CairnProcess, engineEnv, missingEngines, namespace, pollUntil, REPO_ROOT, runCli, sleep } from './cluster.js';
import { newestProfile, type ProfileSummary, summarizeProfile } from './cpuprofile.js';
import { GqlClient, metricValue } from './http.js';
import { CpuMeter, type CpuSnapshot, cpuParams, engineUptimes, waitForQuietMachine } from './procstat.js';
import { renderTable } from './report.js';
import {
  type Figure,
  latencyFigure,
  type Params,
  rateFigure,
  round,
  sampledRates,
  withBound,
  withTarget,
} from './stats.js';
import {
  AggregatePool,
  CLASS_ID,
  CLASS_PROPERTIES,
  CREATE_CLASS,
  CREATE_DATABASE,
  INSTANCE_BY_ID,
  INSTANCE_PAGE,
  loopParams,
  type MixResult,
  rng,
  runLoop,
  runMix,
  Zipf,
} from './workload.js';

type Profile = 'embedded' | 'production';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'string', default: 'production' },
    'cpu-prof': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
    backlog: { type: 'string' },
    subscribers: { type: 'string' },
    levels: { type: 'string' },
    'level-seconds': { type: 'string' },
    'backlog-seconds': { type: 'string' },
    'e2e-rate': { type: 'string' },
    'e2e-seconds': { type: 'string' },
    seed: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  allowPositionals: false,
});

if (args.help) {
  process.stdout.write(`npm run bench -- [--quick] [--profile production|embedded] [--cpu-prof] [--keep]
  [--backlog N] [--backlog-seconds S] [--subscribers N] [--levels 1,8,32,128] [--level-seconds S] [--e2e-rate N] [--e2e-seconds S] [--seed N] [--out file.json]
Check a results file: npx tsx bench/check-output.ts [file.json]   (default: the newest in bench/results)
`);
  process.exit(0);
}

const profile = args.profile as Profile;
if (profile !== 'production' && profile !== 'embedded') {
  process.stderr.write(`--profile must be production or embedded, not "${args.profile}"\n`);
  process.exit(2);
}
const quick = args.quick ?? false;
const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));

const P = {
  /**
   * Commits staged for the relay, projector and rebuild figures: the issue asks for relay and
   * projector on at least 50,000 events and the rebuild on 100,000, so one store of 100,000 serves
   * all three. Embedded: 50,000 (its gateway writes ~250/s here: 100,000 would not fit 10 minutes;
   * its relay and projector figures are bursts anyway).
   */
  backlog: num(args.backlog, quick ? 1_000 : profile === 'production' ? 100_000 : 50_000),
  /** The backlog write stops here even if `backlog` commits were not reached (the run stays bounded). */
  backlogBudgetMs: num(args['backlog-seconds'], quick ? 20 : profile === 'production' ? 360 : 180) * 1000,
  hot: quick ? 200 : 5_000,
  zipfS: 1.0,
  createRatio: 0.3,
  levels: (args.levels ?? '1,8,32,128').split(',').map(Number),
  levelWarmupMs: quick ? 400 : 2_000,
  levelMs: num(args['level-seconds'], quick ? 2 : 15) * 1000,
  e2eRate: num(args['e2e-rate'], quick ? 50 : 200),
  /** A rate given on the command line is used as is (to compare runs); otherwise capped by the measured throughput. */
  e2eRateFixed: args['e2e-rate'] !== undefined,
  e2eClients: 8,
  e2eWarmupMs: quick ? 500 : 2_000,
  e2eMs: num(args['e2e-seconds'], quick ? 2.5 : 20) * 1000,
  queryClients: 32,
  queryWarmupMs: quick ? 300 : 1_000,
  queryMs: quick ? 1_500 : 10_000,
  subscribers: num(args.subscribers, quick ? 500 : 10_000),
  fanoutRounds: quick ? 2 : 3,
  seed: num(args.seed, 20_240_601),
};

const log = (msg: string) => process.stderr.write(`[bench ${((performance.now() - T0) / 1000).toFixed(1)}s] ${msg}\n`);
const T0 = performance.now();
const startedAt = new Date();
const figures: Figure[] = [];
const errors: { phase: string; message: string }[] = [];
const profiles: (ProfileSummary & { process: string })[] = [];
const phaseSeconds: Record<string, number> = {};
const random = rng(P.seed);

/** Seconds waited for a quiet machine before each measured phase after the first, and whether it got quiet. */
const phaseSettle: Record<string, { waitedSeconds: number; quiet: boolean }> = {};

/**
 * A phase on a quiet machine: the engines finish the work the phase before left them (Elasticsearch
 * merging what the projector wrote, MinIO removing the outbox entries the relay deleted, PostgreSQL's
 * autovacuum), or a phase's figure would carry the last one's costs. At most 20 s (5 s with --quick).
 */
async function measuredPhase(name: string, fn: () => Promise<void>): Promise<void> {
  const settled = await waitForQuietMachine({ maxMs: quick ? 5_000 : 20_000, quietSeconds: quick ? 1 : 3 });
  phaseSettle[name] = settled;
  if (!settled.quiet)
    log(`warning: the machine was still busy after ${settled.waitedSeconds} s; ${name} starts anyway`);
  else if (settled.waitedSeconds > 3) log(`waited ${settled.waitedSeconds} s for the machine to be quiet`);
  await phase(name, fn);
}

async function phase(name: string, fn: () => Promise<void>): Promise<void> {
  const t = performance.now();
  log(`${name} …`);
  try {
    await fn();
  } catch (e) {
    const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
    errors.push({ phase: name, message: message.slice(0, 4000) });
    log(`${name} FAILED: ${message.slice(0, 1500)}`);
  }
  phaseSeconds[name] = round((performance.now() - t) / 1000, 1);
  log(`${name} done in ${phaseSeconds[name]}s`);
}

const fig = (id: string) => figures.find((f) => f.id === id);
const add = (...fs: Figure[]) => figures.push(...fs);

// ---------------------------------------------------------------------------------------------------
// The cluster
// ---------------------------------------------------------------------------------------------------

const engines = profile === 'production' ? engineEnv() : {};
const enginesMissing = profile === 'production' ? missingEngines(engines) : null;
if (enginesMissing) {
  console.error(`bench: ${enginesMissing}`);
  process.exit(2);
}
const ns = namespace();
const dataDir = profile === 'embedded' ? mkdtempSync(join(tmpdir(), 'cairn-bench-')) : '';
const resultsDir = join(REPO_ROOT, 'bench', 'results');
const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
const profDir = join(resultsDir, `prof-${stamp}`);

const common: Record<string, string> = { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info' };
const productionEnv: Record<string, string> = { ...common, ...engines, ...ns, CAIRN_PROFILE: 'production' };
const embeddedEnv: Record<string, string> = { ...common, CAIRN_PROFILE: 'embedded', CAIRN_DATA_DIR: dataDir };

const profArgs = (role: string): string[] =>
  args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, role)}`] : [];

const procs: CairnProcess[] =
  profile === 'production'
    ? [
        new CairnProcess('gateway', { ...productionEnv, CAIRN_ROLES: 'gateway' }, profArgs('gateway')),
        new CairnProcess('relay', { ...productionEnv, CAIRN_ROLES: 'relay' }, profArgs('relay')),
        new CairnProcess('projector', { ...productionEnv, CAIRN_ROLES: 'projector' }, profArgs('projector')),
      ]
    : [new CairnProcess('embedded', embeddedEnv, profArgs('embedded'))];
const gateway = procs[0]!;
const relay = profile === 'production' ? procs[1]! : gateway;
const projector = profile === 'production' ? procs[2]! : gateway;
const peakRss: Record<string, number> = {};

const cpu = new CpuMeter(() => new Map(procs.map((p) => [p.name, p.pid])));
const cpuSince = (a: CpuSnapshot) => cpuParams(CpuMeter.between(a, cpu.snapshot()));

let client: GqlClient | null = null;
const gql = () => {
  if (!client) throw new Error('no gateway');
  return client;
};

const DB = 'bench';
const E2E_DB = 'benche2e';
const FAN_DB = 'benchfan';
const pool = new AggregatePool(DB, 'i');
let zipf = new Zipf(P.hot, P.zipfS);
let hot: string[] = [];
/** Commits written (each: one command envelope + one domain event). */
let commits = 0;
let commitSamples: string[] = [];

async function setupDatabase(db: string): Promise<void> {
  await gql().must(CREATE_DATABASE, { input: { name: db } });
  await gql().must(CREATE_CLASS, {
    input: { database: db, id: CLASS_ID, properties: CLASS_PROPERTIES },
  });
  commits += 2;
}

function mixParams(r: MixResult, concurrency: number): Params {
  return {
    concurrency,
    createRatio: P.createRatio,
    zipfS: P.zipfS,
    hotAggregates: hot.length,
    hottestShareOfUpdates: round(zipf.hottestShare, 3),
    conflicts: r.conflicts,
    conflictRetries: r.conflictRetries,
    conflictGaveUp: r.conflictGaveUp,
    errors: r.errors,
    errorCodes: JSON.stringify(r.errorCodes),
  };
}

async function countedMix(
  count: number,
  concurrency: number,
  createRatio: number,
  budgetMs: number,
): Promise<MixResult> {
  const r = await runMix({
    client: gql(),
    pool,
    concurrency,
    createRatio,
    hot,
    zipf,
    random,
    warmupMs: 0,
    count,
    durationMs: Math.max(1, budgetMs),
  });
  commits += r.acknowledged;
  if (r.errors > 0) log(`  ${r.errors} errors: ${r.firstErrors.join(' | ')}`);
  return r;
}

// ---------------------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------------------

let backlogStartedAt = 0;

/** Seeds the hot aggregates and writes the backlog (production: through a gateway running alone). */
async function writeBacklog(): Promise<void> {
  await gateway.start();
  log(`  ${gateway.name} listening at ${gateway.base} (started in ${Math.round(gateway.startedMs)} ms)`);
  client = new GqlClient(gateway.graphql, 256);
  await setupDatabase(DB);
  const before = cpu.snapshot();
  const started = performance.now();
  backlogStartedAt = started;
  const seeded = await countedMix(P.hot, 64, 1, P.backlogBudgetMs);
  hot = pool.ids.slice(0, P.hot);
  zipf = new Zipf(Math.max(1, hot.length), P.zipfS);
  // Until the backlog holds P.backlog commits: an update that conflicted five times is given up, so
  // one pass of P.backlog mutations left the store short (47,852 of 50,000 at 2026-11-24T19:16).
  const rest = { acknowledged: 0, conflicts: 0, errors: 0 };
  let left = P.backlogBudgetMs - (performance.now() - started);
  while (seeded.acknowledged + rest.acknowledged < P.backlog && left > 0) {
    const pass = await countedMix(P.backlog - seeded.acknowledged - rest.acknowledged, 64, 0.5, left);
    rest.acknowledged += pass.acknowledged;
    rest.conflicts += pass.conflicts;
    rest.errors += pass.errors;
    if (pass.acknowledged === 0) break; // nothing goes through (errors are logged): stop here
    left = P.backlogBudgetMs - (performance.now() - started);
  }
  const secs = (performance.now() - started) / 1000;
  const acked = seeded.acknowledged + rest.acknowledged;
  add(
    rateFigure(
      'backlog.write',
      profile === 'production'
        ? 'backlog write (gateway alone, 64 clients)'
        : 'backlog write (64 clients, pipeline live)',
      'mutations/s',
      acked,
      secs,
      [],
      {
        concurrency: 64,
        backlogTarget: P.backlog,
        budgetSeconds: P.backlogBudgetMs / 1000,
        cappedByTime: acked < P.backlog && left <= 0,
        mutations: acked,
        creates: seeded.acknowledged + Math.round(rest.acknowledged * 0.5),
        conflicts: seeded.conflicts + rest.conflicts,
        errors: seeded.errors + rest.errors,
        ...cpuSince(before),
      },
    ),
  );
  log(`  ${acked} mutations in ${secs.toFixed(1)}s; ${commits} commits in the store`);
}

/** Relay, then projector, each started on a backlog of `commits` commits; progress from /metrics. */
async function measureCatchUp(
  proc: CairnProcess,
  metric: string,
  expected: number,
  id: string,
  name: string,
  perCommit: number,
): Promise<void> {
  const before = cpu.snapshot();
  const spawnAt = performance.now();
  await proc.start();
  const startAt = performance.now();
  const samples: { at: number; value: number }[] = [];
  let atListening = -1;
  let firstProgressAt = Number.NaN;
  const ok = await pollUntil(
    async () => {
      const v = await proc.metric(metric);
      if (atListening < 0) atListening = v;
      else if (v > atListening && Number.isNaN(firstProgressAt)) firstProgressAt = performance.now();
      samples.push({ at: performance.now(), value: v });
      return v >= expected * perCommit;
    },
    quick ? 60_000 : 300_000,
    50,
  );
  const endAt = samples.length ? samples[samples.length - 1]!.at : performance.now();
  const done = samples.length ? samples[samples.length - 1]!.value : 0;
  const secs = (endAt - startAt) / 1000;
  const events = Math.round(done / perCommit);
  // One-second windows from the samples.
  const perSecond: number[] = [];
  for (let i = 0, j = 0; i < samples.length; i++) {
    while (j < i && samples[i]!.at - samples[j]!.at > 1000) j++;
    if (samples[i]!.at - samples[j]!.at >= 950)
      perSecond.push(sampledRates([samples[j]!, samples[i]!])[0]! / perCommit);
  }
  add(
    rateFigure(
      id,
      name,
      'events/s',
      events,
      secs,
      perSecond,
      {
        backlogCommits: expected,
        processed: done,
        perCommit,
        caughtUp: ok,
        startMs: Math.round(startAt - spawnAt),
        progressAtListening: atListening,
        /** From "listening" to the first progress seen (group join, first fetch and batch: a restart's delay). */
        firstProgressMs: Number.isNaN(firstProgressAt) ? -1 : Math.round(firstProgressAt - startAt),
        envelopesPerSecond: round(done / (perCommit === 2 ? 1 : 0.5) / secs, 0),
        ...cpuSince(before),
      },
      {
        note: 'events = domain events (one per commit; the relay publishes 2 envelopes per commit). Timed from the "listening" line (the role starts a few ms earlier) to the last poll (50 ms).',
      },
    ),
  );
  if (!ok)
    throw new Error(`${proc.name} did not catch up: ${done} of ${expected * perCommit}\n${proc.stderr.slice(-2000)}`);
}

async function relayAndProjector(): Promise<void> {
  await measureCatchUp(
    relay,
    'cairn_relay_published_envelopes_total',
    commits,
    'relay.throughput',
    'relay throughput (backlog → Kafka)',
    2,
  );
  await measureCatchUp(
    projector,
    'cairn_projector_applied_events_total',
    commits,
    'projector.throughput',
    'projector throughput (Kafka → Elasticsearch)',
    1,
  );
}

/** Embedded: the pipeline is in-process and cannot be staged; report how fast it drained the burst. */
async function embeddedPipeline(): Promise<void> {
  const started = performance.now();
  for (const [proc, metric, id, name, perCommit] of [
    [relay, 'cairn_relay_published_envelopes_total', 'relay.throughput', 'relay (in-process, after the burst)', 2],
    [
      projector,
      'cairn_projector_applied_events_total',
      'projector.throughput',
      'projector (in-process, after the burst)',
      1,
    ],
  ] as const) {
    const ok = await pollUntil(async () => (await proc.metric(metric)) >= commits * perCommit, 120_000, 50);
    const secs = (performance.now() - started) / 1000;
    add(
      rateFigure(
        id,
        name,
        'events/s',
        commits,
        (performance.now() - backlogStartedAt) / 1000,
        [],
        {
          commits,
          caughtUp: ok,
          lagAfterBurstSeconds: round(secs, 3),
          mode: 'live',
        },
        {
          note: 'embedded: relay and projector run in the gateway process while the backlog is written, so this is the burst size over (write time + drain time), bounded by the write rate — not a backlog measurement.',
        },
      ),
    );
  }
}

async function rebuild(): Promise<void> {
  if (profile === 'production') {
    const before = cpu.snapshot();
    const run = await runCli(['rebuild'], { ...productionEnv, LOG_LEVEL: 'warn' }, profArgs('cli-rebuild'));
    peakRss['rebuild (cli)'] = run.peakRss;
    if (run.code !== 0) throw new Error(`cli rebuild exited ${run.code}: ${run.stderr.slice(-2000)}`);
    const out = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as {
      commits: number;
      aggregates: number;
      seconds: number;
      source: string;
      readFromStore?: number;
      caughtUp?: number;
    };
    add(
      rateFigure(
        'rebuild.throughput',
        'rebuild (npm run cli -- rebuild)',
        'events/s',
        out.commits,
        out.seconds,
        [],
        {
          commits: out.commits,
          envelopes: out.commits * 2,
          aggregates: out.aggregates,
          source: out.source,
          readFromStore: out.readFromStore ?? 0,
          caughtUp: out.caughtUp ?? 0,
          cliWallSeconds: round(run.wallMs / 1000, 2),
          ...cpuSince(before),
        },
        {
          note: 'events = commits (domain events) folded; time as reported by the CLI: new indexes, reading and folding, bulk writes, the swap and the catch-up.',
        },
      ),
    );
    return;
  }
  // Embedded: the read model is rebuilt from the event store at every start.
  await gateway.stop();
  peakRss['embedded (1st run)'] = gateway.peakRss;
  gateway.peakRss = 0;
  client?.close();
  await gateway.start();
  client = new GqlClient(gateway.graphql, 256);
  const line = /"read model rebuilt from the event store".*$/m.exec(gateway.stderr)?.[0] ?? '';
  const ms = Number(/"ms":(\d+)/.exec(line)?.[1]);
  const rebuilt = Number(/"commits":(\d+)/.exec(line)?.[1]);
  if (!Number.isFinite(ms) || !Number.isFinite(rebuilt))
    throw new Error(`no rebuild log line in: ${gateway.stderr.slice(-1500)}`);
  add(
    rateFigure('rebuild.throughput', 'rebuild (embedded, at start)', 'events/s', rebuilt, ms / 1000, [], {
      commits: rebuilt,
      envelopes: rebuilt * 2,
      processStartMs: Math.round(gateway.startedMs),
    }),
  );
}

async function baselines(): Promise<void> {
  const o = { quick, commits: commitSamples };
  if (profile === 'production') {
    add(...(await s3Baselines(engines, ns.S3_PREFIX!, o)));
    add(...(await postgresBaselines(engines, o)));
    add(...(await kafkaBaselines(engines, ns.KAFKA_EVENTS_TOPIC!, o)));
    add(...(await elasticsearchBaselines(engines, ns.ELASTICSEARCH_INDEX_PREFIX!, o)));
  } else {
    add(...(await diskBaselines(dataDir, o)));
  }
}

async function sampleCommitBodies(): Promise<void> {
  if (profile === 'production') {
    const s3 = s3Client(engines);
    try {
      commitSamples = await sampleCommits(s3, engines.S3_BUCKET ?? 'cairn-events', ns.S3_PREFIX!);
    } finally {
      s3.destroy();
    }
  } else {
    commitSamples = sampleLocalCommits(
      join(dataDir, 'store'),
      hot.slice(0, 20).map((id) => `events/INSTANCE/${DB}/${id}/0000000001.jsonl`),
    );
  }
}

async function mutationLevels(): Promise<void> {
  for (const c of P.levels) {
    const before = cpu.snapshot();
    const m0 = await gateway.metrics().catch(() => '');
    const r = await runMix({
      client: gql(),
      pool,
      concurrency: c,
      createRatio: P.createRatio,
      hot,
      zipf,
      random,
      warmupMs: P.levelWarmupMs,
      durationMs: P.levelMs,
    });
    commits += r.acknowledged;
    const m1 = await gateway.metrics().catch(() => '');
    const cpuUse = cpuSince(before);
    const serverMeanMs =
      (((metricValue(m1, 'cairn_mutation_duration_seconds_sum') ?? 0) -
        (metricValue(m0, 'cairn_mutation_duration_seconds_sum') ?? 0)) /
        Math.max(
          1,
          (metricValue(m1, 'cairn_mutation_duration_seconds_count') ?? 0) -
            (metricValue(m0, 'cairn_mutation_duration_seconds_count') ?? 0),
        )) *
      1000;
    const params = {
      ...mixParams(r, c),
      warmupMs: P.levelWarmupMs,
      durationMs: P.levelMs,
      serverMeanMs: round(serverMeanMs, 2),
      ...cpuUse,
    };
    add(
      latencyFigure(
        `mutation.ack.c${c}`,
        `mutation ack latency (${c} client${c === 1 ? '' : 's'})`,
        r.latencies,
        params,
        {
          note: 'successful requests only; CONFLICT answers are counted in parameters.conflicts and retried with the actual seq',
        },
      ),
      rateFigure(
        `mutation.rate.c${c}`,
        `mutation throughput (${c} client${c === 1 ? '' : 's'})`,
        'mutations/s',
        r.measured,
        r.measuredSeconds,
        r.windowRates,
        params,
      ),
    );
    if (r.errors > 0) log(`  ${c} clients: ${r.errors} errors: ${r.firstErrors.join(' | ')}`);
    log(
      `  ${c} client${c === 1 ? '' : 's'}: p50 ${fig(`mutation.ack.c${c}`)?.p50?.toFixed(2)} ms, p99 ${fig(`mutation.ack.c${c}`)?.p99?.toFixed(2)} ms, ${fig(`mutation.rate.c${c}`)?.value.toFixed(0)}/s, ${r.conflicts} conflicts`,
    );
  }
}

/** The lag histograms' sums and counts (seconds) of each pipeline stage, from its own process. */
const LAG_STAGES = [
  ['relay', () => relay, 'cairn_relay_lag_seconds'],
  ['projector', () => projector, 'cairn_projector_lag_seconds'],
  ['changeDelivery', () => gateway, 'cairn_change_delivery_lag_seconds'],
] as const;

async function stageLags(): Promise<Record<string, { sum: number; count: number }>> {
  const entries = await Promise.all(
    LAG_STAGES.map(async ([stage, proc, name]) => {
      const text = await proc().metrics();
      return [stage, { sum: metricValue(text, `${name}_sum`) ?? 0, count: metricValue(text, `${name}_count`) ?? 0 }];
    }),
  );
  return Object.fromEntries(entries);
}

/**
 * Mean time from an event's recording to each stage over the phase (warm-up included): where the
 * end-to-end latency goes. `lagMs.changeDelivery` is the whole path up to the gateway.
 */
function meanLagsSince(
  before: Record<string, { sum: number; count: number }>,
  after: Record<string, { sum: number; count: number }>,
): Record<string, number> {
  const lags: Record<string, number> = {};
  for (const [stage] of LAG_STAGES) {
    const n = after[stage]!.count - before[stage]!.count;
    if (n > 0) lags[`lagMs.${stage}.mean`] = round(((after[stage]!.sum - before[stage]!.sum) / n) * 1000, 1);
  }
  return lags;
}

/** The end-to-end phases' aggregates: 200 of their own, so they are not slowed by the hot set's conflicts. */
let e2eAggregates: Promise<{ pool: AggregatePool; hot: string[]; zipf: Zipf }> | null = null;

const endToEndAggregates = () => {
  e2eAggregates ??= (async () => {
    await setupDatabase(E2E_DB);
    const e2ePool = new AggregatePool(E2E_DB, 'e');
    await runMix({
      client: gql(),
      pool: e2ePool,
      concurrency: 16,
      createRatio: 1,
      hot: [],
      zipf,
      random,
      warmupMs: 0,
      count: 200,
    });
    const ids = e2ePool.ids.slice(0, 200);
    return { pool: e2ePool, hot: ids, zipf: new Zipf(ids.length, 0.5) };
  })();
  return e2eAggregates;
};

/** A steady load the cluster can sustain: the configured rate, at most half the best measured throughput. */
const steadyRate = (): number => {
  const best = Math.max(0, ...P.levels.map((c) => fig(`mutation.rate.c${c}`)?.value ?? 0));
  return best > 0 && !P.e2eRateFixed ? Math.max(5, Math.min(P.e2eRate, Math.round(best / 2))) : P.e2eRate;
};

/** End to end at the steady load (the figure the targets are checked on). */
const endToEnd = () => {
  const rate = steadyRate();
  return measureEndToEnd('e2e.latency', `mutation sent → instanceChanged received (${rate}/s)`, rate);
};

/** End to end at half the steady load: how much of the steady figure is queueing for the machine's cores. */
const endToEndHalfLoad = () => {
  const rate = Math.max(5, Math.round(steadyRate() / 2));
  return measureEndToEnd('e2e.latency.half', `mutation sent → instanceChanged received, half load (${rate}/s)`, rate);
};

async function measureEndToEnd(id: string, name: string, rate: number): Promise<void> {
  const { pool: e2ePool, hot: e2eHot, zipf: e2eZipf } = await endToEndAggregates();
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  let received = 0;
  let measureFrom = Number.POSITIVE_INFINITY;
  const ws = createClient({ url: gateway.ws, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
  const connected = new Promise<void>((resolve) => ws.on('connected', () => resolve()));
  const unsubscribe = ws.subscribe<{ instanceChanged: { id: string; seq: number } }>(
    {
      query: `subscription($db: ID!) { instanceChanged(database: $db) { change id seq instance { id seq } } }`,
      variables: { db: E2E_DB },
    },
    {
      next: (v) => {
        const at = performance.now();
        const c = v.data?.instanceChanged;
        if (!c) return;
        const key = `${c.id}:${c.seq}`;
        const t = sent.get(key);
        if (t === undefined) return;
        sent.delete(key);
        received++;
        if (t >= measureFrom) latencies.push(at - t);
      },
      error: (e) => log(`  e2e subscription error: ${JSON.stringify(e).slice(0, 300)}`),
      complete: () => undefined,
    },
  );
  try {
    await connected;
    await pollUntil(async () => (await gateway.metric('cairn_subscriptions_active')) >= 1, 10_000, 50);
    const before = cpu.snapshot();
    const lagsBefore = await stageLags();
    const started = performance.now();
    measureFrom = started + P.e2eWarmupMs;
    const r = await runMix({
      client: gql(),
      pool: e2ePool,
      concurrency: P.e2eClients,
      createRatio: P.createRatio,
      hot: e2eHot,
      zipf: e2eZipf,
      random,
      warmupMs: P.e2eWarmupMs,
      durationMs: P.e2eMs,
      ratePerSecond: rate,
      onSend: (id, seq, at) => sent.set(`${id}:${seq}`, at),
    });
    commits += r.acknowledged;
    const cpuUse = cpuSince(before);
    // Stragglers: every acknowledged mutation's notification, or a 10 s grace.
    await pollUntil(async () => received >= r.acknowledged, 10_000, 50);
    const lags = meanLagsSince(lagsBefore, await stageLags());
    const achieved = r.measured / Math.max(0.001, r.measuredSeconds);
    add(
      latencyFigure(id, name, latencies, {
        configuredRate: P.e2eRate,
        targetRate: rate,
        achievedRate: round(achieved, 1),
        clients: P.e2eClients,
        aggregates: e2eHot.length,
        acknowledged: r.acknowledged,
        notificationsMatched: received,
        missing: Math.max(0, r.acknowledged - received),
        conflicts: r.conflicts,
        warmupMs: P.e2eWarmupMs,
        durationMs: P.e2eMs,
        ...lags,
        ...cpuUse,
      }),
    );
  } finally {
    unsubscribe();
    await ws.dispose();
  }
}

/** The page query filters on `n >= min`, min drawn below this. */
const PAGE_MIN_BELOW = 9_000;

async function queries(): Promise<void> {
  const ids = hot.length ? hot : pool.ids;
  if (profile === 'production') {
    // The engine first, on the same read model and at the same concurrency: the bound of each query.
    add(
      ...(await elasticsearchQueryBaselines(engines, ns.ELASTICSEARCH_INDEX_PREFIX!, {
        quick,
        clients: P.queryClients,
        warmupMs: P.queryWarmupMs,
        durationMs: P.queryMs / 2,
        database: DB,
        classId: CLASS_ID,
        ids,
        maxMin: PAGE_MIN_BELOW,
        random,
      })),
    );
  }
  const byId = async () => {
    const id = ids[Math.floor(random() * ids.length)]!;
    const r = await gql().post<{ instance: { id: string } | null }>(INSTANCE_BY_ID, { database: DB, id });
    return {
      ms: r.ms,
      ok: r.errors.length === 0 && r.data?.instance?.id === id,
      error: JSON.stringify(r.errors).slice(0, 300),
    };
  };
  let rows = 0;
  let pages = 0;
  const page = async () => {
    const r = await gql().post<{ instances: { edges: unknown[] } }>(INSTANCE_PAGE, {
      database: DB,
      classId: CLASS_ID,
      min: Math.floor(random() * PAGE_MIN_BELOW),
    });
    if (r.data?.instances) {
      rows += r.data.instances.edges.length;
      pages++;
    }
    return {
      ms: r.ms,
      ok: r.errors.length === 0 && !!r.data?.instances,
      error: JSON.stringify(r.errors).slice(0, 300),
    };
  };
  for (const [id, name, op, extra] of [
    [
      'query.instance.c32',
      'query instance(id) (32 clients)',
      byId,
      { query: 'instance(database, id) { id classId seq properties updatedAt }' },
    ],
    [
      'query.page.c32',
      'query instances page of 100 (32 clients)',
      page,
      {
        query:
          'instances(classId, where n >= x, orderBy score DESC, first 100) { totalCount edges { node { id seq properties class { id } } } }',
      },
    ],
  ] as const) {
    const before = cpu.snapshot();
    const r = await runLoop(P.queryClients, P.queryWarmupMs, P.queryMs, op);
    add(
      latencyFigure(id, name, r.latencies, {
        ...loopParams(r, P.queryClients, P.queryMs),
        instancesInDatabase: pool.ids.length,
        ...(id === 'query.page.c32' ? { meanRowsPerPage: round(rows / Math.max(1, pages), 1) } : {}),
        ...extra,
        ...cpuSince(before),
      }),
    );
    if (r.errors) log(`  ${name}: ${r.errors} errors: ${r.firstErrors.join(' | ')}`);
  }
}

async function fanOut(): Promise<void> {
  const { openSubscribers, closeAll } = await import('./ws.js');
  await setupDatabase(FAN_DB);
  const target = 'x';
  const created = await gql().must<{ createInstance: { seq: number } }>(
    `mutation($input: CreateInstanceInput!) { createInstance(input: $input) { seq } }`,
    { input: { database: FAN_DB, classId: CLASS_ID, id: target, properties: { n: 0 } } },
  );
  commits++;
  let seq = created.createInstance.seq;
  const subsBefore = await gateway.metric('cairn_subscriptions_active');
  await sleep(500);
  const rssBefore = gateway.sampleMemory();
  const opened = performance.now();
  const subs = await openSubscribers(
    gateway.ws,
    P.subscribers,
    `subscription($db: ID!, $id: ID) { instanceChanged(database: $db, id: $id) { change id seq } }`,
    { db: FAN_DB, id: target },
  );
  const openSecs = (performance.now() - opened) / 1000;
  try {
    const active = await pollUntil(
      async () => (await gateway.metric('cairn_subscriptions_active')) >= subsBefore + P.subscribers,
      60_000,
      100,
    );
    if (!active)
      throw new Error(
        `only ${await gateway.metric('cairn_subscriptions_active')} subscriptions active of ${P.subscribers}`,
      );
    await sleep(1_000);
    const rssAfter = gateway.sampleMemory();
    const reachAll: number[] = [];
    const firsts: number[] = [];
    const spreads: number[] = [];
    const deliveries: number[] = [];
    let incomplete = 0;
    for (let round_ = 0; round_ < P.fanoutRounds; round_++) {
      const arrivals: number[] = [];
      const seen = new Set<number>();
      subs.forEach((s, i) => {
        s.onNext = (at) => {
          if (seen.has(i)) return;
          seen.add(i);
          arrivals.push(at);
        };
      });
      const sentAt = performance.now();
      const res = await gql().must<{ updateInstance: { seq: number } }>(
        `mutation($input: UpdateInstanceInput!) { updateInstance(input: $input) { seq } }`,
        { input: { database: FAN_DB, id: target, expectedSeq: seq, set: { n: round_ + 1 } } },
      );
      seq = res.updateInstance.seq;
      commits++;
      const all = await pollUntil(async () => arrivals.length >= subs.length, 30_000, 5);
      if (!all) incomplete++;
      arrivals.sort((a, b) => a - b);
      if (arrivals.length) {
        reachAll.push(arrivals[arrivals.length - 1]! - sentAt);
        firsts.push(arrivals[0]! - sentAt);
        spreads.push(arrivals[arrivals.length - 1]! - arrivals[0]!);
        for (const a of arrivals) deliveries.push(a - sentAt);
      }
      await sleep(300);
    }
    const params: Params = {
      subscribers: P.subscribers,
      rounds: P.fanoutRounds,
      incompleteRounds: incomplete,
      openSeconds: round(openSecs, 2),
      firstReceivedMs: round(median(firsts), 1),
      firstToLastSpreadMs: round(median(spreads), 1),
    };
    add(
      latencyFigure(
        'fanout.reachAll',
        `fan-out: mutation → all ${P.subscribers} subscribers reached`,
        reachAll,
        params,
        {
          note: 'one update per round, time from sending the mutation until the last subscriber received it (the median over rounds is the value); the load generator receiving them shares the same two cores',
        },
      ),
      latencyFigure(
        'fanout.delivery',
        `fan-out: per-subscriber delivery (${P.subscribers} subscribers)`,
        deliveries,
        params,
      ),
      {
        id: 'fanout.memoryPerConnection',
        name: 'gateway memory per subscription connection',
        kind: 'cairn',
        unit: 'KiB',
        value: (rssAfter - rssBefore) / 1024 / P.subscribers,
        median: (rssAfter - rssBefore) / 1024 / P.subscribers,
        count: P.subscribers,
        parameters: { rssBeforeMiB: round(rssBefore / 2 ** 20, 1), rssAfterMiB: round(rssAfter / 2 ** 20, 1) },
        note: 'gateway RSS delta / connections (one graphql-ws connection with one subscription each), no forced GC',
      },
    );
  } finally {
    closeAll(subs);
    await sleep(500);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN;
};

async function stopAll(): Promise<void> {
  client?.close();
  for (const p of procs) p.sampleMemory();
  // Gateway first, then relay, then projector.
  for (const p of procs) {
    await p.stop();
    if (p.peakRss > 0)
      peakRss[profile === 'embedded' && peakRss['embedded (1st run)'] ? 'embedded (2nd run)' : p.name] = p.peakRss;
  }
  if (args['cpu-prof']) {
    for (const p of procs) {
      const file = newestProfile(join(profDir, p.name));
      if (file) profiles.push({ process: p.name, ...summarizeProfile(file, REPO_ROOT) });
    }
    const cli = newestProfile(join(profDir, 'cli-rebuild'));
    if (cli) profiles.push({ process: 'cli rebuild', ...summarizeProfile(cli, REPO_ROOT) });
  }
}

async function cleanup(): Promise<void> {
  if (args.keep) {
    log(`  kept: ${profile === 'production' ? JSON.stringify(ns) : dataDir}`);
    return;
  }
  if (profile === 'embedded') {
    rmSync(dataDir, { recursive: true, force: true });
    return;
  }
  await dropNamespace(engines, ns);
}

// ---------------------------------------------------------------------------------------------------
// Targets, bounds, peak RSS
// ---------------------------------------------------------------------------------------------------

function finishFigures(): void {
  const c32 = fig('mutation.ack.c32');
  if (c32) {
    withTarget(c32, 'p50', '<=', 5, 'p50 ≤ 5 ms');
    withTarget(c32, 'p99', '<=', 25, 'p99 ≤ 25 ms');
  }
  const rates = P.levels.map((c) => fig(`mutation.rate.c${c}`)).filter((f): f is Figure => !!f);
  if (rates.length) {
    const best = rates.reduce((a, b) => (b.value > a.value ? b : a));
    const derived: Figure = {
      ...best,
      id: 'mutation.rate.best',
      name: `mutation throughput, best level (${best.parameters.concurrency} clients)`,
      targets: [],
      bounds: [],
    };
    withTarget(derived, 'value', '>=', 2000, '≥ 2,000/s');
    const idx = figures.indexOf(rates[rates.length - 1]!);
    figures.splice(idx + 1, 0, derived);
  }
  const e2e = fig('e2e.latency');
  if (e2e) {
    withTarget(e2e, 'p50', '<=', 25, 'p50 ≤ 25 ms');
    withTarget(e2e, 'p99', '<=', 100, 'p99 ≤ 100 ms');
  }
  const relayFig = fig('relay.throughput');
  const projFig = fig('projector.throughput');
  const rebuildFig = fig('rebuild.throughput');
  const live = profile === 'embedded';
  if (relayFig && !live) withTarget(relayFig, 'value', '>=', 5000, '≥ 5,000 ev/s');
  if (projFig && !live) withTarget(projFig, 'value', '>=', 5000, '≥ 5,000 ev/s');
  if (rebuildFig) withTarget(rebuildFig, 'value', '>=', 20000, '≥ 20,000 ev/s');
  const fan = fig('fanout.reachAll');
  if (fan && P.subscribers >= 10_000) withTarget(fan, 'value', '<=', 500, '10k reached ≤ 500 ms');
  else if (fan) fan.note = `${fan.note ?? ''} (target 10,000 in ≤ 500 ms applies to a default run)`.trim();

  // Engine bounds: the Cairn figure beside the engine figure it is bounded by.
  if (profile === 'production') {
    withBound(fig('mutation.ack.c1'), fig('engine.s3.put.c1'), 'p50');
    withBound(fig('mutation.ack.c1'), fig('engine.pg.rtt'), 'p50');
    withBound(fig('mutation.rate.c32'), fig('engine.s3.put.c32'));
    withBound(fig('mutation.ack.c32'), fig('engine.s3.put.c1'), 'p50');
    withBound(fig('query.instance.c32'), fig('engine.es.mget.c32'), 'p50');
    withBound(fig('query.page.c32'), fig('engine.es.search.c32'), 'p50');
    if (relayFig) {
      relayFig.bounds = [];
      const produce = fig('engine.kafka.produce');
      if (produce) {
        // The relay's Kafka work is in envelopes (2 per event).
        relayFig.bounds.push({
          name: `${produce.name} (envelopes)`,
          value: produce.value,
          unit: produce.unit,
          ratio: (relayFig.value * 2) / produce.value,
        });
      }
      withBound(relayFig, fig('engine.s3.get.c16'));
    }
    if (projFig) {
      const consume = fig('engine.kafka.consume');
      if (consume)
        projFig.bounds = [
          {
            name: `${consume.name} (envelopes)`,
            value: consume.value,
            unit: consume.unit,
            ratio: (projFig.value * 2) / consume.value,
          },
        ];
      withBound(projFig, fig('engine.es.bulk.refresh'));
      withBound(projFig, fig('engine.es.bulk'));
    }
    if (rebuildFig) {
      withBound(rebuildFig, fig('engine.s3.list'));
      withBound(rebuildFig, fig('engine.s3.get.c16'));
      withBound(rebuildFig, fig('engine.es.bulk'));
    }
  } else {
    withBound(fig('mutation.ack.c1'), fig('engine.disk.create.c1'), 'p50');
    withBound(fig('mutation.ack.c1'), fig('engine.disk.append'), 'p50');
    withBound(fig('mutation.rate.c32'), fig('engine.disk.create.c32'));
  }
  for (const f of figures) if (f.bounds?.length === 0) delete f.bounds;
  for (const f of figures) if (f.targets?.length === 0) delete f.targets;

  peakRss.bench = process.resourceUsage().maxRSS * 1024;
  for (const [name, bytes] of Object.entries(peakRss)) {
    if (!(bytes > 0)) continue;
    add({
      id: `rss.${name.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '')}`,
      name: `peak RSS: ${name}`,
      kind: 'cairn',
      unit: 'MiB',
      value: bytes / 2 ** 20,
      median: bytes / 2 ** 20,
      max: bytes / 2 ** 20,
      count: 1,
      parameters: { source: name === 'bench' ? 'getrusage maxRSS' : '/proc/<pid>/status VmHWM' },
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------

/** The JVM engines, and how long after a start their JIT compilers still take a share of the CPU. */
const JIT_ENGINES = new Set(['elasticsearch', 'kafka']);
const JIT_WARM_SECONDS = 600;

async function main(): Promise<number> {
  mkdirSync(resultsDir, { recursive: true });
  log(`profile ${profile}${quick ? ' (quick)' : ''}; parameters ${JSON.stringify(P)}`);
  const load0 = loadavg();
  const uptimes = profile === 'production' ? engineUptimes() : {};
  const justStarted = Object.entries(uptimes).filter(([e, s]) => JIT_ENGINES.has(e) && s < JIT_WARM_SECONDS);
  for (const [engine, seconds] of justStarted)
    log(
      `warning: ${engine} started ${seconds} s ago; its JIT compiler works for about ${JIT_WARM_SECONDS / 60} minutes after a start, ` +
        "so its CPU figures run high and Cairn's rates low in this run (wait, or warm it with a --quick run first)",
    );
  // A quiet machine to start from (see waitForQuietMachine): at most 2 minutes, 30 s with --quick.
  const settle = await waitForQuietMachine({ maxMs: quick ? 30_000 : 120_000 });
  if (!settle.quiet)
    log(
      `warning: the machine was still busy after ${settle.waitedSeconds} s (engines' background work?); the run starts anyway`,
    );
  else if (settle.waitedSeconds > 3) log(`waited ${settle.waitedSeconds} s for the machine to be quiet`);
  try {
    await phase('backlog write', writeBacklog);
    if (profile === 'production') await measuredPhase('relay + projector on the backlog', relayAndProjector);
    else await phase('pipeline drain (embedded)', embeddedPipeline);
    await measuredPhase('rebuild', rebuild);
    await measuredPhase('engine baselines', async () => {
      await sampleCommitBodies();
      await baselines();
    });
    await measuredPhase('mutation latency and throughput', mutationLevels);
    await measuredPhase('end-to-end latency', endToEnd);
    await measuredPhase('end-to-end latency, half load', endToEndHalfLoad);
    await measuredPhase('query latency', queries);
    await measuredPhase('subscription fan-out', fanOut);
  } finally {
    await phase('stop', stopAll);
    await phase('cleanup', cleanup);
  }
  finishFigures();

  const finishedAt = new Date();
  const results = {
    version: 1,
    tool: 'cairn-bench',
    profile,
    quick,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: round((finishedAt.getTime() - startedAt.getTime()) / 1000, 1),
    command: `npm run bench --${quick ? ' --quick' : ''} --profile ${profile}${args['cpu-prof'] ? ' --cpu-prof' : ''}`,
    host: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '',
      totalMemMiB: Math.round(totalmem() / 2 ** 20),
      node: process.version,
      loadavgAtStart: load0.map((v) => round(v, 2)),
      loadavgAtEnd: loadavg().map((v) => round(v, 2)),
      /** Seconds each engine had been running when the run began (see engineUptimes). */
      engineUptimeSeconds: uptimes,
      /** Seconds waited for a quiet machine before the first phase, and whether it got quiet. */
      settle,
      /** The same before each later phase (see measuredPhase). */
      phaseSettle,
    },
    parameters: { ...P, levels: P.levels.join(',') },
    phaseSeconds,
    figures: figures.map(jsonSafe),
    cpuProfiles: profiles,
    errors,
  };
  const out = args.out ?? join(resultsDir, `${stamp}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);

  process.stdout.write(
    `\nCairn bench — ${profile}${quick ? ' (quick)' : ''} — ${results.durationSeconds}s — load avg ${results.host.loadavgAtStart.join('/')} → ${results.host.loadavgAtEnd.join('/')}\n\n`,
  );
  process.stdout.write(`${renderTable(figures)}\n`);
  for (const p of profiles) {
    process.stdout.write(`\nCPU profile ${p.process}: ${p.totalMs} ms wall, ${p.idleMs} ms idle. Top self time:\n`);
    for (const a of p.areas.slice(0, 8)) process.stdout.write(`  ${a.pct.toFixed(1).padStart(5)}%  ${a.area}\n`);
    process.stdout.write('  functions:\n');
    for (const f of p.functions.slice(0, 12))
      process.stdout.write(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}  ${f.where}\n`);
  }
  for (const e of errors) process.stdout.write(`\nERROR in ${e.phase}: ${e.message.split('\n')[0]}\n`);
  process.stdout.write(`\nresults: ${out}\n`);
  const problems = checkResults(JSON.parse(JSON.stringify(results)) as unknown);
  if (problems.length)
    process.stdout.write(`results check: ${problems.length} problem(s):\n  ${problems.join('\n  ')}\n`);
  return errors.length || problems.length ? 1 : 0;
}

/** JSON has no NaN/Infinity: such statistics become null (and the checker flags them). */
function jsonSafe(f: Figure): Figure {
  return JSON.parse(
    JSON.stringify(f, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)),
  ) as Figure;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
