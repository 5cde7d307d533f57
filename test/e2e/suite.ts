import { afterAll, afterEach, beforeAll } from 'vitest';
import { Api } from './api.js';
import { closeAll } from './client.js';
import {
  type Cluster,
  type ClusterOptions,
  e2eProfiles,
  type GatewayEndpoint,
  type Profile,
  startCluster,
} from './harness.js';

export { e2eProfiles };
export const profiles: Profile[] = e2eProfiles();

export interface ClusterHandle {
  cluster(): Cluster;
  /** The i-th gateway (the last one when there are fewer; so "gateway B" is gateway A on embedded). */
  gateway(i?: number): GatewayEndpoint;
  /** Operations against the i-th gateway (follows restarts). */
  api(i?: number): Api;
}

/**
 * Registers the hooks of one describe block: a cluster started in beforeAll and stopped in afterAll,
 * and every subscription closed after each test.
 */
export function useCluster(profile: Profile, options: Omit<ClusterOptions, 'profile'> = {}): ClusterHandle {
  let current: Cluster | null = null;
  const cluster = () => {
    if (!current) throw new Error('cluster not started (beforeAll failed?)');
    return current;
  };
  const gateway = (i = 0) => {
    const gws = cluster().gateways;
    const g = gws[Math.min(i, gws.length - 1)];
    if (!g) throw new Error('no gateway');
    return g;
  };
  beforeAll(async () => {
    current = await startCluster({ profile, ...options });
  });
  afterEach(async () => {
    await closeAll();
  });
  afterAll(async () => {
    await closeAll();
    await current?.stop();
    current = null;
  });
  return { cluster, gateway, api: (i = 0) => new Api(() => gateway(i).http) };
}
