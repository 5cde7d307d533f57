/**
 * MinIO's own CPU per request kind, for the requests Cairn makes: serial requests of each kind on
 * small objects (the size of a commit), MinIO's CPU from /proc (run it on the machine that runs
 * MinIO: `npm run infra:up` first). Leaves nothing behind.
 *
 *   npx tsx bench/minio-probe.ts [--requests 300] [--bytes 1200]
 */
import { parseArgs } from 'node:util';
import { httpS3Api } from '../src/adapters/eventStore/s3Api.js';
import { engineEnv } from './cluster.js';
import { engineCpuMs } from './procstat.js';

const { values } = parseArgs({
  options: { requests: { type: 'string', default: '300' }, bytes: { type: 'string', default: '1200' } },
});
const n = Number(values.requests);
const body = 'x'.repeat(Number(values.bytes));
const env = engineEnv();
const s3 = httpS3Api({
  endpoint: env.S3_ENDPOINT!,
  region: env.S3_REGION ?? 'us-east-1',
  accessKeyId: env.S3_ACCESS_KEY_ID!,
  secretAccessKey: env.S3_SECRET_ACCESS_KEY!,
  bucket: env.S3_BUCKET ?? 'cairn-events',
  forcePathStyle: (env.S3_FORCE_PATH_STYLE ?? 'true') !== 'false',
  timeoutMs: 10_000,
});
const prefix = `minio-probe-${Date.now().toString(36)}/`;
const keys = (set: string) => Array.from({ length: n }, (_, i) => `${prefix}${set}/${i}`);

async function measure(name: string, requests: number, perRequest: number, run: (i: number) => Promise<unknown>) {
  const cpu0 = engineCpuMs('minio');
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) await run(i);
  const wall = (performance.now() - t0) / requests;
  const cpu = (engineCpuMs('minio') - cpu0) / requests;
  const per = perRequest > 1 ? `, ${(cpu / perRequest).toFixed(2)} ms per key` : '';
  console.log(`${name.padEnd(30)} ${wall.toFixed(2)} ms per request, MinIO CPU ${cpu.toFixed(2)} ms per request${per}`);
}

const plain = keys('plain');
const conditional = keys('conditional');
await measure(`PUT ${body.length} B`, n, 1, (i) => s3.put(plain[i]!, body));
await measure(`PUT ${body.length} B, If-None-Match`, n, 1, (i) => s3.put(conditional[i]!, body, { ifNoneMatch: true }));
// Cairn's layout: a create makes its aggregate's folder, an update writes into it (MinIO keeps each
// object as a folder of its own, so a key's depth is file-system work).
const created = (i: number) => `${prefix}events/INSTANCE/db/${i}/${'1'.padStart(10, '0')}.jsonl`;
const updated = (i: number) => `${prefix}events/INSTANCE/db/${i}/${'2'.padStart(10, '0')}.jsonl`;
await measure(`PUT ${body.length} B, If-None-Match, a new aggregate's first commit`, n, 1, (i) =>
  s3.put(created(i), body, { ifNoneMatch: true }),
);
await measure(`PUT ${body.length} B, If-None-Match, an aggregate's next commit`, n, 1, (i) =>
  s3.put(updated(i), body, { ifNoneMatch: true }),
);
await measure('GET', n, 1, (i) => s3.get(plain[i]!));
await measure('LIST of an empty prefix', n, 1, () => s3.list({ prefix: `${prefix}none/`, maxKeys: 1000 }));
await measure('DeleteObjects, 1 key', n, 1, (i) => s3.deleteMany([plain[i]!]));
await measure('DeleteObjects, 50 keys', Math.floor(n / 50), 50, (i) =>
  s3.deleteMany(conditional.slice(i * 50, i * 50 + 50)),
);
await s3.deleteMany(conditional.slice(Math.floor(n / 50) * 50));
for (let i = 0; i < n; i += 500) {
  const batch = Array.from({ length: Math.min(500, n - i) }, (_, j) => [created(i + j), updated(i + j)]).flat();
  await s3.deleteMany(batch);
}
