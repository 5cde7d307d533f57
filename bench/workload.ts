import type { GqlClient, GqlError } from './http.js';
import { round, WindowCounter } from './stats.js';

/** The data model and the load generators: a Zipf-skewed create/update mix, and query loops. */

export const CLASS_ID = 'item';
/** The properties of the bench's class (the values `instanceProperties` makes). */
export const CLASS_PROPERTIES = [
  { name: 'n', type: 'INT' },
  { name: 'score', type: 'FLOAT' },
  { name: 'tag', type: 'STRING' },
  { name: 'title', type: 'STRING' },
];

export const CREATE_DATABASE = `mutation($input: CreateDatabaseInput!) { createDatabase(input: $input) { seq } }`;
export const CREATE_CLASS = `mutation($input: CreateOntologyClassInput!) { createOntologyClass(input: $input) { seq } }`;
export const CREATE_INSTANCE = `mutation C($input: CreateInstanceInput!) {
  createInstance(input: $input) { seq eventId instance { id seq } }
}`;
export const UPDATE_INSTANCE = `mutation U($input: UpdateInstanceInput!) {
  updateInstance(input: $input) { seq eventId instance { id seq } }
}`;
export const INSTANCE_BY_ID = `query I($database: ID!, $id: ID!) {
  instance(database: $database, id: $id) { id classId seq properties updatedAt }
}`;
export const INSTANCE_PAGE = `query P($database: ID!, $classId: ID!, $min: JSON!) {
  instances(database: $database, classId: $classId, where: [{ property: "n", gte: $min }],
            orderBy: [{ property: "score", direction: DESC }], first: 100) {
    totalCount
    edges { node { id seq properties class { id } } }
  }
}`;

