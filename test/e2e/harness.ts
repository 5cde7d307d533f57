import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropNamespace, type Namespace, newNamespace } from '../support/namespace.js';

/**
 * Starts whole Cairn processes for the e2e suite: `node --import tsx src/main.ts`, one per role set,
 * each on a free port read from its "listening on" line. One cluster per test file and profile.
 */

export type Profile = 'embedded' | 'production';

export interface GatewayEndpoint {
  /** `http://127.0.0.1:<port>/graphql` */
  http: string;
  /** `ws://127.0.0.1:<port>/graphql` */
  ws: string;
  /** `http://127.0.0.1:<port>` (for /health and /metrics) */
  base: string;
}

export interface Cluster {
  profile: Profile;
  /** The gateways, in start order. Updated in place by `restart()` (ports change). */
  gateways: GatewayEndpoint[];
  /** Stops every process and starts them again on the same storage. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** The last lines each process wrote to stderr, for failure messages. */
  logs(): string;
  /** The Cairn environment of the processes (production: engines and the run's names). */
  env: Record<string, string>;
  /** Names of the processes: `embedded`, or `relay`, `projector`, `gateway-1`, …, and added ones. */
  names(): string[];
  /** SIGKILLs one process (no clean shutdown); resolves once it is gone. */
  kill(name: string): Promise<void>;
  /** Starts a process again after kill/stop (a gateway keeps its index in `gateways`, on a new port). */
  start(name: string): Promise<void>;
  /** Starts one more process with these roles and extra environment (e.g. a second projector). */
  add(name: string, roles: string, env?: Record<string, string>): Promise<void>;
  /** `http://127.0.0.1:<port>` of a running process (its /health and /metrics). */
  base(name: string): string;
  /** Everything a process wrote to stdout since it started (fault points announce themselves there). */
  stdout(name: string): string;
}

export interface ClusterOptions {
  profile: Profile;
  gateways?: 1 | 2;
  /** Extra environment for every process. */
  env?: Record<string, string>;
  /**
   * Start the gateways at the same time rather than one after the other (default false: the suite's
   * other tests should not depend on concurrent start-up, which `startup.e2e.test.ts` tests on its own).
   */
  parallelGatewayStart?: boolean;
  /** Engine endpoints (production); default: the ones the vitest global setup provides. */
  engines?: Record<string, string>;
}

const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const LISTENING = /listening on (http:\/\/[^\s]+)\/graphql/;
const STOP_GRACE_MS = 10_000;
const TAIL_BYTES = 8_000;

/** Settings that keep the suite fast and let it test the limits (API.md: STALE_READ, 413). */
export const TEST_SETTINGS = {
  CAIRN_MIN_SEQ_TIMEOUT_MS: 3_000,
  CAIRN_MAX_BODY_BYTES: 65_536,
} as const;

/** The profiles to run, from `CAIRN_E2E_PROFILES` (default `embedded,production`). */
export function e2eProfiles(): Profile[] {
  const raw = process.env.CAIRN_E2E_PROFILES ?? 'embedded,production';
  const list = raw
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  for (const p of list) {
    if (p !== 'embedded' && p !== 'production') throw new Error(`CAIRN_E2E_PROFILES: unknown profile "${p}"`);
  }
  return list as Profile[];
}

// Children still running when the test process exits are killed, so a crashed run leaves nothing behind.
// One set and one listener per process: vitest re-imports this module for every test file it runs in
// the same worker, and a listener per import would pile up (MaxListenersExceededWarning).
const RUNNING = Symbol.for('cairn.e2e.runningChildren');
const registry = globalThis as { [RUNNING]?: Set<ChildProcess> };
const running: Set<ChildProcess> =
  registry[RUNNING] ??
  (() => {
    const children = new Set<ChildProcess>();
    process.on('exit', () => {
      for (const child of children) child.kill('SIGKILL');
    });
    registry[RUNNING] = children;
    return children;
  })();

interface Proc {
  name: string;
  env: Record<string, string>;
  child: ChildProcess | null;
  stderr: string;
  stdout: string;
  url: string | null;
}

