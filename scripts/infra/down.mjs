#!/usr/bin/env node
// npm run infra:down [-- pg minio kafka es]  — stop engines started by infra:up (data is kept)
import { stopEngines } from './engines.mjs';

const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
try {
  await stopEngines({ log: (m) => console.log(m), only });
  process.exit(0);
} catch (e) {
  console.error(`infra:down failed: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
