/**
 * Figures and the arithmetic behind them: percentiles over plain sorted arrays (nearest rank), and
 * rates over one-second windows.
 */

export type Params = Record<string, string | number | boolean | null>;

export interface Target {
  op: '<=' | '>=';
  value: number;
  /** What the target says, as printed (e.g. "p99 <= 25 ms"). */
  label: string;
  /** Which statistic of the figure is compared: 'value' (headline), 'p50', 'p99', … */
  stat: 'value' | 'p50' | 'p95' | 'p99' | 'max';
  pass: boolean;
}

export interface Bound {
  /** The engine figure this Cairn figure is bounded by. */
  name: string;
  value: number;
  unit: string;
  /** cairn / engine for both rates and latencies (a latency ratio of 3 = three engine round trips). */
  ratio: number;
}

export interface Figure {
  /** Stable machine key (e.g. `mutation.ack.c32`); `name` is for people. */
  id: string;
  name: string;
  /** 'cairn' for the product, 'engine' for a raw engine baseline. */
  kind: 'cairn' | 'engine';
  unit: string;
  /** The headline: p50 for latencies, overall rate for throughputs, the measured value otherwise. */
  value: number;
  /** Median (of samples for latencies, of one-second window rates for throughputs). */
  median: number;
  p50?: number;
  p95?: number;
  p99?: number;
  max?: number;
  min?: number;
  mean?: number;
  /** Samples or events the figure is computed from. */
  count: number;
  parameters: Params;
  targets?: Target[];
  bounds?: Bound[];
  note?: string;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  min: number;
  mean: number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const arr = Array.from(sorted);
  let sum = 0;
  for (const v of arr) sum += v;
  return {
    count: arr.length,
    p50: percentile(arr, 50),
    p95: percentile(arr, 95),
    p99: percentile(arr, 99),
    max: arr.length ? arr[arr.length - 1]! : Number.NaN,
    min: arr.length ? arr[0]! : Number.NaN,
    mean: arr.length ? sum / arr.length : Number.NaN,
  };
}

/** A latency figure (ms) from raw samples. */
export function latencyFigure(
  id: string,
  name: string,
  samples: readonly number[],
  parameters: Params,
  extra: Partial<Figure> = {},
): Figure {
  const s = summarize(samples);
  return {
    id,
    name,
    kind: 'cairn',
    unit: 'ms',
    value: s.p50,
    median: s.p50,
    p50: s.p50,
    p95: s.p95,
    p99: s.p99,
    max: s.max,
    min: s.min,
    mean: s.mean,
    count: s.count,
    parameters,
    ...extra,
  };
}

/**
 * A throughput figure: `count` events over `seconds`; `windowRates` (events/s per one-second window)
 * give the median and the spread.
 */
export function rateFigure(
  id: string,
  name: string,
  unit: string,
  count: number,
  seconds: number,
  windowRates: readonly number[],
  parameters: Params,
  extra: Partial<Figure> = {},
): Figure {
  const value = seconds > 0 ? count / seconds : Number.NaN;
  const sorted = [...windowRates].sort((a, b) => a - b);
  return {
    id,
    name,
    kind: 'cairn',
    unit,
    value,
    median: sorted.length ? percentile(sorted, 50) : value,
    ...(sorted.length ? { min: sorted[0]!, max: sorted[sorted.length - 1]! } : {}),
    count,
    parameters: { ...parameters, seconds: round(seconds, 3) },
    ...extra,
  };
}

/** Counts events into one-second windows from a start time; `rates()` gives the full windows. */
export class WindowCounter {
  private readonly buckets: number[] = [];
  constructor(private readonly start: number) {}
  add(at: number, n = 1): void {
    const i = Math.floor((at - this.start) / 1000);
    if (i < 0) return;
    while (this.buckets.length <= i) this.buckets.push(0);
    this.buckets[i]! += n;
  }
  /** Rates of the complete one-second windows up to `end`. */
  rates(end: number): number[] {
    const full = Math.floor((end - this.start) / 1000);
    const out: number[] = [];
    for (let i = 0; i < full; i++) out.push(this.buckets[i] ?? 0);
    return out;
  }
}

/** Rates between consecutive samples of a monotonic counter, as events/s per sample interval. */
export function sampledRates(samples: readonly { at: number; value: number }[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i]!.at - samples[i - 1]!.at) / 1000;
    if (dt > 0) out.push((samples[i]!.value - samples[i - 1]!.value) / dt);
  }
  return out;
}

export const round = (v: number, digits = 2): number => {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

export function target(figure: Figure, stat: Target['stat'], op: Target['op'], value: number, label: string): Target {
  const actual = stat === 'value' ? figure.value : figure[stat];
  const pass = actual !== undefined && Number.isFinite(actual) && (op === '<=' ? actual <= value : actual >= value);
  return { op, value, label, stat, pass };
}

/** Adds a target to a figure (in place) and returns it. */
export function withTarget(
  figure: Figure,
  stat: Target['stat'],
  op: Target['op'],
  value: number,
  label: string,
): Figure {
  figure.targets = [...(figure.targets ?? []), target(figure, stat, op, value, label)];
  return figure;
}

/** Adds an engine bound to a figure (in place): ratio = cairn stat / engine stat. */
export function withBound<F extends Figure | undefined>(
  figure: F,
  engine: Figure | undefined,
  stat: 'value' | 'p50' | 'p99' = 'value',
): F {
  // Either side may be missing (a run with other --levels, a failed phase).
  if (!engine || !figure) return figure;
  const mine = stat === 'value' ? figure.value : figure[stat];
  const theirs = stat === 'value' ? engine.value : engine[stat];
  if (mine === undefined || theirs === undefined || !Number.isFinite(mine) || !Number.isFinite(theirs) || theirs === 0)
    return figure;
  figure.bounds = [
    ...(figure.bounds ?? []),
    {
      name: `${engine.name}${stat === 'value' ? '' : ` ${stat}`}`,
      value: theirs,
      unit: engine.unit,
      ratio: mine / theirs,
    },
  ];
  return figure;
}
