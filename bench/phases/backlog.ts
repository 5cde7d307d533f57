import { type CairnProcess, pollUntil, runCli } from '../cluster.js';
import { GqlClient } from '../http.js';
import { type BenchRun, DB } from '../run/context.js';
import { rateFigure, round, sampledRates } from '../stats.js';
import { type MixResult, runMix, Zipf } from '../workload.js';

/**
 * The backlog and what is measured on it: its write, the relay and the projector catching up on it
 * (or, embedded, draining it in-process), and the rebuild from the store it left.
 */

async function countedMix(
  run: BenchRun,
  count: number,
  concurrency: number,
  createRatio: number,
  budgetMs: number,
): Promise<MixResult> {
  const r = await runMix({
    client: run.gql(),
    pool: run.pool,
    concurrency,
    createRatio,
    hot: run.hot,
    zipf: run.zipf,
    random: run.random,
    warmupMs: 0,
    count,
    durationMs: Math.max(1, budgetMs),
  });
  run.commits += r.acknowledged;
  if (r.errors > 0) run.log(`  ${r.errors} errors: ${r.firstErrors.join(' | ')}`);
  return r;
}

/** Seeds the hot aggregates and writes the backlog (production: through a gateway running alone). */
export async function writeBacklog(run: BenchRun): Promise<void> {
  const { P, gateway } = run;
  await gateway.start();
  run.log(`  ${gateway.name} listening at ${gateway.base} (started in ${Math.round(gateway.startedMs)} ms)`);
  run.client = new GqlClient(gateway.graphql, 256);
  await run.setupDatabase(DB);
  const before = run.cpu.snapshot();
  const started = performance.now();
  run.backlogStartedAt = started;
  const seeded = await countedMix(run, P.hot, 64, 1, P.backlogBudgetMs);
  run.hot = run.pool.ids.slice(0, P.hot);
  run.zipf = new Zipf(Math.max(1, run.hot.length), P.zipfS);
  // Until the backlog holds P.backlog commits: an update that conflicted five times is given up, so
  // one pass of P.backlog mutations left the store short (47,852 of 50,000 at 2026-11-24T19:16).
  const rest = { acknowledged: 0, created: 0, conflicts: 0, errors: 0 };
  let left = P.backlogBudgetMs - (performance.now() - started);
  while (seeded.acknowledged + rest.acknowledged < P.backlog && left > 0) {
    const pass = await countedMix(run, P.backlog - seeded.acknowledged - rest.acknowledged, 64, 0.5, left);
    rest.acknowledged += pass.acknowledged;
    rest.created += pass.created;
    rest.conflicts += pass.conflicts;
    rest.errors += pass.errors;
    if (pass.acknowledged === 0) break; // nothing goes through (errors are logged): stop here
    left = P.backlogBudgetMs - (performance.now() - started);
  }
  const secs = (performance.now() - started) / 1000;
  const acked = seeded.acknowledged + rest.acknowledged;
  run.add(
    rateFigure(
      'backlog.write',
      run.profile === 'production'
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
        creates: seeded.created + rest.created,
        conflicts: seeded.conflicts + rest.conflicts,
        errors: seeded.errors + rest.errors,
        ...run.cpuSince(before),
      },
    ),
  );
  run.log(`  ${acked} mutations in ${secs.toFixed(1)}s; ${run.commits} commits in the store`);
}

/** Relay, then projector, each started on a backlog of `commits` commits; progress from /metrics. */
async function measureCatchUp(
  run: BenchRun,
  proc: CairnProcess,
  metric: string,
  expected: number,
  id: string,
  name: string,
  perCommit: number,
): Promise<void> {
  const before = run.cpu.snapshot();
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
    run.quick ? 60_000 : 300_000,
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
  run.add(
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
        ...run.cpuSince(before),
      },
      {
        note: 'events = domain events (one per commit; the relay publishes 2 envelopes per commit). Timed from the "listening" line (the role starts a few ms earlier) to the last poll (50 ms).',
      },
    ),
  );
  if (!ok)
    throw new Error(`${proc.name} did not catch up: ${done} of ${expected * perCommit}\n${proc.stderr.slice(-2000)}`);
}

export async function relayAndProjector(run: BenchRun): Promise<void> {
  await measureCatchUp(
    run,
    run.relay,
    'cairn_relay_published_envelopes_total',
    run.commits,
    'relay.throughput',
    'relay throughput (backlog → Kafka)',
    2,
  );
  await measureCatchUp(
    run,
    run.projector,
    'cairn_projector_applied_events_total',
    run.commits,
    'projector.throughput',
    'projector throughput (Kafka → Elasticsearch)',
    1,
  );
}

/** Embedded: the pipeline is in-process and cannot be staged; report how fast it drained the burst. */
export async function embeddedPipeline(run: BenchRun): Promise<void> {
  const started = performance.now();
  for (const [proc, metric, id, name, perCommit] of [
    [run.relay, 'cairn_relay_published_envelopes_total', 'relay.throughput', 'relay (in-process, after the burst)', 2],
    [
      run.projector,
      'cairn_projector_applied_events_total',
      'projector.throughput',
      'projector (in-process, after the burst)',
      1,
    ],
  ] as const) {
    const ok = await pollUntil(async () => (await proc.metric(metric)) >= run.commits * perCommit, 120_000, 50);
    const secs = (performance.now() - started) / 1000;
    run.add(
      rateFigure(
        id,
        name,
        'events/s',
        run.commits,
        (performance.now() - run.backlogStartedAt) / 1000,
        [],
        {
          commits: run.commits,
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

export async function rebuild(run: BenchRun): Promise<void> {
  const { gateway, peakRss } = run;
  if (run.profile === 'production') {
    const before = run.cpu.snapshot();
    const cli = await runCli(['rebuild'], { ...run.productionEnv, LOG_LEVEL: 'warn' }, run.profArgs('cli-rebuild'));
    peakRss['rebuild (cli)'] = cli.peakRss;
    if (cli.code !== 0) throw new Error(`cli rebuild exited ${cli.code}: ${cli.stderr.slice(-2000)}`);
    const out = JSON.parse(cli.stdout.slice(cli.stdout.indexOf('{'))) as {
      commits: number;
      aggregates: number;
      seconds: number;
      source: string;
      readFromStore?: number;
      caughtUp?: number;
    };
    run.add(
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
          cliWallSeconds: round(cli.wallMs / 1000, 2),
          ...run.cpuSince(before),
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
  run.client?.close();
  await gateway.start();
  run.client = new GqlClient(gateway.graphql, 256);
  const line = /"read model rebuilt from the event store".*$/m.exec(gateway.stderr)?.[0] ?? '';
  const ms = Number(/"ms":(\d+)/.exec(line)?.[1]);
  const rebuilt = Number(/"commits":(\d+)/.exec(line)?.[1]);
  if (!Number.isFinite(ms) || !Number.isFinite(rebuilt))
    throw new Error(`no rebuild log line in: ${gateway.stderr.slice(-1500)}`);
  run.add(
    rateFigure('rebuild.throughput', 'rebuild (embedded, at start)', 'events/s', rebuilt, ms / 1000, [], {
      commits: rebuilt,
      envelopes: rebuilt * 2,
      processStartMs: Math.round(gateway.startedMs),
    }),
  );
}
