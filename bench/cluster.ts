import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Namespace, newNamespace } from '../test/support/namespace.js';
import { getText, metricValue } from './http.js';

/**
 * Cairn processes for the bench: `node --import tsx src/main.ts` (or the CLI), spawned directly so the
 * child's pid is the Node process whose /proc status we read. Every run gets a fresh namespace.
 */

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const LISTENING = /listening on (http:\/\/[^\s]+)\/graphql/;
const TAIL = 16_000;

export type Profile = 'embedded' | 'production';

/** The endpoints the production profile cannot run without. */
const ENGINE_ENDPOINTS = ['DATABASE_URL', 'S3_ENDPOINT', 'KAFKA_BROKERS', 'ELASTICSEARCH_URL'] as const;

/**
 * Why the production profile cannot run with these endpoints, or null: every engine needs an
 * endpoint (without one, each phase would fail on its own, and the S3 client would try AWS).
 */
export function missingEngines(env: Record<string, string>): string | null {
  const missing = ENGINE_ENDPOINTS.filter((k) => !env[k]);
  if (missing.length === 0) return null;
  return `the production profile needs the engines' endpoints, and ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set: run \`npm run infra:up\` first (it starts them and writes ${join(REPO_ROOT, '.infra', 'env')}), set them in the environment, or run \`--profile embedded\``;
}

/** The engines' endpoints: `.infra/env`, overridden by the environment. */
export function engineEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  const file = join(REPO_ROOT, '.infra', 'env');
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
      if (m) out[m[1]!] = m[2]!;
    }
  }
  for (const k of [
    'DATABASE_URL',
    'S3_ENDPOINT',
    'S3_REGION',
    'S3_ACCESS_KEY_ID',
    'S3_SECRET_ACCESS_KEY',
    'S3_FORCE_PATH_STYLE',
    'S3_BUCKET',
    'S3_CLIENT',
    'KAFKA_BROKERS',
    'ELASTICSEARCH_URL',
  ]) {
    const v = process.env[k];
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
}

/** Fresh names for one run: nothing is shared with another run, test or user. */
export const namespace = (): Namespace => newNamespace('bench');

/** `--env NAME=value` options (repeatable) as settings of the Cairn processes under test, e.g. PROJECTOR_CONCURRENCY. */
export function settingsOf(pairs: string[] | undefined): Record<string, string> {
  const split = (pairs ?? []).map((e) => e.split(/=(.*)/s).slice(0, 2) as [string, string]);
  const bad = split.find(([name, value]) => !name || value === undefined);
  if (bad) throw new Error(`--env wants NAME=value, got ${bad.join('')}`);
  return Object.fromEntries(split);
}

/** The inherited environment minus anything that configures Cairn. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(CAIRN_|DATABASE_|S3_|KAFKA_|ELASTICSEARCH_|RELAY_|PROJECTOR_|NODE_OPTIONS$|PORT$|HOST$|LOG_LEVEL$)/.test(k))
      continue;
    env[k] = v;
  }
  return env;
}

/**
 * The node options of the npm script that starts these roles (`start:gateway`, …; `start` for
 * several roles in one process), so a process of the bench runs as the script would run it.
 */
