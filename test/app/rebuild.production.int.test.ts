import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createS3EventStore } from '../../src/adapters/eventStore/s3.js';
import type { S3Api } from '../../src/adapters/eventStore/s3Api.js';
import { createPostgresIdempotencyStore } from '../../src/adapters/idempotencyStore/postgres.js';
import { migrate } from '../../src/adapters/postgres/migrate.js';
import { quoteIdent } from '../../src/adapters/postgres/sql.js';
import { createMemoryReadModel } from '../../src/adapters/readModel/memory.js';
import { createPostgresSequenceStore } from '../../src/adapters/sequenceStore/postgres.js';
import { createAggregateRepository } from '../../src/app/aggregateRepository.js';
import { type CommandService, createCommandService } from '../../src/app/commandService.js';
import { rebuildReadModel } from '../../src/app/rebuild.js';
import { type AggregateType, aggregateKey } from '../../src/core/aggregate.js';
import type { Commit } from '../../src/core/envelope.js';
import type { EventStore, UnpublishedRef } from '../../src/ports/eventStore.js';
import type { ProjectedDoc } from '../../src/ports/readModel.js';
import type { SequenceStore } from '../../src/ports/sequenceStore.js';
import { randomId } from '../support/ids.js';
import { TEST_BUCKET, testS3Api } from '../support/s3.js';

const schemas: string[] = [];
const meta = { idempotencyKey: null, actor: 'test', correlationId: 'c' };
let pool: pg.Pool;
let s3: S3Api;

beforeAll(async () => {
  const env = inject('engines');
  pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 10 });
  pool.on('error', () => undefined);
  s3 = await testS3Api();
});
afterAll(async () => {
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pool.end();
  s3.destroy?.();
});

/** A store of its own: S3 prefix and ledger (schema). */
async function stores(): Promise<{ eventStore: EventStore; sequenceStore: SequenceStore; service: CommandService }> {
  const schema = randomId('cairn_rb_');
  schemas.push(schema);
  await migrate(pool, { schema });
  const eventStore = createS3EventStore({ s3, bucket: TEST_BUCKET, prefix: `${randomId('rb')}/` });
  const sequenceStore = createPostgresSequenceStore({ pool, schema });
  const service = createCommandService({
    eventStore,
    sequenceStore,
    idempotencyStore: createPostgresIdempotencyStore({ pool, schema }),
    repository: createAggregateRepository({ eventStore, cacheSize: 100, ledger: sequenceStore }),
    options: { dependencyTimeoutMs: 5_000, trustCache: false },
  });
  return { eventStore, sequenceStore, service };
}

/** A database, a class and `instances` instances updated a few times each: every commit through the write path. */
async function populate(service: CommandService, instances: number): Promise<string> {
  const db = randomId('db');
  await service.execute({ type: 'CreateDatabase', input: { name: db } }, meta);
  await service.execute(
    { type: 'CreateOntologyClass', input: { database: db, id: 'c', properties: [{ name: 'n', type: 'INT' }] } },
    meta,
  );
  await Promise.all(
    Array.from({ length: instances }, async (_, i) => {
      const id = `i${i}`;
      await service.execute(
        { type: 'CreateInstance', input: { database: db, classId: 'c', id, properties: { n: 0 } } },
        meta,
      );
      for (let seq = 1; seq <= i % 4; seq++) {
        await service.execute(
          { type: 'UpdateInstance', input: { database: db, id, expectedSeq: seq, set: { n: seq } } },
          meta,
        );
      }
    }),
  );
  return db;
}

/** Every doc a read model holds for the given aggregates. */
async function docsOf(readModel: ReturnType<typeof createMemoryReadModel>, keys: string[]): Promise<ProjectedDoc[]> {
  const docs: ProjectedDoc[] = [];
  for (const type of ['DATABASE', 'ONTOLOGY_CLASS', 'INSTANCE'] as AggregateType[]) {
    const ids = keys.filter((k) => k.startsWith(`${type}:`)).map((k) => k.slice(type.length + 1));
    for (const doc of await readModel.getMany(type, ids)) if (doc) docs.push(doc);
  }
  return docs;
}

/**
 * The outbox's entries dealt out as a relay's history might leave them: every third published with
 * its segment, every third published with its segment lost, the rest still waiting. Returns the
 * commits whose only copies were lost.
 */
