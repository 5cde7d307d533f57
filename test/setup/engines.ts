import type { TestProject } from 'vitest/node';

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

/** Starts (or reuses) the four engines once per run and hands their endpoints to the tests. */
export default async function setup(project: TestProject): Promise<void> {
  // @ts-expect-error plain ESM script without types
  const { ensureEngines } = (await import('../../scripts/infra/engines.mjs')) as {
    ensureEngines: (o: { log: (m: string) => void }) => Promise<EngineEnv>;
  };
  const env = await ensureEngines({ log: (m) => console.log(`[engines] ${m}`) });
  project.provide('engines', env);
}
