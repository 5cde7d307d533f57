import { parseArgs } from 'node:util';
// @ts-expect-error plain ESM script without types
import { ensureEngines, killEngine } from '../../scripts/infra/engines.mjs';
import { closeAll } from '../e2e/client.js';
import { startCluster } from '../e2e/harness.js';
import { FAST_FAILOVER } from './support.js';
import { runFaultsUnderLoad } from './underLoad.js';

/**
 * The faults-under-load run at a size chosen by a human: `npm run soak -- --mutations 20000
 * [--clients 16] [--outage-seconds 0]` (how long each engine stays down after its probe). Same faults and checks as test/fault/underLoad.fault.test.ts; prints the report
 * and exits 1 when a guarantee did not hold.
 */
const { values } = parseArgs({
  options: {
    mutations: { type: 'string', default: '10000' },
    clients: { type: 'string', default: '16' },
    'outage-seconds': { type: 'string', default: '0' },
  },
});
const outageMs = Number(values['outage-seconds']) * 1000;
if (!Number.isFinite(outageMs) || outageMs < 0) throw new Error('--outage-seconds must be a number ≥ 0');
const mutations = Number(values.mutations);
const clients = Number(values.clients);
if (!Number.isInteger(mutations) || mutations < 1) throw new Error('--mutations must be a positive integer');
if (!Number.isInteger(clients) || clients < 1) throw new Error('--clients must be a positive integer');

const engines = await ensureEngines({ log: (m: string) => console.log(`[engines] ${m}`) });
const cluster = await startCluster({
  profile: 'production',
  gateways: 2,
  engines,
  env: { ...FAST_FAILOVER, CAIRN_DEPENDENCY_TIMEOUT_MS: '2000' },
});
try {
  const report = await runFaultsUnderLoad({
    cluster,
    engines: {
      kill: (name) => killEngine(name),
      restart: async (name) => {
        await new Promise((r) => setTimeout(r, outageMs));
        await ensureEngines({ only: [name], writeEnv: false, log: () => {} });
      },
    },
    clients,
    warmup: Math.max(100, Math.floor(mutations / 10)),
    atLeast: mutations,
    failFastMs: 6_000,
    // Two engines go down back to back (MinIO, then PostgreSQL): a write may wait out both.
    retryBudgetMs: 180_000 + 2 * outageMs,
    log: (line) => console.log(`[soak] ${line}`),
  });
  const codes: Record<string, number> = {};
  for (const e of report.load.errors) codes[e.code] = (codes[e.code] ?? 0) + 1;
  const held =
    report.check.missing === 0 &&
    report.check.duplicates === 0 &&
    report.check.storedDomainEvents === report.check.acknowledged &&
    report.drift === 0 &&
    report.load.hangs === 0 &&
    report.load.abandoned === 0 &&
    Object.keys(codes).every((c) => c === 'UNAVAILABLE' || c === 'CONFLICT');
  console.log(
    JSON.stringify(
      {
        faults: report.faults,
        check: report.check,
        drift: report.drift,
        errorsByCode: codes,
        downProbes: report.downProbes,
        networkFailures: report.load.networkFailures,
        hangs: report.load.hangs,
        abandoned: report.load.abandoned,
      },
      null,
      2,
    ),
  );
  console.log(held ? 'soak: every guarantee held' : 'soak: A GUARANTEE DID NOT HOLD');
  process.exitCode = held ? 0 : 1;
} finally {
  await closeAll();
  await cluster.stop();
}
