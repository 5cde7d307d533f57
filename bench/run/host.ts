import { loadavg } from 'node:os';
import { engineUptimes, waitForQuietMachine } from '../procstat.js';
import type { BenchRun } from './context.js';

/** The JVM engines, and how long after a start their JIT compilers still take a share of the CPU. */
const JIT_ENGINES = new Set(['elasticsearch', 'kafka']);
const JIT_WARM_SECONDS = 600;

/** The machine before the first phase, for the results' `host`. */
export interface HostAtStart {
  loadavgAtStart: number[];
  engineUptimeSeconds: Record<string, number>;
  settle: { waitedSeconds: number; quiet: boolean };
}

/** Warns of engines started too recently, then waits for a quiet machine to start from. */
export async function hostAtStart(run: BenchRun): Promise<HostAtStart> {
  const load0 = loadavg();
  const uptimes = run.profile === 'production' ? engineUptimes() : {};
  const justStarted = Object.entries(uptimes).filter(([e, s]) => JIT_ENGINES.has(e) && s < JIT_WARM_SECONDS);
  for (const [engine, seconds] of justStarted)
    run.log(
      `warning: ${engine} started ${seconds} s ago; its JIT compiler works for about ${JIT_WARM_SECONDS / 60} minutes after a start, ` +
        "so its CPU figures run high and Cairn's rates low in this run (wait, or warm it with a --quick run first)",
    );
  // A quiet machine to start from (see waitForQuietMachine): at most 2 minutes, 30 s with --quick.
  const settle = await waitForQuietMachine({ maxMs: run.quick ? 30_000 : 120_000 });
  if (!settle.quiet)
    run.log(
      `warning: the machine was still busy after ${settle.waitedSeconds} s (engines' background work?); the run starts anyway`,
    );
  else if (settle.waitedSeconds > 3) run.log(`waited ${settle.waitedSeconds} s for the machine to be quiet`);
  return { loadavgAtStart: load0, engineUptimeSeconds: uptimes, settle };
}
