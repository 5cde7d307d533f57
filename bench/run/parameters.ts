import type { Profile } from '../cluster.js';

/** The command line as `parseArgs` gives it (the options are declared in bench/main.ts). */
export interface BenchArgs {
  quick?: boolean;
  profile?: string;
  'cpu-prof'?: boolean;
  keep?: boolean;
  out?: string;
  backlog?: string;
  subscribers?: string;
  levels?: string;
  'level-seconds'?: string;
  'backlog-seconds'?: string;
  'e2e-rate'?: string;
  'e2e-seconds'?: string;
  seed?: string;
}

/** A command-line value the bench cannot run with (main.ts prints it and exits with 2). */
export class BenchUsageError extends Error {}

/** The option's number, or `d` when it is not given; refuses anything but a positive (or, with `zero`, non-negative) number. */
const num = (name: keyof BenchArgs, v: string | undefined, d: number, { zero = false } = {}): number => {
  if (v === undefined) return d;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !zero))
    throw new BenchUsageError(`--${name} must be a ${zero ? 'non-negative' : 'positive'} number, not "${v}"`);
  return n;
};

/** The client counts of the mutation levels: positive integers, comma-separated. */
const levelsOf = (v: string | undefined): number[] => {
  if (v === undefined) return [1, 8, 32, 128];
  const levels = v.split(',').map(Number);
  if (!levels.every((n) => Number.isSafeInteger(n) && n > 0))
    throw new BenchUsageError(`--levels must be client counts separated by commas (1,8,32,128), not "${v}"`);
  return levels;
};

/** What a run does and for how long: the options given, the profile's defaults (smaller with --quick) for the rest. */
export function benchParameters(args: BenchArgs, profile: Profile) {
  const quick = args.quick ?? false;
  return {
    /**
     * Commits staged for the relay, projector and rebuild figures: the issue asks for relay and
     * projector on at least 50,000 events and the rebuild on 100,000, so one store of 100,000 serves
     * all three. Embedded: 50,000 (its gateway writes ~250/s here: 100,000 would not fit 10 minutes;
     * its relay and projector figures are bursts anyway).
     */
    backlog: num('backlog', args.backlog, quick ? 1_000 : profile === 'production' ? 100_000 : 50_000),
    /** The backlog write stops here even if `backlog` commits were not reached (the run stays bounded). */
    backlogBudgetMs:
      num('backlog-seconds', args['backlog-seconds'], quick ? 20 : profile === 'production' ? 360 : 180) * 1000,
    hot: quick ? 200 : 5_000,
    zipfS: 1.0,
    createRatio: 0.3,
    levels: levelsOf(args.levels),
    levelWarmupMs: quick ? 400 : 2_000,
    levelMs: num('level-seconds', args['level-seconds'], quick ? 2 : 15) * 1000,
    e2eRate: num('e2e-rate', args['e2e-rate'], quick ? 50 : 200),
    /** A rate given on the command line is used as is (to compare runs); otherwise capped by the measured throughput. */
    e2eRateFixed: args['e2e-rate'] !== undefined,
    e2eClients: 8,
    e2eWarmupMs: quick ? 500 : 2_000,
    e2eMs: num('e2e-seconds', args['e2e-seconds'], quick ? 2.5 : 20) * 1000,
    queryClients: 32,
    queryWarmupMs: quick ? 300 : 1_000,
    queryMs: quick ? 1_500 : 10_000,
    subscribers: num('subscribers', args.subscribers, quick ? 500 : 10_000),
    fanoutRounds: quick ? 2 : 3,
    seed: num('seed', args.seed, 20_240_601, { zero: true }),
  };
}

export type BenchParameters = ReturnType<typeof benchParameters>;
