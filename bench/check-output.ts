/**
 * Validates a bench results file: `npx tsx bench/check-output.ts [file.json]` (default: the newest
 * file in bench/results). Exits 0 when it is well-formed, 1 with the problems listed otherwise. It
 * checks that the bench ran and wrote what it promises — every figure present with finite
 * statistics, percentiles in order, no phase failed — not that any target was met.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The figures every run must have (mutation levels come from the run's own parameters). */
function requiredIds(profile: string, levels: number[]): string[] {
  const ids = [
    ...levels.flatMap((c) => [`mutation.ack.c${c}`, `mutation.rate.c${c}`]),
    'mutation.rate.best',
    'backlog.write',
    'e2e.latency',
    'e2e.latency.half',
    'relay.throughput',
    'projector.throughput',
    'rebuild.throughput',
    'query.instance.c32',
    'query.page.c32',
    'fanout.reachAll',
    'fanout.delivery',
    'fanout.memoryPerConnection',
    'rss.bench',
  ];
  if (profile === 'production') {
    ids.push(
      'rss.gateway',
      'rss.relay',
      'rss.projector',
      'engine.s3.put.c1',
      'engine.s3.put.c32',
      'engine.s3.get.c1',
      'engine.s3.get.c16',
      'engine.s3.get.c16.sdk',
      'engine.s3.list',
      'engine.pg.rtt',
      'engine.kafka.produce',
      'engine.kafka.consume',
      'engine.es.bulk',
      'engine.es.bulk.refresh',
      'engine.es.mget.c32',
      'engine.es.search.c32',
    );
  } else {
    ids.push('engine.disk.create.c1', 'engine.disk.create.c32', 'engine.disk.append');
  }
  return ids;
}

