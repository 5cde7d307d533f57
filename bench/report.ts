import type { Figure } from './stats.js';

/** The printed table: one row per figure, targets and engine bounds beside it. */

const fmt = (v: number | undefined, unit = ''): string => {
  if (v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  const s =
    abs >= 1000
      ? Math.round(v).toLocaleString('en-US')
      : abs >= 100
        ? v.toFixed(0)
        : abs >= 10
          ? v.toFixed(1)
          : v.toFixed(2);
  return unit ? `${s} ${unit}` : s;
};

const pad = (s: string, n: number, right = false) => (right ? s.padStart(n) : s.padEnd(n));

export function renderTable(figures: readonly Figure[]): string {
  const header = ['figure', 'value', 'p50', 'p95', 'p99', 'max', 'n', 'target', 'pass', 'engine bound', 'ratio'];
  const rows: string[][] = [];
  for (const f of figures) {
    const latency = f.unit === 'ms';
    const targets = f.targets ?? [];
    const bounds = f.bounds ?? [];
    const lines = Math.max(1, targets.length, bounds.length);
    for (let i = 0; i < lines; i++) {
      const t = targets[i];
      const b = bounds[i];
      rows.push([
        i === 0 ? (f.kind === 'engine' ? `  [engine] ${f.name}` : f.name) : '',
        i === 0 ? fmt(f.value, f.unit) : '',
        i === 0 && f.p50 !== undefined && !latency ? fmt(f.p50) : i === 0 && latency ? fmt(f.p50) : '',
        i === 0 ? fmt(f.p95) : '',
        i === 0 ? fmt(f.p99) : '',
        i === 0 ? fmt(f.max) : '',
        i === 0 ? String(f.count) : '',
        t ? t.label : '',
        t ? (t.pass ? 'pass' : 'MISS') : '',
        b ? `${b.name}: ${fmt(b.value, b.unit)}` : '',
        b ? `${b.ratio >= 10 ? b.ratio.toFixed(0) : b.ratio.toFixed(2)}×` : '',
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const numeric = new Set([1, 2, 3, 4, 5, 6, 10]);
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i]!, numeric.has(i))).join(' │ ');
  const sep = widths.map((w) => '─'.repeat(w)).join('─┼─');
  return [line(header), sep, ...rows.map(line)].join('\n');
}
