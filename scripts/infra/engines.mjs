// Local engine provisioning for Cairn (no Docker needed).
//
// Obtains once (into ${CAIRN_CACHE_DIR:-~/.cache/cairn}), starts detached on 127.0.0.1 and waits for:
//   - PostgreSQL 15        (Debian binaries; apt-get installs them when missing and we are root)
//   - MinIO                (go install github.com/minio/minio@<version> into <cache>/bin)
//   - Apache Kafka 3.9.x   (KRaft single node; jars from Maven Central via mvn, ~/.m2 is the cache)
//   - Elasticsearch 7.10.2 (org.codelibs:elasticsearch-cluster-runner from Maven Central + es/CairnEs.java)
//
// Engines already answering on their port are reused. Everything is idempotent; concurrent callers
// are serialised with a lock in the run dir.
//
// Programmatic use (e.g. vitest globalSetup):
//   import { ensureEngines } from '../scripts/infra/engines.mjs';
//   export default async function setup() { Object.assign(process.env, await ensureEngines({ log: console.log })); }
//
// Ports (env overrides): CAIRN_PG_PORT=55432 CAIRN_MINIO_PORT=59000 CAIRN_MINIO_CONSOLE_PORT=59001
//   CAIRN_KAFKA_PORT=59092 CAIRN_KAFKA_CONTROLLER_PORT=59093 CAIRN_ES_PORT=59200 CAIRN_ES_TRANSPORT_PORT=59300
//   CAIRN_INFRA_RUN_DIR=~/.cache/cairn/run (data and pid files of the running engines)
// Versions: CAIRN_MINIO_VERSION, CAIRN_KAFKA_VERSION (3.9.2), CAIRN_ES_RUNNER_VERSION (7.10.2.0)
// Other: CAIRN_CACHE_DIR, CAIRN_PG_BIN (dir with initdb/postgres), CAIRN_PG_OS_USER (when root; cairn-pg),
//   CAIRN_JAVA (java binary), CAIRN_KAFKA_HEAP (512m), CAIRN_ES_HEAP (1g), CAIRN_INFRA_READY_TIMEOUT_S.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');
export const ENV_FILE = path.join(REPO_ROOT, '.infra', 'env');

const HOST = '127.0.0.1';

// MinIO's GitHub tags (RELEASE.2025-10-15T17-29-55Z, ...) are not semver, so the Go proxy only serves
// pseudo-versions. This is the final commit of github.com/minio/minio master (2026-02-12, after the last
// community release RELEASE.2025-10-15T17-29-55Z; the repository is archived since).
const DEFAULT_MINIO_VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';
const DEFAULT_KAFKA_VERSION = '3.9.2';
const DEFAULT_ES_RUNNER_VERSION = '7.10.2.0';
const LOG4J2_VERSION = '2.17.2'; // ES 7.10.2 ships log4j 2.11.1 (Log4Shell); pin a fixed release
const MVN_DEP_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1';

export const ENGINE_NAMES = ['pg', 'minio', 'kafka', 'es'];
const ALIASES = { postgres: 'pg', postgresql: 'pg', s3: 'minio', elasticsearch: 'es', elastic: 'es' };

// ---------------------------------------------------------------------------------------------
// configuration

export function infraConfig(env = process.env) {
  const port = (name, def) => {
    const v = env[name];
    if (v == null || v === '') return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name} must be a TCP port, got "${v}"`);
    return n;
  };
  const cacheDir = path.resolve(env.CAIRN_CACHE_DIR || path.join(os.homedir(), '.cache', 'cairn'));
  // A second set of engines (other ports, e.g. for fault experiments) needs its own run dir.
  const runDir = path.resolve(env.CAIRN_INFRA_RUN_DIR || path.join(cacheDir, 'run'));
  return {
    host: HOST,
    cacheDir,
    runDir,
    readyTimeoutS: Number(env.CAIRN_INFRA_READY_TIMEOUT_S) || 0,
    pg: {
      port: port('CAIRN_PG_PORT', 55432),
      user: 'cairn',
      password: 'cairn',
      db: 'cairn',
      major: 15,
      osUser: env.CAIRN_PG_OS_USER || 'cairn-pg',
      binOverride: env.CAIRN_PG_BIN || '',
    },
    minio: {
      port: port('CAIRN_MINIO_PORT', 59000),
      consolePort: port('CAIRN_MINIO_CONSOLE_PORT', 59001),
      version: env.CAIRN_MINIO_VERSION || DEFAULT_MINIO_VERSION,
      user: 'cairn',
      password: 'cairnsecret',
    },
    kafka: {
      port: port('CAIRN_KAFKA_PORT', 59092),
      controllerPort: port('CAIRN_KAFKA_CONTROLLER_PORT', 59093),
      version: env.CAIRN_KAFKA_VERSION || DEFAULT_KAFKA_VERSION,
      heap: env.CAIRN_KAFKA_HEAP || '512m',
    },
    es: {
      port: port('CAIRN_ES_PORT', 59200),
      transportPort: port('CAIRN_ES_TRANSPORT_PORT', 59300),
      runnerVersion: env.CAIRN_ES_RUNNER_VERSION || DEFAULT_ES_RUNNER_VERSION,
      heap: env.CAIRN_ES_HEAP || '1g',
    },
  };
}

export function infraEnv(cfg = infraConfig()) {
  return {
    DATABASE_URL: `postgres://${cfg.pg.user}:${cfg.pg.password}@${HOST}:${cfg.pg.port}/${cfg.pg.db}`,
    S3_ENDPOINT: `http://${HOST}:${cfg.minio.port}`,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: cfg.minio.user,
    S3_SECRET_ACCESS_KEY: cfg.minio.password,
    S3_FORCE_PATH_STYLE: 'true',
    KAFKA_BROKERS: `${HOST}:${cfg.kafka.port}`,
    ELASTICSEARCH_URL: `http://${HOST}:${cfg.es.port}`,
  };
}

