import { mapLimit } from '../../src/app/concurrency.js';
import { Api, aggregateIdOf } from '../e2e/api.js';
import type { Cluster } from '../e2e/harness.js';
import { randomId } from '../support/ids.js';
import { waitFor } from '../support/wait.js';
import { type LoadResult, startLoad } from './load.js';
import { consistency, health } from './support.js';

/**
 * Faults under load, shared by the fault test (CI size) and `npm run soak` (any size): while clients
 * write over every gateway, SIGKILL and restart each Cairn process, then each engine; while an engine
 * is down, check that /health names it and that the requests needing it fail fast with UNAVAILABLE.
 * Afterwards compare what was acknowledged with the event store and the read model.
 */

interface EngineControl {
  kill(name: string): Promise<void>;
  restart(name: string): Promise<void>;
}

export interface FaultRunOptions {
  cluster: Cluster;
  engines: EngineControl;
  clients: number;
  /** Acknowledged mutations before the faults start, and again after the last one. */
  warmup: number;
  /** Keep the load going after the faults until at least this many were acknowledged in all. */
  atLeast: number;
  /** A request needing a down engine must be answered within this (the dependency timeout + slack). */
  failFastMs: number;
  /** How long one mutation is retried before it counts as abandoned (see LoadOptions). */
  retryBudgetMs?: number;
  log?: (line: string) => void;
}

export interface FaultReport {
  faults: string[];
  load: LoadResult;
  /** While an engine was down: the answer of a request that needs it, and how long it took. */
  downProbes: { engine: string; dependency: string; code: string; ms: number; healthSaidDown: boolean }[];
  check: { acknowledged: number; instances: number; storedDomainEvents: number; duplicates: number; missing: number };
  drift: number;
}

/** engine → its name in /health and in UNAVAILABLE's `dependency`. */
const DEPENDENCY = { minio: 's3', pg: 'postgres', kafka: 'kafka', es: 'elasticsearch' } as const;
type Engine = keyof typeof DEPENDENCY;

export async function runFaultsUnderLoad(options: FaultRunOptions): Promise<FaultReport> {
  const { cluster, log = () => {} } = options;
  const api = (i = 0) => new Api(() => cluster.gateways[i % cluster.gateways.length]!.http);
  const database = (await api().newDatabase()).database.name;
  await api().newClass(database, 'k', [{ name: 'v', type: 'INT' }]);
  const probeId = randomId('probe');
  await api().newInstance(database, 'k', { v: 0 }, probeId);

  const load = startLoad({
    cluster,
    database,
    classId: 'k',
    clients: options.clients,
    mutations: Number.MAX_SAFE_INTEGER,
    retryBudgetMs: options.retryBudgetMs,
  });
  const faults: string[] = [];
  const downProbes: FaultReport['downProbes'] = [];
  try {
    await waitFor(() => (load.progress() >= options.warmup ? true : undefined), {
      timeoutMs: 120_000,
      what: 'the warm-up mutations',
    });

    for (const name of cluster.names()) {
      await cluster.kill(name);
      faults.push(`SIGKILL ${name} at ${load.progress()} acknowledged`);
      log(faults[faults.length - 1]!);
      await new Promise((r) => setTimeout(r, 1_500));
      await cluster.start(name);
    }

    for (const engine of ['minio', 'pg', 'kafka', 'es'] as Engine[]) {
      await options.engines.kill(engine);
      faults.push(`SIGKILL ${engine} at ${load.progress()} acknowledged`);
      log(faults[faults.length - 1]!);
      downProbes.push(await probeWhileDown(engine));
      await options.engines.restart(engine);
      await waitFor(async () => ((await health(cluster.gateways[0]!.base)).status === 'ok' ? true : undefined), {
        timeoutMs: 120_000,
        intervalMs: 500,
        what: `the gateway to see ${engine} again`,
      });
      log(`${engine} back at ${load.progress()} acknowledged`);
    }

    // Every process must serve again by itself: the load goes on a while after the last fault.
    const target = Math.max(load.progress() + options.warmup, options.atLeast);
    await waitFor(() => (load.progress() >= target ? true : undefined), {
      timeoutMs: 120_000 + options.atLeast * 50,
      what: 'mutations to be acknowledged after the faults',
    });
  } catch (e) {
    // A failed run must not leave clients writing into the cluster being torn down.
    await load.abort();
    throw e;
  }
  load.stop();
  const result = await load.done;
  log(`load done: ${result.acknowledged.length} acknowledged`);
  const check = await compareWithStore(api, database, result);
  // The projector catches up after the faults (Kafka and Elasticsearch were down a while): a `minSeq`
  // read answering STALE_READ (or UNAVAILABLE while the index recovers) means "not yet", so ask again.
  let pending = [...result.finalSeq];
  await waitFor(
    async () => {
      // Bounded: a soak leaves tens of thousands of instances (one socket each would exhaust the descriptors).
      const answers = await mapLimit(pending, 32, ([id, seq]) => api().instance(database, id, seq));
      pending = pending.filter((_, i) => (answers[i]!.body.errors?.length ?? 0) > 0);
      return pending.length === 0 ? true : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 1_000, what: 'the read model to hold every instance at its final seq' },
  );
  const report = await consistency(cluster);
  return { faults, load: result, downProbes, check, drift: report.drift.length };

  async function probeWhileDown(engine: Engine): Promise<FaultReport['downProbes'][number]> {
    const dependency = DEPENDENCY[engine];
    const healthSaidDown = await waitFor(
      async () =>
        (await health(cluster.gateways[0]!.base)).dependencies[dependency]?.status === 'down' ? true : undefined,
      { timeoutMs: 15_000, intervalMs: 200, what: `/health to report ${dependency} down` },
    ).catch(() => false);
    const started = Date.now();
    // The write path needs S3 and PostgreSQL; queries need Elasticsearch; Kafka only feeds the workers.
    const res =
      engine === 'es' || engine === 'kafka'
        ? await api().instance(database, probeId)
        : await api().updateInstance({ database, id: probeId, expectedSeq: 1, set: { v: 1 } });
    const code = String(res.body.errors?.[0]?.extensions?.code ?? 'OK');
    return { engine, dependency, code, ms: Date.now() - started, healthSaidDown };
  }
}

/** Every acknowledged mutation is in its aggregate's history exactly once, at its seq; nothing else is. */
async function compareWithStore(api: (i?: number) => Api, database: string, result: LoadResult) {
  const byId = new Map<string, { seq: number; key: string }[]>();
  for (const a of result.acknowledged) byId.set(a.id, [...(byId.get(a.id) ?? []), a]);
  let storedDomainEvents = 0;
  let duplicates = 0;
  let missing = 0;
  for (const [id, acks] of byId) {
    const events = await api().eventsOf('INSTANCE', aggregateIdOf(database, id), { first: 1000 });
    const domain = events.filter((e) => e.kind === 'DOMAIN');
    storedDomainEvents += domain.length;
    const keys = domain.map((e) => e.idempotencyKey);
    duplicates += keys.length - new Set(keys).size;
    for (const ack of acks) {
      const found = domain.filter((e) => e.idempotencyKey === ack.key);
      if (found.length !== 1 || found[0]!.seq !== ack.seq) missing++;
    }
  }
  return { acknowledged: result.acknowledged.length, instances: byId.size, storedDomainEvents, duplicates, missing };
}