/** Deterministic PRNG (mulberry32), so a run's choices are reproducible from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf(s) over ranks 0..n-1 by inverse CDF (binary search). */
export class Zipf {
  private readonly cdf: Float64Array;
  constructor(
    readonly n: number,
    readonly s: number,
  ) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 1; k <= n; k++) {
      sum += 1 / k ** s;
      this.cdf[k - 1] = sum;
    }
    for (let k = 0; k < n; k++) this.cdf[k]! /= sum;
  }
  /** Share of draws landing on rank 0 (the hottest aggregate). */
  get hottestShare(): number {
    return this.cdf[0]!;
  }
  sample(random: () => number): number {
    const u = random();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const WORDS = [
  'alpha',
  'bravo',
  'cairn',
  'delta',
  'event',
  'fjord',
  'gneiss',
  'heath',
  'islet',
  'joint',
  'karst',
  'loess',
];

export function instanceProperties(random: () => number): Record<string, unknown> {
  const words = Array.from({ length: 6 }, () => WORDS[Math.floor(random() * WORDS.length)]!).join(' ');
  return {
    n: Math.floor(random() * 10_000),
    score: Math.round(random() * 1e6) / 1e3,
    tag: `t${Math.floor(random() * 20)}`,
    title: words,
  };
}

/** Aggregates the bench knows, with the last acknowledged seq of each. */
export class AggregatePool {
  readonly ids: string[] = [];
  readonly seq = new Map<string, number>();
  private next = 0;
  constructor(
    readonly database: string,
    private readonly prefix: string,
  ) {}
  newId(): string {
    return `${this.prefix}${(this.next++).toString(36)}`;
  }
  acknowledged(id: string, seq: number): void {
    const known = this.seq.get(id);
    if (known === undefined) this.ids.push(id);
    if (known === undefined || seq > known) this.seq.set(id, seq);
  }
}

export interface MixOptions {
  client: GqlClient;
  pool: AggregatePool;
  concurrency: number;
  /** Share of creates (the rest updates Zipf-chosen aggregates of `hot`). */
  createRatio: number;
  /** Aggregates updates choose from, by Zipf rank (index 0 = hottest). */
  hot: readonly string[];
  zipf: Zipf;
  random: () => number;
  warmupMs: number;
  /** Stop after this long (measured part), or … */
  durationMs?: number;
  /** … after this many mutations were started (warm-up included). */
  count?: number;
  /** Open-loop pacing: at most this many mutations started per second over all clients. */
  ratePerSecond?: number;
  /** Called right before a mutation is sent, with the id and the seq it would produce. */
  onSend?: (id: string, seq: number, at: number) => void;
  maxConflictRetries?: number;
}

export interface MixResult {
  /** Acknowledgement latency (ms) of successful requests in the measured window. */
  latencies: number[];
  createLatencies: number[];
  updateLatencies: number[];
  acknowledged: number;
  /** Of the acknowledged, creates. */
  created: number;
  /** Acknowledged in the measured window. */
  measured: number;
  measuredSeconds: number;
  windowRates: number[];
  conflicts: number;
  conflictRetries: number;
  conflictGaveUp: number;
  conflictLatencies: number[];
  errors: number;
  errorCodes: Record<string, number>;
  firstErrors: string[];
}

const codeOf = (errors: GqlError[]): string => errors[0]?.extensions?.code ?? 'UNKNOWN';

/** Closed-loop (or paced) clients issuing the create/update mix; tracks expectedSeq per aggregate. */
export async function runMix(o: MixOptions): Promise<MixResult> {
  const r: MixResult = {
    latencies: [],
    createLatencies: [],
    updateLatencies: [],
    acknowledged: 0,
    created: 0,
    measured: 0,
    measuredSeconds: 0,
    windowRates: [],
    conflicts: 0,
    conflictRetries: 0,
    conflictGaveUp: 0,
    conflictLatencies: [],
    errors: 0,
    errorCodes: {},
    firstErrors: [],
  };
  const start = performance.now();
  const measureFrom = start + o.warmupMs;
  const stopAt = o.durationMs !== undefined ? measureFrom + o.durationMs : Number.POSITIVE_INFINITY;
  const windows = new WindowCounter(measureFrom);
  const maxRetries = o.maxConflictRetries ?? 5;
  let started = 0;
  const done = () => performance.now() >= stopAt || (o.count !== undefined && started >= o.count);

  const recordError = (what: string) => {
    r.errors++;
    r.errorCodes[what] = (r.errorCodes[what] ?? 0) + 1;
  };

  const pace = async () => {
    if (!o.ratePerSecond) return;
    const due = start + (started / o.ratePerSecond) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  };

  async function one(): Promise<void> {
    const create = o.hot.length === 0 || o.random() < o.createRatio;
    if (create) {
      const id = o.pool.newId();
      const input = { database: o.pool.database, classId: CLASS_ID, id, properties: instanceProperties(o.random) };
      const sentAt = performance.now();
      o.onSend?.(id, 1, sentAt);
      const res = await o.client.post<{ createInstance: { seq: number } }>(CREATE_INSTANCE, { input });
      if (res.data?.createInstance) {
        o.pool.acknowledged(id, res.data.createInstance.seq);
        account(sentAt, res.ms, true);
      } else {
        recordError(codeOf(res.errors));
        if (r.firstErrors.length < 5) r.firstErrors.push(JSON.stringify(res.errors).slice(0, 300));
      }
      return;
    }
    const id = o.hot[o.zipf.sample(o.random)]!;
    for (let attempt = 0; ; attempt++) {
      const expectedSeq = o.pool.seq.get(id) ?? 1;
      const input = {
        database: o.pool.database,
        id,
        expectedSeq,
        set: { n: Math.floor(o.random() * 10_000), score: o.random() * 1000 },
      };
      const sentAt = performance.now();
      o.onSend?.(id, expectedSeq + 1, sentAt);
      const res = await o.client.post<{ updateInstance: { seq: number } }>(UPDATE_INSTANCE, { input });
      if (res.data?.updateInstance) {
        o.pool.acknowledged(id, res.data.updateInstance.seq);
        account(sentAt, res.ms, false);
        return;
      }
      const code = codeOf(res.errors);
      if (code !== 'CONFLICT') {
        recordError(code);
        if (r.firstErrors.length < 5) r.firstErrors.push(JSON.stringify(res.errors).slice(0, 300));
        return;
      }
      if (sentAt >= measureFrom && sentAt < stopAt) {
        r.conflicts++;
        r.conflictLatencies.push(res.ms);
      }
      const actual = res.errors[0]?.extensions?.actualSeq;
      if (typeof actual === 'number') o.pool.acknowledged(id, actual);
      if (attempt >= maxRetries) {
        r.conflictGaveUp++;
        return;
      }
      r.conflictRetries++;
    }
  }

  function account(sentAt: number, ms: number, create: boolean): void {
    r.acknowledged++;
    if (create) r.created++;
    const end = sentAt + ms;
    if (sentAt >= measureFrom && end <= stopAt) {
      r.measured++;
      r.latencies.push(ms);
      (create ? r.createLatencies : r.updateLatencies).push(ms);
      windows.add(end);
    }
  }

  async function worker(): Promise<void> {
    while (!done()) {
      started++;
      await pace();
      try {
        await one();
      } catch (e) {
        recordError('TRANSPORT');
        if (r.firstErrors.length < 5) r.firstErrors.push(e instanceof Error ? e.message : String(e));
      }
    }
  }

  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const end = Math.min(performance.now(), stopAt);
  r.measuredSeconds = Math.max(0, (end - measureFrom) / 1000);
  r.windowRates = windows.rates(end);
  return r;
}

/** The parameters every latency figure of a runLoop carries. */
export const loopParams = (r: LoopResult, concurrency: number, durationMs: number) => ({
  concurrency,
  ratePerSecond: round(r.completed / r.seconds, 1),
  errors: r.errors,
  durationMs,
});

export interface LoopResult {
  /** Every call sent in the window (see runLoop). */
  latencies: number[];
  /** Calls that completed inside the window: with `seconds`, the throughput. */
  completed: number;
  /** The window: `durationMs`, or longer when it had to wait for a first completion. */
  seconds: number;
  windowRates: number[];
  errors: number;
  firstErrors: string[];
}

/**
 * `concurrency` clients calling `op` back to back for `durationMs` after `warmupMs`. Every call sent
 * in the window counts, however long it takes (leaving out the ones still running at the end would
 * drop the slowest); when no call has completed by the end (each slower than the whole window, on a
 * busy machine), clients go on, up to ten windows more, until one has.
 */
export async function runLoop(
  concurrency: number,
  warmupMs: number,
  durationMs: number,
  op: () => Promise<{ ms: number; ok: boolean; error?: string }>,
): Promise<LoopResult> {
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const stopAt = measureFrom + durationMs;
  const giveUpAt = stopAt + 10 * durationMs;
  const windows = new WindowCounter(measureFrom);
  const out: LoopResult = {
    latencies: [],
    completed: 0,
    seconds: durationMs / 1000,
    windowRates: [],
    errors: 0,
    firstErrors: [],
  };
  let lastSent = stopAt;
  const sending = () => {
    const now = performance.now();
    return now < stopAt || (out.latencies.length === 0 && out.errors === 0 && now < giveUpAt);
  };
  async function worker(): Promise<void> {
    while (sending()) {
      const sentAt = performance.now();
      lastSent = Math.max(lastSent, sentAt);
      try {
        const res = await op();
        if (!res.ok) {
          out.errors++;
          if (out.firstErrors.length < 5 && res.error) out.firstErrors.push(res.error);
        } else if (sentAt >= measureFrom) {
          out.latencies.push(res.ms);
          if (sentAt + res.ms <= Math.max(stopAt, lastSent)) {
            out.completed++;
            windows.add(sentAt + res.ms);
          }
        }
      } catch (e) {
        out.errors++;
        if (out.firstErrors.length < 5) out.firstErrors.push(e instanceof Error ? e.message : String(e));
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  out.seconds = (lastSent - measureFrom) / 1000;
  out.windowRates = windows.rates(lastSent);
  return out;
}