export function formatEnv(env) {
  return `${Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

export function writeEnvFile(env, file = ENV_FILE) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, formatEnv(env));
  return file;
}

function selectEngines(only) {
  if (!only || only.length === 0) return [...ENGINE_NAMES];
  const out = [];
  for (const raw of only) {
    const n = ALIASES[String(raw).toLowerCase()] || String(raw).toLowerCase();
    if (!ENGINE_NAMES.includes(n)) throw new Error(`unknown engine "${raw}" (known: ${ENGINE_NAMES.join(', ')})`);
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// small utilities

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const secs = (ms) => `${(ms / 1000).toFixed(1)}s`;
const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function which(cmd) {
  if (cmd.includes('/')) return isExecutable(cmd) ? cmd : null;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    if (isExecutable(p)) return p;
  }
  return null;
}

function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function exists(p) {
  return fs.existsSync(p);
}

function readText(p) {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

function tailFile(file, lines = 40) {
  const text = readText(file);
  if (text == null) return `(no log at ${file})`;
  const all = text.split('\n');
  return all.slice(Math.max(0, all.length - lines - 1)).join('\n');
}

function pidAlive(pid) {
  if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (e.code !== 'EPERM') return false;
  }
  // a zombie is not alive for our purposes
  const stat = readText(`/proc/${pid}/stat`);
  if (stat && /^\d+ \(.*\) Z /.test(stat)) return false;
  return true;
}

function pidCmdline(pid) {
  const raw = readText(`/proc/${pid}/cmdline`);
  return raw == null ? null : raw.split('\0').join(' ');
}

/** pid from a pid file if that process is alive and (where /proc exists) its command line contains marker */
function livePidFromFile(file, marker) {
  const txt = readText(file);
  if (!txt) return null;
  const pid = Number.parseInt(txt.trim().split('\n')[0], 10);
  if (!pidAlive(pid)) return null;
  const cmd = pidCmdline(pid);
  if (cmd != null && marker && !cmd.includes(marker)) return null;
  return pid;
}

function tcpOpen(port, host = HOST, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (v) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** open a log file for a child (append), rotating when big; returns fd */
function openLog(file, title) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  try {
    if (fs.statSync(file).size > 20 * 1024 * 1024) fs.renameSync(file, `${file}.old`);
  } catch {}
  const fd = fs.openSync(file, 'a');
  fs.writeSync(fd, `\n===== ${new Date().toISOString()} cairn infra: starting ${title} =====\n`);
  return fd;
}

/** run a command to completion, output appended to logFile; rejects with the log tail on failure */
function runLogged(cmd, args, { env, cwd, logFile, timeoutMs = 30 * 60 * 1000, uid, gid } = {}) {
  return new Promise((resolve, reject) => {
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const fd = fs.openSync(logFile, 'a');
    fs.writeSync(fd, `\n===== ${new Date().toISOString()} $ ${cmd} ${args.join(' ')}\n`);
    let child;
    try {
      child = spawn(cmd, args, { env, cwd, stdio: ['ignore', fd, fd], uid, gid });
    } catch (e) {
      fs.closeSync(fd);
      reject(e);
      return;
    }
    fs.closeSync(fd);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${path.basename(cmd)} ${args.slice(0, 3).join(' ')} … failed (${signal || `exit ${code}`}); log ${logFile}:\n${tailFile(logFile, 30)}`,
          ),
        );
    });
  });
}

class MissingPrereq extends Error {}

function requireCmd(cmd, what, install) {
  const p = which(cmd);
  if (!p) throw new MissingPrereq(`'${cmd}' not found on PATH: ${what} is required. Install it: ${install}`);
  return p;
}

function javaBin() {
  const cands = [
    process.env.CAIRN_JAVA,
    process.env.JAVA_HOME && path.join(process.env.JAVA_HOME, 'bin', 'java'),
    'java',
  ];
  for (const c of cands) {
    if (!c) continue;
    const p = which(c);
    if (p) return p;
  }
  throw new MissingPrereq(
    "'java' not found: a Java 11+ runtime (17 recommended) is required for Kafka and Elasticsearch. Install it: apt-get install -y openjdk-17-jdk-headless",
  );
}

function javaMajor(java) {
  const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}${r.stdout}`);
  if (!m) return 0;
  const a = Number(m[1]);
  return a === 1 ? Number(m[2]) : a;
}

function javacBin(java) {
  const cands = [
    path.join(path.dirname(fs.realpathSync(java)), 'javac'),
    process.env.JAVA_HOME && path.join(process.env.JAVA_HOME, 'bin', 'javac'),
    'javac',
  ];
  for (const c of cands) {
    if (!c) continue;
    const p = which(c);
    if (p) return p;
  }
  throw new MissingPrereq(
    "'javac' not found: a JDK (not just a JRE) is needed once to compile the Elasticsearch launcher. Install it: apt-get install -y openjdk-17-jdk-headless",
  );
}

function childEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  delete env.CLASSPATH;
  delete env.NODE_OPTIONS;
  return env;
}

// ---------------------------------------------------------------------------------------------
// lock (serialises concurrent ensureEngines/stopEngines calls on one cache dir)

async function withLock(runDir, log, fn) {
  fs.mkdirSync(runDir, { recursive: true });
  const lockDir = path.join(runDir, '.lock');
  const owner = path.join(lockDir, 'owner');
  const deadline = Date.now() + 45 * 60 * 1000;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(owner, `${process.pid}\n`);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const pid = Number.parseInt(readText(owner) || '', 10);
      let age = 0;
      try {
        age = Date.now() - fs.statSync(lockDir).mtimeMs;
      } catch {}
      if ((!pid && age > 10_000) || (pid && !pidAlive(pid))) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockDir} (held by pid ${pid})`);
      if (!announced) {
        log(`waiting for another infra run (pid ${pid || '?'}) to finish…`);
        announced = true;
      }
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// protocol probes: each resolves to 'ready' | 'starting' | 'closed' | 'other'

