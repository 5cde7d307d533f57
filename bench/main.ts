/**
 * `npm run bench [-- --quick] [-- --profile embedded|production] [-- --cpu-prof]`
 *
 * Measures Cairn end to end — mutation acknowledgement, mutation → subscription notification, relay,
 * projector and rebuild throughput on a backlog, query latency, subscription fan-out, peak RSS — and,
 * in the same run, the raw speed of the engines underneath for the same work. Prints a table and
 * writes `bench/results/<timestamp>.json` (checked by `bench/check-output.ts`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkResults } from './check-output.js';
import { engineEnv, missingEngines, type Profile } from './cluster.js';
import { embeddedPipeline, rebuild, relayAndProjector, writeBacklog } from './phases/backlog.js';
import { endToEnd, endToEndHalfLoad } from './phases/endToEnd.js';
import { engineBaselines } from './phases/engineBaselines.js';
import { fanOut } from './phases/fanOut.js';
import { mutationLevels } from './phases/mutations.js';
import { queries } from './phases/queries.js';
import { cleanup, stopAll } from './phases/teardown.js';
import { renderTable } from './report.js';
import { BenchRun } from './run/context.js';
import { type HostAtStart, hostAtStart } from './run/host.js';
import { type BenchParameters, BenchUsageError, benchParameters } from './run/parameters.js';
import { type Figure, round } from './stats.js';
import { finishFigures } from './targets.js';

const OPTIONS = {
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
} as const;

/** The command line; a bad one is named and the run exits with 2 (the usage is in --help). */
function commandLine() {
  try {
    return parseArgs(OPTIONS).values;
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)} (npm run bench -- --help)\n`);
    process.exit(2);
  }
}

const args = commandLine();

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

let parameters: BenchParameters;
try {
  parameters = benchParameters(args, profile);
} catch (e) {
  if (!(e instanceof BenchUsageError)) throw e;
  process.stderr.write(`${e.message}\n`);
  process.exit(2);
}

const engines = profile === 'production' ? engineEnv() : {};
const enginesMissing = profile === 'production' ? missingEngines(engines) : null;
if (enginesMissing) {
  console.error(`bench: ${enginesMissing}`);
  process.exit(2);
}

const run = new BenchRun(args, profile, parameters, engines);

async function main(): Promise<number> {
  mkdirSync(run.resultsDir, { recursive: true });
  run.log(`profile ${profile}${run.quick ? ' (quick)' : ''}; parameters ${JSON.stringify(run.P)}`);
  const atStart = await hostAtStart(run);
  try {
    await run.phase('backlog write', writeBacklog);
    if (profile === 'production') await run.measuredPhase('relay + projector on the backlog', relayAndProjector);
    else await run.phase('pipeline drain (embedded)', embeddedPipeline);
    await run.measuredPhase('rebuild', rebuild);
    await run.measuredPhase('engine baselines', engineBaselines);
    await run.measuredPhase('mutation latency and throughput', mutationLevels);
    await run.measuredPhase('end-to-end latency', endToEnd);
    await run.measuredPhase('end-to-end latency, half load', endToEndHalfLoad);
    await run.measuredPhase('query latency', queries);
    await run.measuredPhase('subscription fan-out', fanOut);
  } finally {
    await run.phase('stop', stopAll);
    await run.phase('cleanup', cleanup);
  }
  finishFigures(run);

  const results = resultsOf(atStart);
  const out = args.out ?? join(run.resultsDir, `${run.stamp}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  printResults(results, out);
  const problems = checkResults(JSON.parse(JSON.stringify(results)) as unknown);
  if (problems.length)
    process.stdout.write(`results check: ${problems.length} problem(s):\n  ${problems.join('\n  ')}\n`);
  return run.errors.length || problems.length ? 1 : 0;
}

/** The results file's document. */
function resultsOf(atStart: HostAtStart) {
  const { quick, startedAt } = run;
  const finishedAt = new Date();
  return {
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
      loadavgAtStart: atStart.loadavgAtStart.map((v) => round(v, 2)),
      loadavgAtEnd: loadavg().map((v) => round(v, 2)),
      /** Seconds each engine had been running when the run began (see engineUptimes). */
      engineUptimeSeconds: atStart.engineUptimeSeconds,
      /** Seconds waited for a quiet machine before the first phase, and whether it got quiet. */
      settle: atStart.settle,
      /** The same before each later phase (see measuredPhase). */
      phaseSettle: run.phaseSettle,
    },
    parameters: { ...run.P, levels: run.P.levels.join(',') },
    phaseSeconds: run.phaseSeconds,
    figures: run.figures.map(jsonSafe),
    cpuProfiles: run.profiles,
    errors: run.errors,
  };
}

/** The table, the CPU profiles' top self time, the failed phases, and where the results went. */
function printResults(results: ReturnType<typeof resultsOf>, out: string): void {
  process.stdout.write(
    `\nCairn bench — ${profile}${run.quick ? ' (quick)' : ''} — ${results.durationSeconds}s — load avg ${results.host.loadavgAtStart.join('/')} → ${results.host.loadavgAtEnd.join('/')}\n\n`,
  );
  process.stdout.write(`${renderTable(run.figures)}\n`);
  for (const p of run.profiles) {
    process.stdout.write(`\nCPU profile ${p.process}: ${p.totalMs} ms wall, ${p.idleMs} ms idle. Top self time:\n`);
    for (const a of p.areas.slice(0, 8)) process.stdout.write(`  ${a.pct.toFixed(1).padStart(5)}%  ${a.area}\n`);
    process.stdout.write('  functions:\n');
    for (const f of p.functions.slice(0, 12))
      process.stdout.write(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}  ${f.where}\n`);
  }
  for (const e of run.errors) process.stdout.write(`\nERROR in ${e.phase}: ${e.message.split('\n')[0]}\n`);
  process.stdout.write(`\nresults: ${out}\n`);
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
