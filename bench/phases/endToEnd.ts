import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { pollUntil } from '../cluster.js';
import { metricValue } from '../http.js';
import type { BenchRun } from '../run/context.js';
import { latencyFigure, round } from '../stats.js';
import { AggregatePool, runMix, Zipf } from '../workload.js';

const E2E_DB = 'benche2e';

/** The lag histograms' sums and counts (seconds) of each pipeline stage, from its own process. */
const LAG_STAGES = [
  ['relay', 'relay', 'cairn_relay_lag_seconds'],
  ['projector', 'projector', 'cairn_projector_lag_seconds'],
  ['changeDelivery', 'gateway', 'cairn_change_delivery_lag_seconds'],
] as const;

async function stageLags(run: BenchRun): Promise<Record<string, { sum: number; count: number }>> {
  const entries = await Promise.all(
    LAG_STAGES.map(async ([stage, role, name]) => {
      const text = await run[role].metrics();
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

/** Made by the first end-to-end phase, kept in `run.e2eAggregates` for the next. */
const endToEndAggregates = (run: BenchRun) => {
  run.e2eAggregates ??= (async () => {
    await run.setupDatabase(E2E_DB);
    const e2ePool = new AggregatePool(E2E_DB, 'e');
    await runMix({
      client: run.gql(),
      pool: e2ePool,
      concurrency: 16,
      createRatio: 1,
      hot: [],
      zipf: run.zipf,
      random: run.random,
      warmupMs: 0,
      count: 200,
    });
    const ids = e2ePool.ids.slice(0, 200);
    return { pool: e2ePool, hot: ids, zipf: new Zipf(ids.length, 0.5) };
  })();
  return run.e2eAggregates;
};

/** A steady load the cluster can sustain: the configured rate, at most half the best measured throughput. */
const steadyRate = (run: BenchRun): number => {
  const { P } = run;
  const best = Math.max(0, ...P.levels.map((c) => run.fig(`mutation.rate.c${c}`)?.value ?? 0));
  return best > 0 && !P.e2eRateFixed ? Math.max(5, Math.min(P.e2eRate, Math.round(best / 2))) : P.e2eRate;
};

/** End to end at the steady load (the figure the targets are checked on). */
export const endToEnd = (run: BenchRun) => {
  const rate = steadyRate(run);
  return measureEndToEnd(run, 'e2e.latency', `mutation sent → instanceChanged received (${rate}/s)`, rate);
};

/** End to end at half the steady load: how much of the steady figure is queueing for the machine's cores. */
export const endToEndHalfLoad = (run: BenchRun) => {
  const rate = Math.max(5, Math.round(steadyRate(run) / 2));
  return measureEndToEnd(
    run,
    'e2e.latency.half',
    `mutation sent → instanceChanged received, half load (${rate}/s)`,
    rate,
  );
};

async function measureEndToEnd(run: BenchRun, id: string, name: string, rate: number): Promise<void> {
  const { P, gateway } = run;
  const { pool: e2ePool, hot: e2eHot, zipf: e2eZipf } = await endToEndAggregates(run);
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
      error: (e) => run.log(`  e2e subscription error: ${JSON.stringify(e).slice(0, 300)}`),
      complete: () => undefined,
    },
  );
  try {
    await connected;
    await pollUntil(async () => (await gateway.metric('cairn_subscriptions_active')) >= 1, 10_000, 50);
    const before = run.cpu.snapshot();
    const lagsBefore = await stageLags(run);
    const started = performance.now();
    measureFrom = started + P.e2eWarmupMs;
    const r = await runMix({
      client: run.gql(),
      pool: e2ePool,
      concurrency: P.e2eClients,
      createRatio: P.createRatio,
      hot: e2eHot,
      zipf: e2eZipf,
      random: run.random,
      warmupMs: P.e2eWarmupMs,
      durationMs: P.e2eMs,
      ratePerSecond: rate,
      onSend: (id, seq, at) => sent.set(`${id}:${seq}`, at),
    });
    run.commits += r.acknowledged;
    const cpuUse = run.cpuSince(before);
    // Stragglers: every acknowledged mutation's notification, or a 10 s grace.
    await pollUntil(async () => received >= r.acknowledged, 10_000, 50);
    const lags = meanLagsSince(lagsBefore, await stageLags(run));
    const achieved = r.measured / Math.max(0.001, r.measuredSeconds);
    run.add(
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