/** PostgreSQL: SSLRequest, then a StartupMessage; any auth request / non-startup error means "accepting" */
function probePg(port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    let buf = Buffer.alloc(0);
    let stage = 0;
    let settled = false;
    const finish = (r) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () => finish(stage === 0 ? 'other' : 'starting'));
    sock.once('error', (e) => finish(e.code === 'ECONNREFUSED' ? 'closed' : stage === 0 ? 'other' : 'starting'));
    sock.once('connect', () => {
      const b = Buffer.alloc(8);
      b.writeInt32BE(8, 0);
      b.writeInt32BE(80877103, 4);
      sock.write(b);
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0) {
        const c = buf[0];
        if (c === 0x53 /* S */) return finish('ready'); // wants TLS: it is a live postgres
        if (c !== 0x4e /* N */) return finish('other');
        stage = 1;
        buf = buf.subarray(1);
        const params = Buffer.from('user\0cairn\0database\0postgres\0\0', 'latin1');
        const m = Buffer.alloc(8 + params.length);
        m.writeInt32BE(m.length, 0);
        m.writeInt32BE(196608, 4);
        params.copy(m, 8);
        sock.write(m);
        return;
      }
      if (buf.length < 5) return;
      const type = buf[0];
      if (type === 0x52 /* R */) return finish('ready');
      if (type === 0x45 /* E */) {
        const len = buf.readInt32BE(1);
        if (buf.length < 1 + len) return;
        const fields = buf
          .subarray(5, 1 + len)
          .toString('utf8')
          .split('\0');
        const code = (fields.find((f) => f.startsWith('C')) || '').slice(1);
        // 57P03 cannot_connect_now (starting up / shutting down / recovery)
        return finish(code === '57P03' ? 'starting' : 'ready');
      }
      finish('other');
    });
  });
}

/** Kafka: Metadata v0 request; ready when at least one broker is registered */
function probeKafka(port, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (r) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve(r);
    };
    // a live broker answers within milliseconds; silence or a hang-up means "not Kafka" (e.g. an HTTP server)
    sock.setTimeout(timeoutMs, () => finish('other'));
    sock.once('error', (e) => finish(e.code === 'ECONNREFUSED' ? 'closed' : 'other'));
    sock.once('close', () => finish('other'));
    sock.once('connect', () => {
      const clientId = Buffer.from('cairn-infra-probe');
      const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4);
      let o = 0;
      o = body.writeInt16BE(3, o); // api key: Metadata
      o = body.writeInt16BE(0, o); // version 0
      o = body.writeInt32BE(0x0ca1, o); // correlation id
      o = body.writeInt16BE(clientId.length, o);
      o += clientId.copy(body, o);
      body.writeInt32BE(0, o); // topics: [] (= all)
      const size = Buffer.alloc(4);
      size.writeInt32BE(body.length, 0);
      sock.write(Buffer.concat([size, body]));
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 12) return;
      const size = buf.readInt32BE(0);
      if (size < 8 || size > 64 * 1024 * 1024) return finish('other');
      if (buf.readInt32BE(4) !== 0x0ca1) return finish('other');
      finish(buf.readInt32BE(8) > 0 ? 'ready' : 'starting');
    });
  });
}

async function httpGet(url, timeoutMs = 3000) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text };
  } catch (e) {
    const code = e?.cause?.code || e?.code;
    return { error: code || e.name || String(e) };
  }
}

async function probeMinio(port) {
  const r = await httpGet(`http://${HOST}:${port}/minio/health/live`);
  if (r.error) return r.error === 'ECONNREFUSED' ? 'closed' : 'starting';
  const server = r.headers.get('server') || '';
  if (r.status === 200 && /minio/i.test(server)) {
    const ready = await httpGet(`http://${HOST}:${port}/minio/health/ready`);
    return ready.status === 200 ? 'ready' : 'starting';
  }
  return /minio/i.test(server) ? 'starting' : 'other';
}

async function probeEs(port) {
  const r = await httpGet(`http://${HOST}:${port}/`);
  if (r.error) return r.error === 'ECONNREFUSED' ? 'closed' : 'starting';
  let info;
  try {
    info = JSON.parse(r.text);
  } catch {
    return 'other';
  }
  if (r.status !== 200) return info?.status === 503 || info?.error ? 'starting' : 'other';
  if (!info?.version?.number) return 'other';
  const h = await httpGet(`http://${HOST}:${port}/_cluster/health?wait_for_status=yellow&timeout=2s`, 5000);
  if (h.status !== 200) return 'starting';
  try {
    return JSON.parse(h.text).status === 'red' ? 'starting' : 'ready';
  } catch {
    return 'starting';
  }
}

// ---------------------------------------------------------------------------------------------
// generic start / wait

function spawnDetached(cmd, args, { env, cwd, logFile, title, uid, gid }) {
  const fd = openLog(logFile, title);
  let child;
  try {
    child = spawn(cmd, args, { env, cwd, detached: true, stdio: ['ignore', fd, fd], uid, gid });
  } finally {
    fs.closeSync(fd);
  }
  const state = { exited: false, code: null, signal: null, error: null };
  child.once('error', (e) => {
    state.exited = true;
    state.error = e;
  });
  child.once('exit', (code, signal) => {
    state.exited = true;
    state.code = code;
    state.signal = signal;
  });
  child.unref();
  return { pid: child.pid, state };
}

