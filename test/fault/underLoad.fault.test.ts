import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { ensureEngines, killEngine } from '../../scripts/infra/engines.mjs';
import { closeAll } from '../e2e/client.js';
import { type Cluster, startCluster } from '../e2e/harness.js';
import { FAST_FAILOVER } from './support.js';
import { type FaultReport, runFaultsUnderLoad } from './underLoad.js';

/** A dependency call gives up after this, and a request after its budget, whatever its calls. */
const DEPENDENCY_TIMEOUT_MS = 2_000;
const REQUEST_TIMEOUT_MS = 4_000;
/** An answer given at the budget still travels to the client through a machine loaded by the test. */
const ANSWER_SLACK_MS = 1_000;

const engines = {
  kill: (name: string): Promise<void> => killEngine(name),
  restart: async (name: string): Promise<void> => {
    await ensureEngines({ only: [name], writeEnv: false, log: () => {} });
  },
};

describe('faults under load (production)', () => {
  let cluster: Cluster;
  let report: FaultReport;

  beforeAll(async () => {
    cluster = await startCluster({
      profile: 'production',
      gateways: 2,
      env: {
        ...FAST_FAILOVER,
        CAIRN_DEPENDENCY_TIMEOUT_MS: String(DEPENDENCY_TIMEOUT_MS),
        CAIRN_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      },
    });
    report = await runFaultsUnderLoad({
      cluster,
      engines,
      clients: 8,
      warmup: 150,
      atLeast: 0,
      failFastMs: REQUEST_TIMEOUT_MS + ANSWER_SLACK_MS,
      log: (line) => console.log(`[faults] ${line}`),
    });
    console.log('[faults] report', JSON.stringify({ ...report, load: summary(report) }, null, 2));
  }, 900_000);
  afterAll(async () => {
    await closeAll();
    await cluster?.stop();
  });

  it('killed every Cairn process and every engine while the load ran', () => {
    expect(report.faults).toHaveLength(cluster.names().length + 4);
    expect(report.load.acknowledged.length).toBeGreaterThan(300);
  });

  it('stored every acknowledged mutation exactly once, and nothing else', () => {
    expect(report.check.missing).toBe(0);
    expect(report.check.duplicates).toBe(0);
    expect(report.check.storedDomainEvents).toBe(report.check.acknowledged);
  });

  it('projected everything at its final seq (consistency check: no drift)', () => {
    expect(report.drift).toBe(0);
  });

  it('answered with contract codes only: UNAVAILABLE while a dependency was down, never a hang or an internal error', () => {
    const codes = new Set(report.load.errors.map((e) => e.code));
    expect([...codes].filter((c) => c !== 'UNAVAILABLE' && c !== 'CONFLICT')).toEqual([]);
    expect(report.load.hangs).toBe(0);
    expect(report.load.abandoned).toBe(0);
    const slowest = Math.max(0, ...report.load.errors.filter((e) => e.code === 'UNAVAILABLE').map((e) => e.ms));
    expect(slowest).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS + ANSWER_SLACK_MS);
  });

  it('while an engine was down, /health named it and requests needing it failed fast with UNAVAILABLE', () => {
    for (const probe of report.downProbes) {
      expect(probe, probe.engine).toMatchObject({ healthSaidDown: true });
      if (probe.engine !== 'kafka') expect(probe, probe.engine).toMatchObject({ code: 'UNAVAILABLE' });
      expect(probe.ms, probe.engine).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS + ANSWER_SLACK_MS);
    }
  });
});

function summary(report: FaultReport) {
  const byCode: Record<string, number> = {};
  for (const e of report.load.errors) byCode[e.code] = (byCode[e.code] ?? 0) + 1;
  const { acknowledged, finalSeq: _f, errors: _e, ...rest } = report.load;
  return { acknowledged: acknowledged.length, errorsByCode: byCode, ...rest };
}