/** The inherited environment without anything that would configure Cairn or the test runner's loaders. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (
      /^(CAIRN_|DATABASE_|S3_|KAFKA_|ELASTICSEARCH_|RELAY_|PROJECTOR_|VITEST|NODE_OPTIONS$|PORT$|HOST$|LOG_LEVEL$)/.test(
        k,
      )
    ) {
      continue;
    }
    env[k] = v;
  }
  return env;
}

const tail = (s: string) => (s.length > TAIL_BYTES ? s.slice(-TAIL_BYTES) : s);

async function startProc(proc: Proc, timeoutMs: number): Promise<string> {
  proc.stderr = '';
  proc.stdout = '';
  proc.url = null;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...baseEnv(), ...proc.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.child = child;
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    proc.stderr = tail(proc.stderr + chunk);
  });
  child.stdout?.setEncoding('utf8');

  return new Promise<string>((resolvePromise, reject) => {
    let stdout = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`${proc.name}: ${why}\n--- stdout ---\n${tail(stdout)}\n--- stderr (tail) ---\n${proc.stderr}`));
    };
    const timer = setTimeout(() => {
      fail(`no "listening on" line within ${timeoutMs} ms`);
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', (code, signal) => fail(`exited (code ${code}, signal ${signal}) before listening`));
    child.once('error', (e) => fail(`could not start: ${e.message}`));
    child.stdout?.on('data', (chunk: string) => {
      stdout = tail(stdout + chunk);
      proc.stdout = tail(proc.stdout + chunk);
      const m = LISTENING.exec(stdout);
      if (m && proc.url === null) {
        proc.url = m[1]!;
        clearTimeout(timer);
        resolvePromise(m[1]!);
      }
    });
  });
}

async function stopProc(proc: Proc): Promise<void> {
  const child = proc.child;
  proc.child = null;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

const endpoint = (base: string): GatewayEndpoint => ({
  base,
  http: `${base}/graphql`,
  ws: `${base.replace(/^http/, 'ws')}/graphql`,
});

/** Starts a cluster of the given profile; call `stop()` in afterAll. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const common: Record<string, string> = {
    LOG_LEVEL: 'warn',
    CAIRN_MIN_SEQ_TIMEOUT_MS: String(TEST_SETTINGS.CAIRN_MIN_SEQ_TIMEOUT_MS),
    CAIRN_MAX_BODY_BYTES: String(TEST_SETTINGS.CAIRN_MAX_BODY_BYTES),
    HOST: '127.0.0.1',
    PORT: '0',
    ...options.env,
  };
  let dataDir: string | null = null;
  let namespace: Namespace | null = null;
  let workers: Proc[] = [];
  let gatewayProcs: Proc[] = [];
  let timeoutMs: number;

  if (options.profile === 'embedded') {
    dataDir = mkdtempSync(join(tmpdir(), 'cairn-e2e-'));
    gatewayProcs = [
      {
        name: 'embedded',
        env: { ...common, CAIRN_DATA_DIR: dataDir },
        child: null,
        stderr: '',
        stdout: '',
        url: null,
      },
    ];
    timeoutMs = 60_000;
  } else {
    // Imported here: vitest can only be loaded inside a test run, and the soak command is not one.
    const engines = options.engines ?? (await import('vitest')).inject('engines');
    namespace = newNamespace('e2e');
    const env: Record<string, string> = { ...common, ...engines, CAIRN_PROFILE: 'production', ...namespace };
    const proc = (name: string, roles: string): Proc => ({
      name,
      env: { ...env, CAIRN_ROLES: roles },
      child: null,
      stderr: '',
      stdout: '',
      url: null,
    });
    workers = [proc('relay', 'relay'), proc('projector', 'projector')];
    gatewayProcs = Array.from({ length: options.gateways ?? 1 }, (_, i) => proc(`gateway-${i + 1}`, 'gateway'));
    timeoutMs = 120_000;
  }

  const gateways: GatewayEndpoint[] = [];
  const all = () => [...workers, ...gatewayProcs];
  const named = (name: string): Proc => {
    const proc = all().find((p) => p.name === name);
    if (!proc) throw new Error(`no process ${name}; have ${all().map((p) => p.name)}`);
    return proc;
  };
  const processEnv = options.profile === 'embedded' ? gatewayProcs[0]!.env : { ...workers[0]!.env };
  delete processEnv.CAIRN_ROLES;

  async function start(): Promise<void> {
    try {
      // Workers one after the other (the first runs the migrations), then the gateways.
      for (const w of workers) await startProc(w, timeoutMs);
      const urls: string[] = [];
      if (options.parallelGatewayStart)
        urls.push(...(await Promise.all(gatewayProcs.map((g) => startProc(g, timeoutMs)))));
      else for (const g of gatewayProcs) urls.push(await startProc(g, timeoutMs));
      gateways.splice(0, gateways.length, ...urls.map(endpoint));
    } catch (e) {
      await Promise.allSettled(all().map(stopProc));
      throw e;
    }
  }

  async function stopAll(): Promise<void> {
    // Gateways first, so no request lands on a half-stopped cluster; then the workers.
    await Promise.allSettled(gatewayProcs.map(stopProc));
    await Promise.allSettled(workers.map(stopProc));
  }

  await start().catch((e: unknown) => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  });

  return {
    profile: options.profile,
    gateways,
    async restart() {
      await stopAll();
      await start();
    },
    async stop() {
      await stopAll();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      if (namespace) await dropNamespace(processEnv, namespace);
    },
    logs: () =>
      all()
        .map((p) => `--- ${p.name} stderr (tail) ---\n${p.stderr}`)
        .join('\n'),
    env: processEnv,
    names: () => all().map((p) => p.name),
    async kill(name) {
      const child = named(name).child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    },
    async start(name) {
      const proc = named(name);
      const url = await startProc(proc, timeoutMs);
      const index = gatewayProcs.indexOf(proc);
      if (index >= 0) gateways[index] = endpoint(url);
    },
    async add(name, roles, env = {}) {
      const proc: Proc = {
        name,
        env: { ...processEnv, ...env, CAIRN_ROLES: roles },
        child: null,
        stderr: '',
        stdout: '',
        url: null,
      };
      workers.push(proc);
      await startProc(proc, timeoutMs);
    },
    base(name) {
      const url = named(name).url;
      if (!url) throw new Error(`${name} is not running`);
      return url;
    },
    stdout: (name) => named(name).stdout,
  };
}

/**
 * Deletes a production cluster's Elasticsearch indexes: each cluster makes three, and a node holds
 * at most 1,000 shards, so runs that left theirs behind would eventually stop creating any.
 */
