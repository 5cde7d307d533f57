#!/usr/bin/env node
// npm run infra:up [-- pg minio kafka es] [--fetch-only]
//   obtain (once), start and wait for the local engines; writes .infra/env. --fetch-only: obtain, start nothing
import path from 'node:path';
import { ENV_FILE, ensureEngines, formatEnv } from './engines.mjs';

const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const fetchOnly = process.argv.includes('--fetch-only');
try {
  const env = await ensureEngines({ log: (m) => console.log(m), only, fetchOnly });
  if (fetchOnly) process.exit(0);
  console.log(`\n# ${path.relative(process.cwd(), ENV_FILE) || ENV_FILE}`);
  process.stdout.write(formatEnv(env));
  process.exit(0);
} catch (e) {
  console.error(`\ninfra:up failed: ${e instanceof Error ? e.message : e}`);
  process.exit(e?.missingPrereq ? 2 : 1);
}
