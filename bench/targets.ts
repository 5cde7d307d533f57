import type { BenchRun } from './run/context.js';
import { type Figure, withBound, withTarget } from './stats.js';

/**
 * After the phases: the targets of the issue on the figures they apply to, each Cairn figure's engine
 * bounds, the derived best mutation rate, and the peak RSS of every process.
 */
export function finishFigures(run: BenchRun): void {
  const { P, figures, peakRss } = run;
  const fig = (id: string) => run.fig(id);
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
  const live = run.profile === 'embedded';
  if (relayFig && !live) withTarget(relayFig, 'value', '>=', 5000, '≥ 5,000 ev/s');
  if (projFig && !live) withTarget(projFig, 'value', '>=', 5000, '≥ 5,000 ev/s');
  if (rebuildFig) withTarget(rebuildFig, 'value', '>=', 20000, '≥ 20,000 ev/s');
  const fan = fig('fanout.reachAll');
  if (fan && P.subscribers >= 10_000) withTarget(fan, 'value', '<=', 500, '10k reached ≤ 500 ms');
  else if (fan) fan.note = `${fan.note ?? ''} (target 10,000 in ≤ 500 ms applies to a default run)`.trim();

  // Engine bounds: the Cairn figure beside the engine figure it is bounded by.
  if (run.profile === 'production') {
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
    run.add({
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
