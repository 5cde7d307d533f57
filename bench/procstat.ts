import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where the CPU went during a phase: CPU time of the Cairn processes, of the engines (found by their
 * command lines, read-only) and of the whole machine, from /proc. Linux only; elsewhere empty.
 */

const TICK = 100; // USER_HZ: clock ticks per second on Linux

export function ticksOf(pid: number, withReapedChildren = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime are fields 14 and 15 of the full line: 12 and 13 after "pid (comm) "; cutime and
    // cstime (16, 17) what its children used once they exited and were reaped.
    const own = Number(fields[11]) + Number(fields[12]);
    return withReapedChildren ? own + Number(fields[13]) + Number(fields[14]) : own;
  } catch {
    return 0;
  }
}

/**
 * CPU ticks of an engine's processes. PostgreSQL forks a backend per connection and a pool closes
 * idle ones, so a backend that exited between two readings would take its CPU with it: the
 * postmaster's reaped-children time keeps it in the sum.
 */
const engineTicks = (pids: number[]): number => pids.reduce((s, p) => s + ticksOf(p, true), 0);

/**
 * The machine's CPU ticks: busy (what its own processes and kernel ran), steal (what the hypervisor
 * gave other guests while this one wanted to run: on a shared host, capacity this run did not get)
 * and total. Steal was counted as busy before 2026-11-24.
 */
function machineTicks(): { busy: number; steal: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const steal = v[7] ?? 0;
    // guest and guest_nice (v[8], v[9]) are already inside user and nice.
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle - steal, steal, total };
  } catch {
    return { busy: 0, steal: 0, total: 0 };
  }
}

const ENGINES: [string, RegExp][] = [
  ['minio', /minio server/],
  ['kafka', /kafka\.Kafka/],
  ['elasticsearch', /CairnEs|org\.elasticsearch/],
  ['postgres', /^postgres|postgresql\/\d+\/bin\/postgres/],
];

function enginePids(): Map<string, number[]> {
  const out = new Map<string, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return out;
  }
  for (const e of entries) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    for (const [name, re] of ENGINES) {
      if (re.test(cmd)) out.set(name, [...(out.get(name) ?? []), Number(e)]);
    }
  }
  return out;
}

/**
 * Seconds since each running engine started (its oldest process), from /proc. A JVM's JIT compiler
 * works for minutes after a start (Elasticsearch's C2 threads took 1.6 of its 2.3 s of CPU over 12 s
 * five minutes after one), so figures measured right after `infra:up` or a restart run low.
 */
export function engineUptimes(): Record<string, number> {
  let now = 0;
  try {
    now = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  } catch {
    return {};
  }
  const out: Record<string, number> = {};
  for (const [engine, pids] of enginePids()) {
    const started = Math.min(...pids.map(startTicksOf).filter((t) => t > 0));
    if (Number.isFinite(started)) out[engine] = Math.round(now - started / TICK);
  }
  return out;
}

/** When a process started, in clock ticks since boot (field 22 of /proc/<pid>/stat), or 0. */
function startTicksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) || 0;
  } catch {
    return 0;
  }
}

/** CPU milliseconds used so far by an engine's processes (probes on the machine running the engines). */
export function engineCpuMs(engine: 'minio' | 'kafka' | 'elasticsearch' | 'postgres'): number {
  return (engineTicks(enginePids().get(engine) ?? []) * 1000) / TICK;
}

export interface CpuSnapshot {
  at: number;
  machine: { busy: number; steal: number; total: number };
  procs: Map<string, number>;
}

export class CpuMeter {
  private engines = enginePids();
  constructor(private readonly cairn: () => Map<string, number>) {}

  snapshot(): CpuSnapshot {
    // Postgres forks a backend per connection: look the engines up again each time.
    this.engines = enginePids();
    const procs = new Map<string, number>();
    for (const [name, pid] of this.cairn()) if (pid > 0) procs.set(name, ticksOf(pid));
    for (const [name, pids] of this.engines) procs.set(name, engineTicks(pids));
    procs.set('bench', ticksOf(process.pid));
    // The bench's child processes that exited (the rebuild's CLI run): reaped, so no longer listed.
    procs.set('cli', ticksOf(process.pid, true) - ticksOf(process.pid));
    return { at: performance.now(), machine: machineTicks(), procs };
  }

  /** CPU use between two snapshots, in % of one core (200 = both cores of a 2-core machine). */
  static between(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
    const secs = (b.at - a.at) / 1000;
    if (secs <= 0) return {};
    const out: Record<string, number> = {};
    let known = 0;
    for (const [name, ticks] of b.procs) {
      // A process started during the interval counts from zero; one that restarted is skipped.
      const before = a.procs.get(name) ?? 0;
      if (ticks < before) continue;
      const pct = ((ticks - before) / TICK / secs) * 100;
      out[name] = Math.round(pct);
      known += pct;
    }
    const machine = ((b.machine.busy - a.machine.busy) / TICK / secs) * 100;
    out.machine = Math.round(machine);
    out.other = Math.max(0, Math.round(machine - known));
    out.steal = Math.round(((b.machine.steal - a.machine.steal) / TICK / secs) * 100);
    return out;
  }
}

/** Flattens a CPU breakdown into figure parameters (`cpu.gateway` = 87, …). */
export function cpuParams(cpu: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(cpu).map(([k, v]) => [`cpu%.${k}`, v]));
}

/**
 * Waits until the machine is quiet: under `busyPct` (% of one core, every process and the kernel)
 * for `quietSeconds` seconds in a row, at most `maxMs`. Engines keep working after a run: MinIO
 * removes a dropped prefix's objects in the background for minutes (its trash clean-up, one unlink
 * after another), which a run started at once would measure as its own. Returns the seconds waited
 * and whether the machine got quiet.
 */
export async function waitForQuietMachine(options: {
  maxMs: number;
  busyPct?: number;
  quietSeconds?: number;
}): Promise<{ waitedSeconds: number; quiet: boolean }> {
  const { maxMs, busyPct = 25, quietSeconds = 3 } = options;
  const t0 = performance.now();
  let quiet = 0;
  while (quiet < quietSeconds && performance.now() - t0 < maxMs) {
    const a = machineTicks();
    await new Promise((r) => setTimeout(r, 1_000));
    const b = machineTicks();
    quiet = ((b.busy - a.busy) / TICK) * 100 < busyPct ? quiet + 1 : 0;
  }
  return { waitedSeconds: Math.round((performance.now() - t0) / 1000), quiet: quiet >= quietSeconds };
}