async function dealOutbox(eventStore: EventStore): Promise<Commit[]> {
  const byEntry = new Map<string, UnpublishedRef[]>();
  for (const ref of await eventStore.listUnpublished(100_000))
    byEntry.set(ref.entry, [...(byEntry.get(ref.entry) ?? []), ref]);
  const entries = [...byEntry.values()];
  expect(entries.length).toBeGreaterThanOrEqual(3);
  const lost: Commit[] = [];
  for (const [i, refs] of entries.entries()) {
    if (i % 3 === 2) continue;
    if (i % 3 === 0) await eventStore.writeSegment!(refs.map((r) => r.commit!));
    else lost.push(...refs.map((r) => r.commit!));
    await eventStore.markPublished(refs);
  }
  return lost;
}

describe('rebuild from commit copies checked against the ledger (S3 + PostgreSQL)', () => {
  it('gives the same read model as listing every commit key, whatever the copies lack', async () => {
    const { eventStore, sequenceStore, service } = await stores();
    const db = await populate(service, 40);
    const all: Commit[] = [];
    for await (const c of eventStore.scan()) all.push(c);
    const keys = [...new Set(all.map(aggregateKey))];
    expect(all.length).toBe(2 + 40 + 60);

    // Copies: some published into segments (the relay's way), some published with their segment
    // lost, the rest still in the outbox; one commit copied twice.
    const lostCopies = await dealOutbox(eventStore);
    expect(lostCopies.length).toBeGreaterThan(0);
    const waiting = await eventStore.listUnpublished(100_000);
    expect(waiting.length).toBeGreaterThan(0);
    await eventStore.writeSegment!([waiting[0]!.commit!]);
    // A reservation whose append never happened (burned) and a commit the ledger does not know.
    const burned = `INSTANCE:${db}/i1`;
    const entry = (await sequenceStore.get(burned))!;
    expect(
      await sequenceStore.reserve({
        key: burned,
        expectedSeq: entry.seq,
        nextSeq: entry.seq + 1,
        liveAfter: true,
        parent: `DATABASE:${db}`,
        requireLive: [],
        forbidLiveChildren: false,
      }),
    ).toMatchObject({ ok: true });

    const full = createMemoryReadModel();
    const scanned = await rebuildReadModel({ eventStore, sequenceStore, readModel: full }, { full: true });
    expect(scanned).toMatchObject({ source: 'scan', commits: all.length, aggregates: keys.length });

    const fast = createMemoryReadModel();
    const result = await rebuildReadModel({ eventStore, sequenceStore, readModel: fast });
    expect(result).toMatchObject({ source: 'copies', commits: all.length, aggregates: keys.length, notInLedger: 0 });
    // Read by key: the aggregates of the lost segment's commits, and the burned one.
    const lost = new Set(lostCopies.map(aggregateKey));
    expect(result.readFromStore).toBeGreaterThanOrEqual(lost.size);
    expect(result.readFromStore).toBeLessThanOrEqual(lost.size + 1);

    const expected = await docsOf(full, keys);
    expect(expected).toHaveLength(keys.length);
    expect(await docsOf(fast, keys)).toEqual(expected);

    // A ledger larger than the copies path may hold in memory: the scan, which streams.
    const capped = createMemoryReadModel();
    const streamed = await rebuildReadModel(
      { eventStore, sequenceStore, readModel: capped },
      { maxAggregatesInMemory: 5 },
    );
    expect(streamed).toMatchObject({ source: 'scan', commits: all.length, aggregates: keys.length });
    expect(await docsOf(capped, keys)).toEqual(expected);
  });

  it('keeps an aggregate the ledger does not know as its copies have it, and says so', async () => {
    const { eventStore, sequenceStore, service } = await stores();
    await populate(service, 3);
    const other = await stores();
    const foreign = await populate(other.service, 1);
    // Another store's commits copied into this one's segments; its ledger rows are elsewhere.
    const copies: Commit[] = [];
    for await (const c of other.eventStore.scan()) copies.push(c);
    await eventStore.writeSegment!(copies);
    const readModel = createMemoryReadModel();
    const result = await rebuildReadModel({ eventStore, sequenceStore, readModel });
    expect(result.notInLedger).toBe(3);
    const doc = (await readModel.getMany('INSTANCE', [`${foreign}/i0`]))[0];
    expect(doc).toMatchObject({ seq: 1, deleted: false });
  });
});
