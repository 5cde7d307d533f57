import { elasticsearchQueryBaselines } from '../baselines.js';
import { type BenchRun, DB } from '../run/context.js';
import { latencyFigure, round } from '../stats.js';
import { CLASS_ID, INSTANCE_BY_ID, INSTANCE_PAGE, loopParams, runLoop } from '../workload.js';

/** The page query filters on `n >= min`, min drawn below this. */
const PAGE_MIN_BELOW = 9_000;

export async function queries(run: BenchRun): Promise<void> {
  const { P, pool, random } = run;
  const ids = run.hot.length ? run.hot : pool.ids;
  if (run.profile === 'production') {
    // The engine first, on the same read model and at the same concurrency: the bound of each query.
    run.add(
      ...(await elasticsearchQueryBaselines(run.engines, run.ns.ELASTICSEARCH_INDEX_PREFIX!, {
        quick: run.quick,
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
    const r = await run.gql().post<{ instance: { id: string } | null }>(INSTANCE_BY_ID, { database: DB, id });
    return {
      ms: r.ms,
      ok: r.errors.length === 0 && r.data?.instance?.id === id,
      error: JSON.stringify(r.errors).slice(0, 300),
    };
  };
  let rows = 0;
  let pages = 0;
  const page = async () => {
    const r = await run.gql().post<{ instances: { edges: unknown[] } }>(INSTANCE_PAGE, {
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
    const before = run.cpu.snapshot();
    const r = await runLoop(P.queryClients, P.queryWarmupMs, P.queryMs, op);
    run.add(
      latencyFigure(id, name, r.latencies, {
        ...loopParams(r, P.queryClients, P.queryMs),
        instancesInDatabase: pool.ids.length,
        ...(id === 'query.page.c32' ? { meanRowsPerPage: round(rows / Math.max(1, pages), 1) } : {}),
        ...extra,
        ...run.cpuSince(before),
      }),
    );
    if (r.errors) run.log(`  ${name}: ${r.errors} errors: ${r.firstErrors.join(' | ')}`);
  }
}
