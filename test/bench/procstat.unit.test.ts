import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CpuMeter, ticksOf, waitForQuietMachine } from '../../bench/procstat.js';

describe('bench procstat', () => {
  it("keeps the CPU of a child that exited in its parent's ticks (PostgreSQL's closed backends)", () => {
    const before = ticksOf(process.pid, true) - ticksOf(process.pid);
    // A child that spins 400 ms of CPU and exits; spawnSync reaps it.
    spawnSync(process.execPath, ['-e', 'const end = Date.now() + 400; while (Date.now() < end);']);
    const reaped = ticksOf(process.pid, true) - ticksOf(process.pid) - before;
    // Clock ticks of 10 ms: the child's 400 ms, less what it spent before spinning at most.
    expect(reaped).toBeGreaterThanOrEqual(30);
  });

  it('waits for a quiet machine until it is quiet long enough, or until its deadline', async () => {
    // Any load is under 1,000 % of a core; none is under -1 %.
    expect(await waitForQuietMachine({ maxMs: 5_000, busyPct: 1_000, quietSeconds: 2 })).toEqual({
      waitedSeconds: 2,
      quiet: true,
    });
    const busy = await waitForQuietMachine({ maxMs: 1_500, busyPct: -1 });
    expect(busy).toEqual({ waitedSeconds: 2, quiet: false });
  });

  it("counts the CPU of the bench's own children that exited (the rebuild's CLI run) as cli", () => {
    const meter = new CpuMeter(() => new Map());
    const before = meter.snapshot();
    spawnSync(process.execPath, ['-e', 'const end = Date.now() + 400; while (Date.now() < end);']);
    const use = CpuMeter.between(before, meter.snapshot());
    // % of one core over the interval: the child's ~400 ms of CPU over ~450 ms of wall time.
    expect(use.cli).toBeGreaterThanOrEqual(50);
  });
});
