import { describe, expect, it } from 'vitest';
import { Api } from './api.js';
import { expectData, subscribe } from './client.js';
import { type Cluster, startCluster } from './harness.js';
import { profiles } from './suite.js';
import type { InstanceChange } from './types.js';

/**
 * Start-up of a scaled-out production cluster: several gateways started at the same time (as an
 * orchestrator does) must all come up and share one change feed. Embedded is a single process.
 */
// Only production profiles: an embedded cluster is a single process with nothing to race.
const scaledOut = profiles.filter((p) => p === 'production');

describe.each(scaledOut)('start-up (%s)', (profile) => {
  // The race (both gateways creating the fresh change topic) does not always hit: three fresh clusters.
  it('two gateways started at the same time both come up and serve (3 tries)', async () => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      let cluster: Cluster | null = null;
      try {
        cluster = await startCluster({ profile, gateways: 2, parallelGatewayStart: true }).catch((e: unknown) => {
          throw new Error(`attempt ${attempt}: ${e instanceof Error ? e.message : String(e)}`);
        });
        const [a, b] = cluster.gateways;
        const apiA = new Api(() => a!.http);
        const apiB = new Api(() => b!.http);
        const db = (await apiA.newDatabase()).database.name;
        await apiA.newClass(db, 'k', [{ name: 'v', type: 'INT' }]);
        const sub = await subscribe<{ instanceChanged: InstanceChange }>(
          b!.ws,
          'subscription($database: ID!) { instanceChanged(database: $database) { id seq change } }',
          { database: db },
        );
        await apiA.newInstance(db, 'k', { v: 1 }, 'i');
        expect((await sub.next()).instanceChanged).toEqual({ id: 'i', seq: 1, change: 'CREATED' });
        expect(expectData(await apiB.instance(db, 'i', 1)).instance).toMatchObject({ seq: 1 });
        await sub.close();
      } finally {
        await cluster?.stop();
      }
    }
  }, 180_000);
});

describe.each(profiles)('start-up health (%s)', (profile) => {
  it('every gateway answers /health with its profile', async () => {
    const cluster = await startCluster({ profile });
    try {
      for (const g of cluster.gateways) {
        const res = await fetch(`${g.base}/health`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { profile: string }).profile).toBe(profile);
      }
    } finally {
      await cluster.stop();
    }
  });
});
