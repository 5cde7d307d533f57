/**
 * Where a lone client's mutation spends its time. Starts a gateway in this process (production
 * adapters, a fresh namespace, the gateway role alone), times the ledger reservation and the commit's
 * append around the adapters, and sends creates one after another over HTTP; then the same port
 * calls without the gateway around them, a raw conditional PUT of the same bytes, and a GraphQL
 * round trip that does nothing (`{ __typename }`). Needs `npm run infra:up`; leaves nothing behind.
 *
 *   npx tsx bench/ack-probe.ts [--mutations 300] [--gap-ms 0]
 *
 * `--gap-ms` waits between mutations (an idle machine answers a lone request more slowly).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { httpS3Api } from '../src/adapters/eventStore/s3Api.js';
import { loadConfig } from '../src/config/config.js';
import { type Commit, serializeCommit } from '../src/core/envelope.js';
import { createLogger } from '../src/observability/logger.js';
import { startCairn } from '../src/runtime/cairn.js';
import { createProductionAdapters } from '../src/runtime/production.js';
import { dropNamespace } from '../test/support/namespace.js';
import { engineEnv, missingEngines, namespace } from './cluster.js';
import { GqlClient } from './http.js';
import { percentile } from './stats.js';

const { values } = parseArgs({
  options: { mutations: { type: 'string', default: '300' }, 'gap-ms': { type: 'string', default: '0' } },
});
const count = Number(values.mutations);
const gapMs = Number(values['gap-ms']);
if (!(count > 0) || !(gapMs >= 0)) throw new Error('--mutations must be > 0, --gap-ms >= 0');

const engines = engineEnv();
const missing = missingEngines(engines);
if (missing) {
  process.stderr.write(`${missing}\n`);
  process.exit(2);
}
const ns = namespace();
const config = loadConfig({
  ...engines,
  ...ns,
  CAIRN_PROFILE: 'production',
  CAIRN_ROLES: 'gateway',
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'warn',
});
const logger = createLogger('warn');
const adapters = await createProductionAdapters(config, logger);

const timings = new Map<string, number[]>();
const record = (label: string, ms: number) => {
  const list = timings.get(label);
  if (list) list.push(ms);
  else timings.set(label, [ms]);
};
const timed = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
  const started = performance.now();
  try {
    return await run();
  } finally {
    record(label, performance.now() - started);
  }
};

// The gateway's own calls, timed where they leave it.
const { sequenceStore, eventStore } = adapters;
const reserve = sequenceStore.reserve.bind(sequenceStore);
const appendCommit = eventStore.appendCommit.bind(eventStore);
let measuring = false;
sequenceStore.reserve = (request) =>
  measuring ? timed('in a mutation: reserve', () => reserve(request)) : reserve(request);
eventStore.appendCommit = (commit) =>
  measuring ? timed('in a mutation: append (commit PUT)', () => appendCommit(commit)) : appendCommit(commit);

const cairn = await startCairn(config, adapters, logger);
const client = new GqlClient(cairn.url, 1);
const database = 'ackprobe';
try {
  await client.must('mutation($i: CreateDatabaseInput!) { createDatabase(input: $i) { seq } }', {
    i: { name: database },
  });
  await client.must('mutation($i: CreateOntologyClassInput!) { createOntologyClass(input: $i) { seq } }', {
    i: { database, id: 'c', properties: [{ name: 'n', type: 'INT' }] },
  });
  const create = 'mutation($i: CreateInstanceInput!) { createInstance(input: $i) { seq } }';

  measuring = true;
  for (let i = 0; i < count; i++) {
    const res = await client.post(create, { i: { database, classId: 'c', id: `m${i}`, properties: { n: i } } });
    if (res.errors.length > 0) throw new Error(JSON.stringify(res.errors));
    record('mutation, client to answer', res.ms);
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  measuring = false;

  for (let i = 0; i < count; i++) record('GraphQL { __typename }', (await client.post('{ __typename }')).ms);
  const classKey = `ONTOLOGY_CLASS:${database}/c`;
  for (let i = 0; i < count; i++) {
    await timed('alone: reserve', () =>
      reserve({
        key: `INSTANCE:${database}/r${i}`,
        expectedSeq: 0,
        nextSeq: 1,
        liveAfter: true,
        parent: classKey,
        requireLive: [`DATABASE:${database}`, classKey],
        forbidLiveChildren: false,
        requireVersion: [{ key: classKey, seq: 1 }],
      }),
    );
  }
  const commitOf = (id: string): Commit => {
    const aggregateId = `${database}/${id}`;
    const base = {
      envelopeVersion: 1,
      aggregateType: 'INSTANCE' as const,
      aggregateId,
      schemaVersion: 1,
      occurredAt: new Date().toISOString(),
      actor: 'ack-probe',
      correlationId: randomUUID(),
      idempotencyKey: null,
      metadata: {},
      seq: 1,
    };
    const commandId = randomUUID();
    return {
      aggregateType: 'INSTANCE',
      aggregateId,
      seq: 1,
      envelopes: [
        { ...base, eventId: commandId, kind: 'command', type: 'CreateInstance', causationId: null, payload: { id } },
        {
          ...base,
          eventId: randomUUID(),
          kind: 'domain',
          type: 'InstanceCreated',
          causationId: commandId,
          payload: { classId: 'c', properties: { n: 1 } },
        },
      ],
    };
  };
  for (let i = 0; i < count; i++) {
    // Each entry awaited before the next commit: the commit PUT alone, as a lone client's would be.
    const { indexed } = await timed('alone: append (commit PUT)', () => appendCommit(commitOf(`a${i}`)));
    await indexed;
  }
  const raw = httpS3Api({
    endpoint: config.s3.endpoint,
    region: config.s3.region,
    accessKeyId: config.s3.accessKeyId,
    secretAccessKey: config.s3.secretAccessKey,
    bucket: config.s3.bucket,
    forcePathStyle: config.s3.forcePathStyle,
    timeoutMs: 10_000,
  });
  const body = serializeCommit(commitOf('raw'));
  for (let i = 0; i < count; i++) {
    await timed('raw conditional PUT, same bytes', () =>
      raw.put(`${ns.S3_PREFIX}ack-probe/${i}.jsonl`, body, { ifNoneMatch: true, contentType: 'application/x-ndjson' }),
    );
  }
  raw.destroy?.();
} finally {
  client.close();
  await cairn.stop(); // closes the adapters too
  await dropNamespace(engines, ns);
}

for (const [label, list] of timings) {
  const sorted = [...list].sort((a, b) => a - b);
  const f = (q: number) => percentile(sorted, q).toFixed(2);
  process.stdout.write(`${label.padEnd(36)} n=${list.length}  p50 ${f(50)}  p90 ${f(90)}  p99 ${f(99)} ms\n`);
}
