import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Summarizes a V8 `.cpuprofile` (written by `node --cpu-prof`): self time per function (and per
 * package / source area), so a run can say where the time goes without a flame-graph viewer.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idleMs: number;
  /** Top functions by self time. */
  functions: { fn: string; where: string; selfMs: number; pct: number }[];
  /** Self time by area: node_modules/<package>, src/<dir>, node:internal, (gc), … */
  areas: { area: string; selfMs: number; pct: number }[];
}

function areaOf(url: string, root: string): string {
  if (!url) return '(native/vm)';
  if (url.startsWith('node:')) return 'node:internal';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return `node_modules/${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const rel = relative(root, path);
  const parts = rel.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : rel;
}

export function summarizeProfile(file: string, root: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (deltas[i] ?? 0) / 1000);
  }
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const fns = new Map<string, { fn: string; where: string; selfMs: number }>();
  const areas = new Map<string, number>();
  let idleMs = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || functionName === '(program)') {
      if (functionName === '(idle)') idleMs += ms;
      else areas.set('(program)', (areas.get('(program)') ?? 0) + ms);
      continue;
    }
    const area = functionName === '(garbage collector)' ? '(gc)' : areaOf(url, root);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const where = url
      ? `${url.startsWith('node:') ? url : relative(root, url.replace(/^file:\/\//, ''))}:${lineNumber + 1}`
      : '';
    const key = `${functionName}@${where}`;
    const entry = fns.get(key) ?? { fn: functionName || '(anonymous)', where, selfMs: 0 };
    entry.selfMs += ms;
    fns.set(key, entry);
  }
  const busy = totalMs - idleMs;
  const pct = (ms: number) => Math.round((1000 * ms) / Math.max(1, busy)) / 10;
  return {
    file,
    totalMs: Math.round(totalMs),
    idleMs: Math.round(idleMs),
    functions: [...fns.values()]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map((f) => ({ ...f, selfMs: Math.round(f.selfMs), pct: pct(f.selfMs) })),
    areas: [...areas]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([area, ms]) => ({ area, selfMs: Math.round(ms), pct: pct(ms) })),
  };
}

/**
 * The newest main-thread `.cpuprofile` in a directory (`CPU.<date>.<time>.<pid>.<thread>.<seq>`;
 * thread 0 is the main thread, the others e.g. the tsx loader's worker).
 */
export function newestProfile(dir: string): string | null {
  try {
    const files = readdirSync(dir)
      .filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f))
      .sort();
    return files.length ? join(dir, files[files.length - 1]!) : null;
  } catch {
    return null;
  }
}
