/**
 * Prints the README's Performance table from a results file:
 * `npx tsx bench/markdown.ts [results.json] [--before earlier.json]` (default: the newest in bench/results).
 * One row per Cairn figure that has a target or an engine bound (and the queries); `--before` adds that
 * run's value.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Figure } from './stats.js';

interface Results {
  command: string;
  startedAt: string;
  durationSeconds: number;
  host: {
    cpus: number;
    loadavgAtStart: number[];
    loadavgAtEnd: number[];
    /** Since 2026-11-24. */
    engineUptimeSeconds?: Record<string, number>;
  };
  figures: Figure[];
}

const fmt = (v: number | undefined, unit: string): string => {
  if (v === undefined || !Number.isFinite(v)) return '—';
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${v.toLocaleString('en-US', { maximumFractionDigits: digits })} ${unit}`;
};

/** The headline of a figure: p50 and p99 for latencies, the rate otherwise. */
const measured = (f: Figure | undefined): string => {
  if (!f) return '—';
  return f.unit === 'ms' ? `p50 ${fmt(f.p50, 'ms')}, p99 ${fmt(f.p99, 'ms')}` : fmt(f.value, f.unit);
};

/** Figures shown although they have neither target nor engine bound. */
const ALSO = ['backlog.write', 'e2e.latency.half', 'query.'];

const ratio = (r: number): string => `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×`;

export function renderMarkdown(run: Results, before?: Results): string {
  const rows = run.figures.filter(
    (f) => f.kind === 'cairn' && (f.targets?.length || f.bounds?.length || ALSO.some((id) => f.id.startsWith(id))),
  );
  const head = ['figure', 'target', ...(before ? ['before'] : []), 'measured', 'engine bound', 'ratio'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const f of rows) {
    const targets = (f.targets ?? []).map((t) => `${t.label} ${t.pass ? '✓' : '✗'}`).join('; ') || '—';
    const bounds = f.bounds ?? [];
    const was = before?.figures.find((b) => b.id === f.id);
    lines.push(
      `| ${[
        f.name,
        targets,
        ...(before ? [measured(was)] : []),
        measured(f),
        bounds.map((b) => `${b.name}: ${fmt(b.value, b.unit)}`).join('<br>') || '—',
        bounds.map((b) => ratio(b.ratio)).join('<br>') || '—',
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

function newest(dir: string): string {
  const files = readdirSync(dir)
    .filter((f) => /^\d.*\.json$/.test(f))
    .sort();
  if (!files.length) throw new Error(`no results in ${dir}`);
  return join(dir, files[files.length - 1]!);
}

const { values, positionals } = parseArgs({ options: { before: { type: 'string' } }, allowPositionals: true });
const file = positionals[0] ?? newest(fileURLToPath(new URL('results', import.meta.url)));
const load = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Results;
const run = load(file);
const before = values.before ? load(values.before) : undefined;
const avg = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
const uptimes = Object.entries(run.host.engineUptimeSeconds ?? {});
const up = uptimes.length
  ? `, engines up ${uptimes.map(([e, s]) => `${e} ${s < 3600 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`}`).join(', ')}`
  : '';
process.stdout.write(
  `\`${run.command}\` — ${run.startedAt}, ${run.durationSeconds} s, ${run.host.cpus} CPUs, load average ${avg(run.host.loadavgAtStart)} → ${avg(run.host.loadavgAtEnd)}${up}\n\n${renderMarkdown(run, before)}\n`,
);