export function startScriptNodeFlags(roles: string | undefined): string[] {
  const name = roles && !roles.includes(',') ? `start:${roles}` : 'start';
  const scripts = (
    JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  const command = scripts[name] ?? '';
  const node = command.match(/(?:^|\s)node\s+(.*?)\s*--import\s+tsx\b/);
  return node?.[1] ? node[1].split(/\s+/).filter((flag) => flag.startsWith('--')) : [];
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const tail = (s: string) => (s.length > TAIL ? s.slice(-TAIL) : s);

/** VmHWM / VmRSS of a live process, in bytes (null once it has gone). */
export function procMemory(pid: number): { hwm: number; rss: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return null;
  }
}

export class CairnProcess {
  child: ChildProcess | null = null;
  stderr = '';
  stdout = '';
  /** `http://127.0.0.1:<port>` */
  base = '';
  /** Peak RSS seen (VmHWM), kept after the process exits. */
  peakRss = 0;
  startedMs = 0;
  private watcher: NodeJS.Timeout | null = null;

  constructor(
    readonly name: string,
    readonly env: Record<string, string>,
    readonly nodeArgs: string[] = [],
  ) {}

  get pid(): number {
    return this.child?.pid ?? -1;
  }
  get graphql(): string {
    return `${this.base}/graphql`;
  }
  get ws(): string {
    return `${this.base.replace(/^http/, 'ws')}/graphql`;
  }

  /** Spawns the process and resolves once it printed its "listening on" line. */
  start(timeoutMs = 120_000): Promise<void> {
    this.stderr = '';
    this.stdout = '';
    this.base = '';
    const started = performance.now();
    const flags = startScriptNodeFlags(this.env.CAIRN_ROLES);
    const child = spawn(process.execPath, [...flags, ...this.nodeArgs, '--import', 'tsx', 'src/main.ts'], {
      cwd: REPO_ROOT,
      env: { ...baseEnv(), ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    running.add(child);
    this.watchMemory();
    child.once('exit', () => {
      running.delete(child);
      this.stopWatching();
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => {
      this.stderr = tail(this.stderr + c);
    });
    child.stdout?.setEncoding('utf8');
    return new Promise((resolvePromise, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        reject(new Error(`${this.name}: ${why}\n--- stderr (tail) ---\n${this.stderr.slice(-3000)}`));
      };
      const timer = setTimeout(() => {
        fail(`no "listening on" line within ${timeoutMs} ms`);
        child.kill('SIGKILL');
      }, timeoutMs);
      child.once('exit', (code, signal) => {
        if (!this.base) fail(`exited (code ${code}, signal ${signal}) before listening`);
      });
      child.stdout?.on('data', (c: string) => {
        this.stdout = tail(this.stdout + c);
        const m = LISTENING.exec(this.stdout);
        if (m && !this.base) {
          this.base = m[1]!;
          this.startedMs = performance.now() - started;
          clearTimeout(timer);
          resolvePromise();
        }
      });
    });
  }

  private watchMemory(): void {
    this.stopWatching();
    this.watcher = setInterval(() => this.sampleMemory(), 500);
    this.watcher.unref();
  }
  private stopWatching(): void {
    if (this.watcher) clearInterval(this.watcher);
    this.watcher = null;
  }

  /** Current RSS (bytes), updating the peak. */
  sampleMemory(): number {
    const m = this.child?.pid ? procMemory(this.child.pid) : null;
    if (!m) return Number.NaN;
    if (Number.isFinite(m.hwm)) this.peakRss = Math.max(this.peakRss, m.hwm);
    return m.rss;
  }

  async metrics(): Promise<string> {
    return getText(`${this.base}/metrics`);
  }

  /** One metric's value (the sum of its series), fetched alone: polling it costs the process little. */
  async metric(name: string): Promise<number> {
    return metricValue(await getText(`${this.base}/metrics?name=${encodeURIComponent(name)}`), name) ?? 0;
  }

  /** SIGTERM, then SIGKILL after a grace period. Resolves when the process has exited. */
  async stop(graceMs = 20_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.sampleMemory();
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  peakRss: number;
}

/** Runs `src/cli/main.ts <args>` to completion, sampling its peak RSS (`nodeArgs`: e.g. `--cpu-prof`). */
export function runCli(
  args: string[],
  env: Record<string, string>,
  nodeArgs: string[] = [],
  timeoutMs = 600_000,
): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...baseEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    let peakRss = 0;
    const sample = () => {
      const m = child.pid ? procMemory(child.pid) : null;
      if (m && Number.isFinite(m.hwm)) peakRss = Math.max(peakRss, m.hwm);
    };
    const watcher = setInterval(sample, 200);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (c: string) => {
      stdout += c;
    });
    child.stderr?.on('data', (c: string) => {
      stderr = tail(stderr + c);
      sample();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      running.delete(child);
      clearInterval(watcher);
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, wallMs: performance.now() - started, peakRss });
    });
  });
}

/** Polls `read` every `everyMs` until it returns true or the deadline passes; returns whether it did. */
export async function pollUntil(read: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await read()) return true;
    } catch {
      /* not ready yet */
    }
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