async function waitReady({ title, probe, timeoutS, logFile, proc, pid }) {
  const start = Date.now();
  const deadline = start + timeoutS * 1000;
  let last = 'closed';
  while (Date.now() < deadline) {
    last = await probe();
    if (last === 'ready') return Date.now() - start;
    if (proc?.state.exited) {
      const why = proc.state.error ? proc.state.error.message : proc.state.signal || `exit code ${proc.state.code}`;
      throw new Error(`${title} exited during startup (${why}); log ${logFile}:\n${tailFile(logFile)}`);
    }
    if (!proc && pid && !pidAlive(pid)) {
      throw new Error(`${title} (pid ${pid}) died during startup; log ${logFile}:\n${tailFile(logFile)}`);
    }
    await sleep(last === 'closed' ? 300 : 500);
  }
  throw new Error(`${title} not ready after ${timeoutS}s (last probe: ${last}); log ${logFile}:\n${tailFile(logFile)}`);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

function pgVersionOf(binDir) {
  const r = spawnSync(path.join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' });
  const m = /\(PostgreSQL\) (\d+)/.exec(r.stdout || '');
  return m ? Number(m[1]) : 0;
}

function findPgBin(cfg) {
  const cands = [];
  if (cfg.pg.binOverride) cands.push(cfg.pg.binOverride);
  cands.push(`/usr/lib/postgresql/${cfg.pg.major}/bin`);
  const pgConfig = which('pg_config');
  if (pgConfig) {
    const r = spawnSync(pgConfig, ['--bindir'], { encoding: 'utf8' });
    if (r.status === 0) cands.push(r.stdout.trim());
  }
  for (const d of cands) {
    if (
      isExecutable(path.join(d, 'postgres')) &&
      isExecutable(path.join(d, 'initdb')) &&
      pgVersionOf(d) === cfg.pg.major
    )
      return d;
  }
  return null;
}

async function installPg(cfg, log, cacheLogs) {
  const hint = `apt-get update && apt-get install -y postgresql-${cfg.pg.major} (or set CAIRN_PG_BIN to a PostgreSQL ${cfg.pg.major} bin dir)`;
  if (!isRoot() || !which('apt-get')) {
    throw new MissingPrereq(`PostgreSQL ${cfg.pg.major} server binaries not found. Install them: ${hint}`);
  }
  log(`PostgreSQL ${cfg.pg.major} binaries missing; installing with apt-get (root)…`);
  const logFile = path.join(cacheLogs, 'apt-postgresql.log');
  const env = childEnv({ DEBIAN_FRONTEND: 'noninteractive' });
  const apt = ['-y', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold'];
  await runLogged('apt-get', ['update'], { env, logFile });
  // Like the official postgres image: don't let Debian create+start a default cluster on :5432
  await runLogged('apt-get', ['install', ...apt, '--no-install-recommends', 'postgresql-common'], { env, logFile });
  const cc = '/etc/postgresql-common/createcluster.conf';
  const txt = readText(cc);
  if (txt != null && !/^\s*create_main_cluster\s*=\s*false/m.test(txt)) {
    fs.writeFileSync(cc, txt.replace(/^#?\s*create_main_cluster\s*=.*$/m, 'create_main_cluster = false'));
  }
  try {
    await runLogged('apt-get', ['install', ...apt, '--no-install-recommends', `postgresql-${cfg.pg.major}`], {
      env,
      logFile,
    });
  } catch (e) {
    throw new MissingPrereq(
      `apt-get could not install postgresql-${cfg.pg.major}: ${e.message}\nInstall it manually: ${hint}`,
    );
  }
  const bin = findPgBin(cfg);
  if (!bin) throw new MissingPrereq(`PostgreSQL ${cfg.pg.major} still not found after apt-get. ${hint}`);
  return bin;
}

function idOf(user) {
  const u = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0) return null;
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** postgres refuses to run as root: when we are root, run it as an unprivileged system user */
function pgRunAs(cfg, log) {
  if (!isRoot()) return {};
  let ids = idOf(cfg.pg.osUser);
  if (!ids) {
    const useradd = which('useradd') || '/usr/sbin/useradd';
    const r = spawnSync(
      useradd,
      [
        '--system',
        '--user-group',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        cfg.pg.osUser,
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`useradd ${cfg.pg.osUser} failed: ${r.stderr || r.error}`);
    log(`created system user '${cfg.pg.osUser}' (postgres cannot run as root)`);
    ids = idOf(cfg.pg.osUser);
  }
  return ids;
}

/** make every ancestor of dir searchable by uid (e.g. /root is 0700): ACL if possible, else o+x */
function ensureTraversable(dir, ids, log) {
  const chain = [];
  for (let d = dir; ; d = path.dirname(d)) {
    chain.unshift(d);
    if (path.dirname(d) === d) break;
  }
  const canSearch = (d) => spawnSync('test', ['-x', d], { uid: ids.uid, gid: ids.gid, cwd: '/' }).status === 0;
  for (const d of chain) {
    if (canSearch(d)) continue;
    const setfacl = which('setfacl');
    if (setfacl && spawnSync(setfacl, ['-m', `u:${ids.uid}:x`, d]).status === 0 && canSearch(d)) {
      log(`granted search ACL on ${d} to uid ${ids.uid} so postgres can reach its data dir`);
      continue;
    }
    fs.chmodSync(d, fs.statSync(d).mode | 0o001);
    log(`chmod o+x ${d} (search only, no read) so the unprivileged postgres user can reach its data dir`);
  }
}

function psql(binDir, cfg, sql, db = 'postgres') {
  return spawnSync(
    path.join(binDir, 'psql'),
    [
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      HOST,
      '-p',
      String(cfg.pg.port),
      '-U',
      cfg.pg.user,
      '-d',
      db,
      '-tAc',
      sql,
    ],
    { encoding: 'utf8', env: childEnv({ PGPASSWORD: cfg.pg.password, PGCONNECT_TIMEOUT: '5' }), cwd: '/' },
  );
}

function pgEngine(cfg, log) {
  const dataDir = path.join(cfg.runDir, 'pg');
  const logFile = path.join(cfg.runDir, 'pg.log');
  const pidFile = path.join(cfg.runDir, 'pg.pid');
  const t = (m) => log(`[pg] ${m}`);
  return {
    name: 'pg',
    title: `PostgreSQL ${cfg.pg.major}`,
    port: cfg.pg.port,
    extraPorts: [],
    logFile,
    pidFile,
    marker: 'postgres',
    stopSignal: 'SIGINT', // fast shutdown
    readyTimeoutS: 60,
    probe: () => probePg(cfg.pg.port),
    livePid() {
      return livePidFromFile(pidFile, 'postgres') || livePidFromFile(path.join(dataDir, 'postmaster.pid'), 'postgres');
    },
    async provision() {
      return findPgBin(cfg) || (await installPg(cfg, t, path.join(cfg.cacheDir, 'logs')));
    },
    async start(binDir) {
      const ids = pgRunAs(cfg, t);
      const asUser = isRoot() ? { uid: ids.uid, gid: ids.gid } : {};
      const env = { PATH: process.env.PATH || '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
      fs.mkdirSync(cfg.runDir, { recursive: true });
      if (isRoot()) ensureTraversable(cfg.runDir, ids, t);
      const fresh = !exists(path.join(dataDir, 'PG_VERSION'));
      if (fresh) {
        fs.rmSync(dataDir, { recursive: true, force: true });
        fs.mkdirSync(dataDir, { mode: 0o700 });
        if (isRoot()) fs.chownSync(dataDir, ids.uid, ids.gid);
        t(`initdb ${dataDir}`);
        await runLogged(
          path.join(binDir, 'initdb'),
          ['-D', dataDir, '-U', cfg.pg.user, '--auth-local=trust', '--auth-host=trust', '-E', 'UTF8', '--locale=C'],
          { env, cwd: '/', logFile, ...asUser, timeoutMs: 120_000 },
        );
      } else {
        const v = Number((readText(path.join(dataDir, 'PG_VERSION')) || '').trim());
        if (v !== cfg.pg.major)
          throw new Error(
            `${dataDir} holds a PostgreSQL ${v} cluster but ${cfg.pg.major} is configured; remove the dir to re-init`,
          );
        if (isRoot()) {
          const st = fs.statSync(dataDir);
          if (st.uid !== ids.uid) spawnSync('chown', ['-R', `${ids.uid}:${ids.gid}`, dataDir]);
        }
      }
      const proc = spawnDetached(
        path.join(binDir, 'postgres'),
        [
          '-D',
          dataDir,
          '-p',
          String(cfg.pg.port),
          '-c',
          `listen_addresses=${HOST}`,
          '-c',
          'unix_socket_directories=',
          '-c',
          'max_connections=200',
        ],
        { env, cwd: '/', logFile, title: 'postgres', ...asUser },
      );
      return { proc, fresh };
    },
    async afterReady(binDir, { fresh } = {}) {
      if (!binDir) return;
      const has = psql(binDir, cfg, `SELECT 1 FROM pg_database WHERE datname = '${cfg.pg.db}'`);
      if (has.status !== 0) throw new Error(`psql against ${cfg.pg.port} failed: ${has.stderr}`);
      if (has.stdout.trim() !== '1') {
        const r = psql(binDir, cfg, `CREATE DATABASE ${cfg.pg.db}`);
        if (r.status !== 0) throw new Error(`CREATE DATABASE ${cfg.pg.db} failed: ${r.stderr}`);
        t(`created database ${cfg.pg.db}`);
      }
      if (fresh) psql(binDir, cfg, `ALTER ROLE ${cfg.pg.user} PASSWORD '${cfg.pg.password}'`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// MinIO

function minioEngine(cfg, log) {
  const binDir = path.join(cfg.cacheDir, 'bin');
  const bin = path.join(binDir, 'minio');
  const marker = path.join(binDir, 'minio.version');
  const dataDir = path.join(cfg.runDir, 'minio', 'data');
  const logFile = path.join(cfg.runDir, 'minio.log');
  const t = (m) => log(`[minio] ${m}`);
  return {
    name: 'minio',
    title: 'MinIO',
    port: cfg.minio.port,
    extraPorts: [cfg.minio.consolePort],
    logFile,
    pidFile: path.join(cfg.runDir, 'minio.pid'),
    marker: 'minio',
    stopSignal: 'SIGTERM',
    readyTimeoutS: 60,
    probe: () => probeMinio(cfg.minio.port),
    async provision() {
      if (isExecutable(bin) && (readText(marker) || '').trim() === cfg.minio.version) return bin;
      const go = requireCmd(
        'go',
        'Go >= 1.24 (to build MinIO once)',
        'https://go.dev/doc/install (Debian 12 golang-go is too old)',
      );
      t(`building github.com/minio/minio@${cfg.minio.version} with go install (first run only, several minutes)…`);
      fs.mkdirSync(binDir, { recursive: true });
      const env = childEnv({ GOBIN: binDir, CGO_ENABLED: '0', GOWORK: 'off', GOFLAGS: '-buildvcs=false -trimpath' });
      await runLogged(go, ['install', `github.com/minio/minio@${cfg.minio.version}`], {
        env,
        cwd: cfg.cacheDir,
        logFile: path.join(cfg.cacheDir, 'logs', 'minio-build.log'),
        timeoutMs: 40 * 60 * 1000,
      });
      fs.writeFileSync(marker, `${cfg.minio.version}\n`);
      return bin;
    },
    async start() {
      fs.mkdirSync(dataDir, { recursive: true });
      const proc = spawnDetached(
        bin,
        [
          'server',
          dataDir,
          '--address',
          `${HOST}:${cfg.minio.port}`,
          '--console-address',
          `${HOST}:${cfg.minio.consolePort}`,
        ],
        {
          env: childEnv({
            MINIO_ROOT_USER: cfg.minio.user,
            MINIO_ROOT_PASSWORD: cfg.minio.password,
            MINIO_UPDATE: 'off',
            MINIO_REGION: 'us-east-1',
            // The data scanner (usage statistics, lifecycle, healing) walks every object in cycles:
            // with the many keys tests and benches leave it kept a core 17-21 % busy while idle,
            // noise in every measurement. Nothing here uses what it computes.
            MINIO_SCANNER_SPEED: 'slowest',
          }),
          cwd: cfg.runDir,
          logFile,
          title: 'minio',
        },
      );
      return { proc };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Maven-resolved JVM engines (Kafka, Elasticsearch)

function pomXml(artifactId, deps, managed = []) {
  const dep = ([g, a, v]) =>
    `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  const dm = managed.length
    ? `  <dependencyManagement><dependencies>\n${managed.map(dep).join('\n')}\n  </dependencies></dependencyManagement>\n`
    : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by cairn scripts/infra/engines.mjs -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>cairn.infra</groupId>
  <artifactId>${artifactId}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
${dm}  <dependencies>
${deps.map(dep).join('\n')}
  </dependencies>
</project>
`;
}

/** resolve (once) a runtime classpath of jars in ~/.m2; returns list of jar paths */
async function mavenClasspath({ dir, pom, title, log }) {
  const pomFile = path.join(dir, 'pom.xml');
  const cpFile = path.join(dir, 'classpath.txt');
  const cached = readText(cpFile);
  if (cached != null && readText(pomFile) === pom) {
    const jars = cached.trim().split(path.delimiter).filter(Boolean);
    if (jars.length > 0 && jars.every(exists)) return jars;
  }
  const mvn = requireCmd('mvn', `Apache Maven 3.6+ (to fetch ${title} from Maven Central)`, 'apt-get install -y maven');
  javaBin();
  log(`resolving ${title} from Maven Central (first run only)…`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(pomFile, pom);
  fs.rmSync(cpFile, { force: true });
  await runLogged(
    mvn,
    [
      '-B',
      '-ntp',
      '-f',
      pomFile,
      `${MVN_DEP_PLUGIN}:build-classpath`,
      `-Dmdep.outputFile=${cpFile}`,
      '-Dmdep.includeScope=runtime',
    ],
    { env: childEnv(), cwd: dir, logFile: path.join(dir, 'mvn.log'), timeoutMs: 30 * 60 * 1000 },
  );
  const jars = (readText(cpFile) || '').trim().split(path.delimiter).filter(Boolean);
  if (jars.length === 0)
    throw new Error(`maven produced an empty classpath for ${title}; see ${path.join(dir, 'mvn.log')}`);
  return jars;
}

/** java @argfile with the classpath (keeps ps output readable) */
function writeCpArgfile(file, entries) {
  const q = (s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  fs.writeFileSync(file, `-cp\n${q(entries.join(path.delimiter))}\n`);
  return `@${file}`;
}

function kafkaEngine(cfg, log) {
  const v = cfg.kafka.version;
  const dir = path.join(cfg.cacheDir, `kafka-${v}`);
  const home = path.join(cfg.runDir, 'kafka');
  const dataDir = path.join(home, 'data');
  const logFile = path.join(cfg.runDir, 'kafka.log');
  const t = (m) => log(`[kafka] ${m}`);
  return {
    name: 'kafka',
    title: `Kafka ${v}`,
    port: cfg.kafka.port,
    extraPorts: [cfg.kafka.controllerPort],
    logFile,
    pidFile: path.join(cfg.runDir, 'kafka.pid'),
    marker: 'kafka.Kafka',
    stopSignal: 'SIGTERM',
    stopTimeoutS: 60,
    readyTimeoutS: 120,
    probe: () => probeKafka(cfg.kafka.port),
    async provision() {
      const java = javaBin();
      const jars = await mavenClasspath({
        dir,
        title: `org.apache.kafka:kafka_2.13:${v}`,
        log: t,
        pom: pomXml(`kafka-${v}`, [
          ['org.apache.kafka', 'kafka_2.13', v],
          ['org.apache.kafka', 'kafka-tools', v], // CLI classes (TopicCommand, ConsoleProducer, …) for debugging
          ['org.slf4j', 'slf4j-reload4j', '1.7.36'],
        ]),
      });
      return { java, argfile: writeCpArgfile(path.join(dir, 'java-cp.args'), jars) };
    },
    async start({ java, argfile }) {
      fs.mkdirSync(dataDir, { recursive: true });
      const props = path.join(home, 'server.properties');
      fs.writeFileSync(
        props,
        [
          '# generated by cairn scripts/infra/engines.mjs (rewritten on every start)',
          'process.roles=broker,controller',
          'node.id=1',
          `controller.quorum.voters=1@${HOST}:${cfg.kafka.controllerPort}`,
          `listeners=PLAINTEXT://${HOST}:${cfg.kafka.port},CONTROLLER://${HOST}:${cfg.kafka.controllerPort}`,
          `advertised.listeners=PLAINTEXT://${HOST}:${cfg.kafka.port}`,
          'controller.listener.names=CONTROLLER',
          'inter.broker.listener.name=PLAINTEXT',
          'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
          `log.dirs=${dataDir}`,
          'auto.create.topics.enable=true',
          'num.partitions=4',
          'offsets.topic.replication.factor=1',
          'transaction.state.log.replication.factor=1',
          'transaction.state.log.min.isr=1',
          'group.initial.rebalance.delay.ms=0',
          '',
        ].join('\n'),
      );
      const log4j = path.join(home, 'log4j.properties');
      fs.writeFileSync(
        log4j,
        [
          'log4j.rootLogger=INFO, stdout',
          'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
          'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
          'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
          'log4j.logger.org.apache.zookeeper=WARN',
          'log4j.logger.state.change.logger=WARN',
          'log4j.logger.kafka.request.logger=WARN',
          '',
        ].join('\n'),
      );
      const jvm = [
        `-Dlog4j.configuration=file:${log4j}`,
        `-Dkafka.logs.dir=${path.join(home, 'logs')}`,
        '-Djava.awt.headless=true',
      ];
      if (!exists(path.join(dataDir, 'meta.properties'))) {
        const idFile = path.join(home, 'cluster.id');
        let clusterId = (readText(idFile) || '').trim();
        while (!clusterId || clusterId.startsWith('-')) clusterId = crypto.randomBytes(16).toString('base64url');
        fs.writeFileSync(idFile, `${clusterId}\n`);
        t(`formatting KRaft storage (cluster id ${clusterId})`);
        await runLogged(
          java,
          [...jvm, argfile, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, '--ignore-formatted'],
          { env: childEnv(), cwd: home, logFile, timeoutMs: 120_000 },
        );
      }
      const proc = spawnDetached(
        java,
        [
          `-Xms${cfg.kafka.heap}`,
          `-Xmx${cfg.kafka.heap}`,
          '-XX:+UseG1GC',
          '-XX:MaxGCPauseMillis=20',
          ...jvm,
          argfile,
          'kafka.Kafka',
          props,
        ],
        { env: childEnv(), cwd: home, logFile, title: 'kafka' },
      );
      return { proc };
    },
  };
}

function esEngine(cfg, log) {
  const rv = cfg.es.runnerVersion;
  const dir = path.join(cfg.cacheDir, `elasticsearch-runner-${rv}`);
  const base = path.join(cfg.runDir, 'es');
  const logFile = path.join(cfg.runDir, 'es.log');
  const src = path.join(HERE, 'es', 'CairnEs.java');
  const t = (m) => log(`[es] ${m}`);
  return {
    name: 'es',
    title: `Elasticsearch ${rv.split('.').slice(0, 3).join('.')}`,
    port: cfg.es.port,
    extraPorts: [cfg.es.transportPort],
    logFile,
    pidFile: path.join(cfg.runDir, 'es.pid'),
    marker: 'CairnEs',
    stopSignal: 'SIGTERM',
    stopTimeoutS: 60,
    readyTimeoutS: 180,
    probe: () => probeEs(cfg.es.port),
    async provision() {
      const java = javaBin();
      const major = javaMajor(java);
      if (major && major < 11)
        throw new MissingPrereq(`${java} is Java ${major}; Elasticsearch 7.10 needs Java 11+ (17 recommended)`);
      const jars = await mavenClasspath({
        dir,
        title: `org.codelibs:elasticsearch-cluster-runner:${rv}`,
        log: t,
        pom: pomXml(
          `elasticsearch-runner-${rv}`,
          [['org.codelibs', 'elasticsearch-cluster-runner', rv]],
          [
            ['org.apache.logging.log4j', 'log4j-api', LOG4J2_VERSION],
            ['org.apache.logging.log4j', 'log4j-core', LOG4J2_VERSION],
          ],
        ),
      });
      // compile the launcher when missing or when its source changed
      const classes = path.join(dir, 'classes');
      const stamp = path.join(classes, '.source.sha256');
      const sha = crypto.createHash('sha256').update(fs.readFileSync(src)).update(jars.join(':')).digest('hex');
      if (!exists(path.join(classes, 'CairnEs.class')) || (readText(stamp) || '').trim() !== sha) {
        const javac = javacBin(java);
        t('compiling CairnEs launcher');
        fs.rmSync(classes, { recursive: true, force: true });
        fs.mkdirSync(classes, { recursive: true });
        await runLogged(javac, ['--release', '11', '-cp', jars.join(path.delimiter), '-d', classes, src], {
          env: childEnv(),
          cwd: dir,
          logFile: path.join(dir, 'javac.log'),
          timeoutMs: 300_000,
        });
        fs.writeFileSync(stamp, `${sha}\n`);
      }
      return { java, major, argfile: writeCpArgfile(path.join(dir, 'java-cp.args'), [classes, ...jars]) };
    },
    async start({ java, major, argfile }) {
      const tmp = path.join(base, 'tmp');
      fs.mkdirSync(tmp, { recursive: true });
      const jvm = [
        `-Xms${cfg.es.heap}`,
        `-Xmx${cfg.es.heap}`,
        '-XX:+UseG1GC',
        '-XX:+HeapDumpOnOutOfMemoryError',
        `-XX:HeapDumpPath=${base}`,
        '-Djava.awt.headless=true',
        '-Dfile.encoding=UTF-8',
        `-Djava.io.tmpdir=${tmp}`,
        '-Djna.nosys=true',
        '-Dio.netty.noUnsafe=true',
        '-Dio.netty.noKeySetOptimization=true',
        '-Dio.netty.recycler.maxCapacityPerThread=0',
        '-Dio.netty.allocator.numDirectArenas=0',
        '-Dlog4j.shutdownHookEnabled=false',
        '-Dlog4j2.disable.jmx=true',
        '-Dlog4j2.formatMsgNoLookups=true',
      ];
      // what ES 7.10's own jvm.options sets (COMPAT locale data was removed in JDK 23)
      if (!major || major < 23) jvm.push('-Djava.locale.providers=SPI,COMPAT');
      const proc = spawnDetached(
        java,
        [...jvm, argfile, 'CairnEs', base, HOST, String(cfg.es.port), String(cfg.es.transportPort)],
        { env: childEnv({ ES_TMPDIR: tmp }), cwd: base, logFile, title: 'elasticsearch' },
      );
      return { proc };
    },
  };
}

function engineFor(name, cfg, log) {
  switch (name) {
    case 'pg':
      return pgEngine(cfg, log);
    case 'minio':
      return minioEngine(cfg, log);
    case 'kafka':
      return kafkaEngine(cfg, log);
    case 'es':
      return esEngine(cfg, log);
    default:
      throw new Error(`unknown engine ${name}`);
  }
}

// ---------------------------------------------------------------------------------------------
// ensure one engine

async function ensureOne(e, cfg, log, { fetchOnly = false } = {}) {
  const t = (m) => log(`[${e.name}] ${m}`);
  const t0 = Date.now();
  const readyTimeoutS = cfg.readyTimeoutS || e.readyTimeoutS;
  const ownPid = () => (e.livePid ? e.livePid() : livePidFromFile(e.pidFile, e.marker));

  // on reuse, only pg has a post-ready step (create the database if missing); never fatal there
  const afterReuse = async () => {
    if (e.name !== 'pg' || !e.afterReady) return;
    try {
      await e.afterReady(findPgBin(cfg));
    } catch (err) {
      t(`warning: ${err.message.trim()}`);
    }
  };
  if (fetchOnly) {
    const p0 = Date.now();
    await e.provision();
    t(`obtained (${secs(Date.now() - p0)})`);
    return { name: e.name, fetched: true, ms: Date.now() - t0 };
  }
  const state = await e.probe();
  if (state === 'ready') {
    await afterReuse();
    t(`already running on ${HOST}:${e.port} (reused)`);
    return { name: e.name, reused: true, ms: Date.now() - t0 };
  }
  const pid = ownPid();
  if (state === 'other' && !pid) {
    throw new Error(
      `port ${e.port} is in use by something that does not look like ${e.title}; free it or override the port`,
    );
  }
  if (pid || state === 'starting') {
    t(`starting already (${pid ? `pid ${pid}` : 'foreign process'}); waiting up to ${readyTimeoutS}s`);
    await waitReady({ title: e.title, probe: e.probe, timeoutS: readyTimeoutS, logFile: e.logFile, pid });
    await afterReuse();
    return { name: e.name, reused: true, ms: Date.now() - t0 };
  }
  for (const p of e.extraPorts) {
    if (await tcpOpen(p)) throw new Error(`port ${p} (needed by ${e.title}) is already in use by another process`);
  }

  const p0 = Date.now();
  const prov = await e.provision();
  const provisionMs = Date.now() - p0;
  if (provisionMs > 2000) t(`obtained in ${secs(provisionMs)}`);

  const s0 = Date.now();
  const started = await e.start(prov);
  fs.writeFileSync(e.pidFile, `${started.proc.pid}\n`);
  t(`started pid ${started.proc.pid} (log ${e.logFile}); waiting up to ${readyTimeoutS}s`);
  try {
    await waitReady({
      title: e.title,
      probe: e.probe,
      timeoutS: readyTimeoutS,
      logFile: e.logFile,
      proc: started.proc,
    });
  } catch (err) {
    // lost a race for the port against another starter (e.g. a different cache dir)? then reuse theirs
    if (started.proc.state.exited && (await e.probe()) === 'ready') {
      fs.rmSync(e.pidFile, { force: true });
      await afterReuse();
      t(`port ${e.port} was taken meanwhile by another ${e.title}; reusing it`);
      return { name: e.name, reused: true, ms: Date.now() - t0 };
    }
    throw err;
  }
  if (e.afterReady) await e.afterReady(prov, started);
  const startMs = Date.now() - s0;
  t(`ready on ${HOST}:${e.port} in ${secs(startMs)}`);
  return { name: e.name, reused: false, provisionMs, startMs, ms: Date.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// public API

/**
 * Make sure the engines are running; returns the env (DATABASE_URL, S3_*, KAFKA_BROKERS, ELASTICSEARCH_URL).
 * @param {{ log?: (msg: string) => void, only?: string[], writeEnv?: boolean, fetchOnly?: boolean }} [opts]
 *   fetchOnly: only download/build/resolve (e.g. to warm a CI cache), start nothing
 */
export async function ensureEngines({ log = console.log, only, writeEnv = true, fetchOnly = false } = {}) {
  const cfg = infraConfig();
  const names = selectEngines(only);
  const env = infraEnv(cfg);
  const t0 = Date.now();
  await withLock(cfg.runDir, log, async () => {
    const results = await Promise.allSettled(
      names.map((n) => ensureOne(engineFor(n, cfg, log), cfg, log, { fetchOnly })),
    );
    const failed = results
      .map((r, i) => ({ r, name: names[i] }))
      .filter(({ r }) => r.status === 'rejected')
      .map(({ r, name }) => `[${name}] ${r.reason instanceof Error ? r.reason.message : r.reason}`);
    if (failed.length) {
      const err = new Error(`engine setup failed:\n${failed.join('\n')}`);
      err.missingPrereq = results.some((r) => r.status === 'rejected' && r.reason instanceof MissingPrereq);
      throw err;
    }
  });
  if (fetchOnly) {
    log(`engines obtained in ${secs(Date.now() - t0)} (${names.join(', ')}); nothing started`);
    return env;
  }
  if (writeEnv) writeEnvFile(env);
  log(`engines ready in ${secs(Date.now() - t0)} (${names.join(', ')})`);
  return env;
}

/** Stop engines started by ensureEngines (pid files in the run dir). */
/**
 * SIGKILLs one running engine and its child processes, as a crash would (fault tests): no clean
 * shutdown, data left as it is. Resolves once they are gone; `ensureEngines({ only })` restarts it.
 */
export async function killEngine(name, { log = () => {} } = {}) {
  const cfg = infraConfig();
  const [n] = selectEngines([name]);
  const e = engineFor(n, cfg, log);
  const pid = e.livePid ? e.livePid() : livePidFromFile(e.pidFile, e.marker);
  if (!pid) throw new Error(`${n} is not running from ${cfg.runDir}`);
  const children = (spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout || '')
    .split('\n')
    .map(Number)
    .filter((p) => p > 0);
  for (const p of [pid, ...children]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {}
  }
  while ([pid, ...children].some(pidAlive)) await sleep(50);
  fs.rmSync(e.pidFile, { force: true });
  // A killed postmaster may linger as a zombie (nobody reaps it here), which PostgreSQL would take
  // for a live one holding its lock file: the lock is ours to clear, we just killed its owner.
  if (n === 'pg') fs.rmSync(path.join(cfg.runDir, 'pg', 'postmaster.pid'), { force: true });
  // Its ports must be free before a restart can bind them; one still answering is held by another process.
  const ports = [e.port, ...(e.extraPorts || [])];
  const deadline = Date.now() + 15_000;
  for (;;) {
    const open = (await Promise.all(ports.map((p) => tcpOpen(p, HOST, 300)))).some(Boolean);
    if (!open) break;
    if (Date.now() > deadline) throw new Error(`${n}: a port of ${ports.join(', ')} still answers after the kill`);
    await sleep(200);
  }
  log(`[${n}] killed pid ${pid} (+${children.length} children)`);
}

export async function stopEngines({ log = console.log, only } = {}) {
  const cfg = infraConfig();
  const names = selectEngines(only);
  await withLock(cfg.runDir, log, async () => {
    await Promise.all(
      names.map(async (n) => {
        const e = engineFor(n, cfg, log);
        const t = (m) => log(`[${e.name}] ${m}`);
        const pid = e.livePid ? e.livePid() : livePidFromFile(e.pidFile, e.marker);
        if (!pid) {
          fs.rmSync(e.pidFile, { force: true });
          const st = await e.probe();
          if (st === 'closed') t('not running');
          else t(`port ${e.port} is served by a process not started by infra:up (no pid file) — left alone`);
          return;
        }
        const t0 = Date.now();
        try {
          process.kill(pid, e.stopSignal);
        } catch {}
        const deadline = Date.now() + (e.stopTimeoutS || 30) * 1000;
        while (pidAlive(pid) && Date.now() < deadline) await sleep(200);
        if (pidAlive(pid)) {
          t(`pid ${pid} did not exit in ${e.stopTimeoutS || 30}s; sending SIGKILL`);
          try {
            process.kill(pid, 'SIGKILL');
          } catch {}
          while (pidAlive(pid)) await sleep(100);
        }
        fs.rmSync(e.pidFile, { force: true });
        t(`stopped pid ${pid} in ${secs(Date.now() - t0)}`);
      }),
    );
  });
}
