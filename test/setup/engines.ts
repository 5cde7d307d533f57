import type { TestProject } from 'vitest/node';
import { sweepNamespaces } from '../support/namespace.js';

/** The environment a process needs to reach the real engines (the keys of `.infra/env`). */
export interface EngineEnv {
  DATABASE_URL: string;
  S3_ENDPOINT: string;
  S3_REGION: string;
  S3_ACCESS_KEY_ID: string;
  S3_SECRET_ACCESS_KEY: string;
  S3_FORCE_PATH_STYLE: string;
  KAFKA_BROKERS: string;
  ELASTICSEARCH_URL: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    engines: EngineEnv;
  }
}

/** A test or bench namespace this old belongs to a run that was killed (runs last well under an hour). */
const ABANDONED_AFTER_MS = 6 * 3600_000;

/** Starts (or reuses) the four engines once per run and hands their endpoints to the tests. */
export default async function setup(project: TestProject): Promise<void> {
  // @ts-expect-error plain ESM script without types
  const { ensureEngines } = (await import('../../scripts/infra/engines.mjs')) as {
    ensureEngines: (o: { log: (m: string) => void }) => Promise<EngineEnv>;
  };
  const env = await ensureEngines({ log: (m) => console.log(`[engines] ${m}`) });
  const swept = await sweepNamespaces(env, Date.now() - ABANDONED_AFTER_MS);
  if (swept > 0) console.log(`[engines] dropped ${swept} namespaces left by runs that did not clean up`);
  project.provide('engines', env);
}
