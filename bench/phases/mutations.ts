import { metricValue } from '../http.js';
import type { BenchRun } from '../run/context.js';
import { latencyFigure, type Params, rateFigure, round } from '../stats.js';
import { type MixResult, runMix } from '../workload.js';

/** "1 client", "32 clients". */
const clients = (c: number): string => `${c} client${c === 1 ? '' : 's'}`;

function mixParams(run: BenchRun, r: MixResult, concurrency: number): Params {
  return {
    concurrency,
    createRatio: run.P.createRatio,
    zipfS: run.P.zipfS,
    hotAggregates: run.hot.length,
    hottestShareOfUpdates: round(run.zipf.hottestShare, 3),
    conflicts: r.conflicts,
    conflictRetries: r.conflictRetries,
    conflictGaveUp: r.conflictGaveUp,
    errors: r.errors,
    errorCodes: JSON.stringify(r.errorCodes),
  };
}

export async function mutationLevels(run: BenchRun): Promise<void> {
  const { P, gateway } = run;
  for (const c of P.levels) {
    const before = run.cpu.snapshot();
    const m0 = await gateway.metrics().catch(() => '');
    const r = await runMix({
      client: run.gql(),
      pool: run.pool,
      concurrency: c,
      createRatio: P.createRatio,
      hot: run.hot,
      zipf: run.zipf,
      random: run.random,
      warmupMs: P.levelWarmupMs,
      durationMs: P.levelMs,
    });
    run.commits += r.acknowledged;
    const m1 = await gateway.metrics().catch(() => '');
    const cpuUse = run.cpuSince(before);
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
      ...mixParams(run, r, c),
      warmupMs: P.levelWarmupMs,
      durationMs: P.levelMs,
      serverMeanMs: round(serverMeanMs, 2),
      ...cpuUse,
    };
    run.add(
      latencyFigure(`mutation.ack.c${c}`, `mutation ack latency (${clients(c)})`, r.latencies, params, {
        note: 'successful requests only; CONFLICT answers are counted in parameters.conflicts and retried with the actual seq',
      }),
      rateFigure(
        `mutation.rate.c${c}`,
        `mutation throughput (${clients(c)})`,
        'mutations/s',
        r.measured,
        r.measuredSeconds,
        r.windowRates,
        params,
      ),
    );
    if (r.errors > 0) run.log(`  ${clients(c)}: ${r.errors} errors: ${r.firstErrors.join(' | ')}`);
    run.log(
      `  ${clients(c)}: p50 ${run.fig(`mutation.ack.c${c}`)?.p50?.toFixed(2)} ms, p99 ${run.fig(`mutation.ack.c${c}`)?.p99?.toFixed(2)} ms, ${run.fig(`mutation.rate.c${c}`)?.value.toFixed(0)}/s, ${r.conflicts} conflicts`,
    );
  }
}
