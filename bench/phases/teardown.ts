import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { dropNamespace } from '../../test/support/namespace.js';
import { REPO_ROOT } from '../cluster.js';
import { newestProfile, summarizeProfile } from '../cpuprofile.js';
import type { BenchRun } from '../run/context.js';

export async function stopAll(run: BenchRun): Promise<void> {
  const { procs, peakRss } = run;
  run.client?.close();
  for (const p of procs) p.sampleMemory();
  // Gateway first, then relay, then projector.
  for (const p of procs) {
    await p.stop();
    if (p.peakRss > 0)
      peakRss[run.profile === 'embedded' && peakRss['embedded (1st run)'] ? 'embedded (2nd run)' : p.name] = p.peakRss;
  }
  if (run.args['cpu-prof']) {
    for (const p of procs) {
      const file = newestProfile(join(run.profDir, p.name));
      if (file) run.profiles.push({ process: p.name, ...summarizeProfile(file, REPO_ROOT) });
    }
    const cli = newestProfile(join(run.profDir, 'cli-rebuild'));
    if (cli) run.profiles.push({ process: 'cli rebuild', ...summarizeProfile(cli, REPO_ROOT) });
  }
}

export async function cleanup(run: BenchRun): Promise<void> {
  if (run.args.keep) {
    run.log(`  kept: ${run.profile === 'production' ? JSON.stringify(run.ns) : run.dataDir}`);
    return;
  }
  if (run.profile === 'embedded') {
    rmSync(run.dataDir, { recursive: true, force: true });
    return;
  }
  await dropNamespace(run.engines, run.ns);
}
