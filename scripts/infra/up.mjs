#!/usr/bin/env node
// npm run infra:up [-- pg minio kafka es]  — obtain (once), start and wait for the local engines; writes .infra/env
import path from 'node:path';
import { ENV_FILE, ensureEngines, formatEnv } from './engines.mjs';

const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
try {
  const env = await ensureEngines({ log: (m) => console.log(m), only });
  console.log(`\n# ${path.relative(process.cwd(), ENV_FILE) || ENV_FILE}`);
  process.stdout.write(formatEnv(env));
  process.exit(0);
} catch (e) {
  console.error(`\ninfra:up failed: ${e instanceof Error ? e.message : e}`);
  process.exit(e?.missingPrereq ? 2 : 1);
}
