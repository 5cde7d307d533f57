import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConsistencyReport } from '../../src/app/consistency.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Adapters } from '../../src/runtime/adapters.js';
import { createProductionAdapters } from '../../src/runtime/production.js';
import type { Cluster } from '../e2e/harness.js';

/** Helpers of the fault suite: the operator CLI as oracle, metrics, PostgreSQL reads of the registry. */

const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

/** Runs `src/cli/main.ts <args>` with the cluster's environment; resolves with exit code and stdout. */
export function runCli(cluster: Cluster, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...cluster.env, CAIRN_PROFILE: 'production', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.once('error', fail);
    child.once('exit', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

/** The cluster's production adapters, opened in the test process (e.g. to alter the store as an operator could). */
export async function openEventStore(cluster: Cluster): Promise<Pick<Adapters, 'eventStore' | 'close'>> {
  const config = loadConfig({ ...process.env, ...cluster.env, CAIRN_PROFILE: 'production' });
  return createProductionAdapters(config, createLogger('warn'));
}

/** The consistency check (event store vs read model, seq + content hash per aggregate). */
export async function consistency(cluster: Cluster, repair = false): Promise<ConsistencyReport> {
  const { stdout, stderr } = await runCli(cluster, ['check', ...(repair ? ['--repair'] : [])]);
  try {
    return JSON.parse(stdout) as ConsistencyReport;
  } catch {
    throw new Error(`check printed no report:\n${stdout}\n${stderr}`);
  }
}

/**
 * A projector counter once it stopped moving (two reads 300 ms apart agree). The read model shows an
 * event a moment before the projector marks it done and counts it, so a count taken as soon as the
 * read model is settled could still grow by the last batch.
 */
export async function settledMetric(base: string, name: string): Promise<number> {
  let last = await metric(base, name);
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await metric(base, name);
    if (now === last) return now;
    last = now;
  }
}

/** Sum of every sample of a Prometheus metric (all label sets) at `base`/metrics. */
export async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** The /health answer of a process. */
export async function health(
  base: string,
): Promise<{ status: string; httpStatus: number; dependencies: Record<string, { status: string }> }> {
  const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(15_000) });
  const body = (await res.json()) as { status: string; dependencies: Record<string, { status: string }> };
  return { ...body, httpStatus: res.status };
}

/** Waits until a process printed `FAULT <stage> <id>` (it is then stopped at that fault point). */
export async function faultReached(cluster: Cluster, name: string, stage: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cluster.stdout(name).includes(`FAULT ${stage} `)) {
    if (Date.now() > deadline) throw new Error(`${name} never reached fault point ${stage}\n${cluster.logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Fast settings so that dead owners are detected within seconds (the defaults are tuned for production). */
export const FAST_FAILOVER = {
  PROJECTOR_LEASE_MS: '3000',
  PROJECTOR_HEARTBEAT_MS: '500',
  KAFKA_SESSION_TIMEOUT_MS: '6000',
  PROJECTOR_MAX_ATTEMPTS: '3',
} as const;
