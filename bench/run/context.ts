import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Namespace } from '../../test/support/namespace.js';
import { CairnProcess, namespace, type Profile, REPO_ROOT } from '../cluster.js';
import type { ProfileSummary } from '../cpuprofile.js';
import type { GqlClient } from '../http.js';
import { CpuMeter, type CpuSnapshot, cpuParams, waitForQuietMachine } from '../procstat.js';
import { type Figure, round } from '../stats.js';
import { AggregatePool, CLASS_ID, CLASS_PROPERTIES, CREATE_CLASS, CREATE_DATABASE, rng, Zipf } from '../workload.js';
import type { BenchArgs, BenchParameters } from './parameters.js';

/** The database of the backlog, the mutation levels and the queries. */
export const DB = 'bench';

/**
 * One run of the bench, made once by main.ts and handed to every phase: what it was asked, the Cairn
 * processes it runs, what it records, and the workload state one phase leaves to the next (mutable
 * fields: the phases run one after another).
 */
export class BenchRun {
  readonly quick: boolean;
  private readonly T0 = performance.now();
  readonly startedAt = new Date();
  readonly random: () => number;

  // What the run records ------------------------------------------------------------------------------

  readonly figures: Figure[] = [];
  readonly errors: { phase: string; message: string }[] = [];
  readonly profiles: (ProfileSummary & { process: string })[] = [];
  readonly phaseSeconds: Record<string, number> = {};
  /** Seconds waited for a quiet machine before each measured phase after the first, and whether it got quiet. */
  readonly phaseSettle: Record<string, { waitedSeconds: number; quiet: boolean }> = {};
  readonly peakRss: Record<string, number> = {};

  // The cluster ---------------------------------------------------------------------------------------

  readonly ns: Namespace = namespace();
  readonly dataDir: string;
  readonly resultsDir = join(REPO_ROOT, 'bench', 'results');
  readonly stamp: string;
  readonly profDir: string;
  readonly productionEnv: Record<string, string>;
  readonly procs: CairnProcess[];
  readonly gateway: CairnProcess;
  readonly relay: CairnProcess;
  readonly projector: CairnProcess;
  readonly cpu: CpuMeter;
  /** Set once the gateway listens (and again after the embedded rebuild restarted it). */
  client: GqlClient | null = null;

  // The workload --------------------------------------------------------------------------------------

  readonly pool = new AggregatePool(DB, 'i');
  zipf: Zipf;
  hot: string[] = [];
  /** Commits written (each: one command envelope + one domain event). */
  commits = 0;
  commitSamples: string[] = [];
  backlogStartedAt = 0;
  /** The end-to-end phases' aggregates: 200 of their own, so they are not slowed by the hot set's conflicts. */
  e2eAggregates: Promise<{ pool: AggregatePool; hot: string[]; zipf: Zipf }> | null = null;

  constructor(
    readonly args: BenchArgs,
    readonly profile: Profile,
    /** What the run does and for how long (benchParameters). */
    readonly P: BenchParameters,
    /** The engines' endpoints (empty on the embedded profile). */
    readonly engines: Record<string, string>,
  ) {
    this.quick = args.quick ?? false;
    this.random = rng(this.P.seed);
    this.dataDir = profile === 'embedded' ? mkdtempSync(join(tmpdir(), 'cairn-bench-')) : '';
    this.stamp = this.startedAt.toISOString().replace(/[:.]/g, '-');
    this.profDir = join(this.resultsDir, `prof-${this.stamp}`);

    const common: Record<string, string> = { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info' };
    this.productionEnv = { ...common, ...engines, ...this.ns, CAIRN_PROFILE: 'production' };
    const embeddedEnv: Record<string, string> = { ...common, CAIRN_PROFILE: 'embedded', CAIRN_DATA_DIR: this.dataDir };
    this.procs =
      profile === 'production'
        ? [
            new CairnProcess('gateway', { ...this.productionEnv, CAIRN_ROLES: 'gateway' }, this.profArgs('gateway')),
            new CairnProcess('relay', { ...this.productionEnv, CAIRN_ROLES: 'relay' }, this.profArgs('relay')),
            new CairnProcess(
              'projector',
              { ...this.productionEnv, CAIRN_ROLES: 'projector' },
              this.profArgs('projector'),
            ),
          ]
        : [new CairnProcess('embedded', embeddedEnv, this.profArgs('embedded'))];
    this.gateway = this.procs[0]!;
    this.relay = profile === 'production' ? this.procs[1]! : this.gateway;
    this.projector = profile === 'production' ? this.procs[2]! : this.gateway;
    this.cpu = new CpuMeter(() => new Map(this.procs.map((p) => [p.name, p.pid])));
    this.zipf = new Zipf(this.P.hot, this.P.zipfS);
  }

  log(msg: string): void {
    process.stderr.write(`[bench ${((performance.now() - this.T0) / 1000).toFixed(1)}s] ${msg}\n`);
  }

  fig(id: string): Figure | undefined {
    return this.figures.find((f) => f.id === id);
  }

  add(...fs: Figure[]): void {
    this.figures.push(...fs);
  }

  profArgs(role: string): string[] {
    return this.args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(this.profDir, role)}`] : [];
  }

  cpuSince(a: CpuSnapshot): Record<string, number> {
    return cpuParams(CpuMeter.between(a, this.cpu.snapshot()));
  }

  gql(): GqlClient {
    if (!this.client) throw new Error('no gateway');
    return this.client;
  }

  async setupDatabase(db: string): Promise<void> {
    await this.gql().must(CREATE_DATABASE, { input: { name: db } });
    await this.gql().must(CREATE_CLASS, {
      input: { database: db, id: CLASS_ID, properties: CLASS_PROPERTIES },
    });
    this.commits += 2;
  }

  /**
   * A phase on a quiet machine: the engines finish the work the phase before left them (Elasticsearch
   * merging what the projector wrote, MinIO removing the outbox entries the relay deleted, PostgreSQL's
   * autovacuum), or a phase's figure would carry the last one's costs. At most 20 s (5 s with --quick).
   */
  async measuredPhase(name: string, fn: (run: BenchRun) => Promise<void>): Promise<void> {
    const settled = await waitForQuietMachine({
      maxMs: this.quick ? 5_000 : 20_000,
      quietSeconds: this.quick ? 1 : 3,
    });
    this.phaseSettle[name] = settled;
    if (!settled.quiet)
      this.log(`warning: the machine was still busy after ${settled.waitedSeconds} s; ${name} starts anyway`);
    else if (settled.waitedSeconds > 3) this.log(`waited ${settled.waitedSeconds} s for the machine to be quiet`);
    await this.phase(name, fn);
  }

  async phase(name: string, fn: (run: BenchRun) => Promise<void>): Promise<void> {
    const t = performance.now();
    this.log(`${name} …`);
    try {
      await fn(this);
    } catch (e) {
      const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
      this.errors.push({ phase: name, message: message.slice(0, 4000) });
      this.log(`${name} FAILED: ${message.slice(0, 1500)}`);
    }
    this.phaseSeconds[name] = round((performance.now() - t) / 1000, 1);
    this.log(`${name} done in ${this.phaseSeconds[name]}s`);
  }
}