export function checkResults(doc: unknown): string[] {
  const problems: string[] = [];
  const need = (cond: boolean, msg: string) => {
    if (!cond) problems.push(msg);
  };
  if (!isObj(doc)) return ['not a JSON object'];
  need(doc.version === 1, 'version must be 1');
  need(doc.profile === 'production' || doc.profile === 'embedded', 'profile must be production or embedded');
  need(typeof doc.quick === 'boolean', 'quick must be a boolean');
  for (const k of ['startedAt', 'finishedAt'] as const) {
    need(typeof doc[k] === 'string' && !Number.isNaN(Date.parse(doc[k] as string)), `${k} must be an ISO date`);
  }
  need(isNum(doc.durationSeconds) && (doc.durationSeconds as number) > 0, 'durationSeconds must be a positive number');
  need(isObj(doc.host) && isNum((doc.host as Obj).cpus), 'host.cpus must be a number');
  const uptimes = isObj(doc.host) ? (doc.host as Obj).engineUptimeSeconds : undefined;
  need(
    uptimes === undefined || (isObj(uptimes) && Object.values(uptimes).every((s) => isNum(s) && (s as number) >= 0)),
    'host.engineUptimeSeconds must map engines to seconds',
  );
  need(isObj(doc.parameters), 'parameters must be an object');
  need(Array.isArray(doc.errors), 'errors must be an array');
  if (Array.isArray(doc.errors)) {
    for (const e of doc.errors) {
      problems.push(
        `phase failed: ${isObj(e) ? `${String(e.phase)}: ${String(e.message).split('\n')[0]}` : JSON.stringify(e)}`,
      );
    }
  }
  if (!Array.isArray(doc.figures) || doc.figures.length === 0)
    return [...problems, 'figures must be a non-empty array'];

  const ids = new Set<string>();
  doc.figures.forEach((f, i) => {
    const where = isObj(f) && typeof f.id === 'string' ? f.id : `figures[${i}]`;
    if (!isObj(f)) {
      problems.push(`${where}: not an object`);
      return;
    }
    if (typeof f.id !== 'string' || f.id === '') problems.push(`${where}: id must be a non-empty string`);
    else if (ids.has(f.id)) problems.push(`${where}: duplicate id`);
    else ids.add(f.id);
    need(typeof f.name === 'string' && f.name !== '', `${where}: name must be a non-empty string`);
    need(f.kind === 'cairn' || f.kind === 'engine', `${where}: kind must be cairn or engine`);
    need(typeof f.unit === 'string' && f.unit !== '', `${where}: unit must be a non-empty string`);
    need(isNum(f.value), `${where}: value must be a finite number (got ${JSON.stringify(f.value)})`);
    need(isNum(f.median), `${where}: median must be a finite number (got ${JSON.stringify(f.median)})`);
    need(
      Number.isInteger(f.count) && (f.count as number) > 0,
      `${where}: count must be a positive integer (got ${JSON.stringify(f.count)})`,
    );
    need(isObj(f.parameters), `${where}: parameters must be an object`);
    if (isObj(f.parameters)) {
      for (const [k, v] of Object.entries(f.parameters)) {
        need(
          v === null || ['string', 'number', 'boolean'].includes(typeof v),
          `${where}: parameters.${k} must be a scalar`,
        );
      }
    }
    const stats = ['p50', 'p95', 'p99', 'max'] as const;
    for (const s of stats) if (s in f) need(isNum(f[s]), `${where}: ${s} must be a finite number when present`);
    if (f.unit === 'ms') {
      for (const s of stats) need(isNum(f[s]), `${where}: a latency figure needs ${s}`);
      const [p50, p95, p99, max] = stats.map((s) => f[s]);
      if (isNum(p50) && isNum(p95) && isNum(p99) && isNum(max)) {
        need(p50 <= p95 && p95 <= p99 && p99 <= max, `${where}: percentiles out of order`);
        need(p50 >= 0, `${where}: negative latency`);
      }
    }
    if (f.targets !== undefined) {
      need(Array.isArray(f.targets), `${where}: targets must be an array`);
      for (const t of Array.isArray(f.targets) ? f.targets : []) {
        need(
          isObj(t) &&
            (t.op === '<=' || t.op === '>=') &&
            isNum(t.value) &&
            typeof t.label === 'string' &&
            typeof t.pass === 'boolean',
          `${where}: malformed target ${JSON.stringify(t)}`,
        );
      }
    }
    if (f.bounds !== undefined) {
      need(Array.isArray(f.bounds), `${where}: bounds must be an array`);
      for (const b of Array.isArray(f.bounds) ? f.bounds : []) {
        need(
          isObj(b) && typeof b.name === 'string' && isNum(b.value) && isNum(b.ratio),
          `${where}: malformed bound ${JSON.stringify(b)}`,
        );
      }
    }
  });

  const levels =
    isObj(doc.parameters) && typeof doc.parameters.levels === 'string'
      ? doc.parameters.levels.split(',').map(Number)
      : [1, 8, 32, 128];
  for (const id of requiredIds(String(doc.profile), levels)) need(ids.has(id), `missing figure ${id}`);
  return problems;
}

function newest(dir: string): string | null {
  try {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
    return files.length ? join(dir, files[files.length - 1]!) : null;
  } catch {
    return null;
  }
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const file = process.argv[2] ?? newest(join(fileURLToPath(new URL('.', import.meta.url)), 'results'));
  if (!file) {
    process.stderr.write('usage: tsx bench/check-output.ts <results.json> (no file in bench/results)\n');
    process.exit(2);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    process.stderr.write(`${file}: cannot read JSON: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
  const problems = checkResults(doc);
  if (problems.length) {
    process.stderr.write(`${file}: ${problems.length} problem(s)\n  ${problems.join('\n  ')}\n`);
    process.exit(1);
  }
  const figures = isObj(doc) && Array.isArray(doc.figures) ? doc.figures.length : 0;
  process.stdout.write(`${file}: ok (${figures} figures)\n`);
}
