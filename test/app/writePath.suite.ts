import { describe, expect, it } from 'vitest';
import { createAggregateRepository } from '../../src/app/aggregateRepository.js';
import { type CommandService, createCommandService } from '../../src/app/commandService.js';
import { deadlineIn } from '../../src/app/deadline.js';
import { createOutboxRepair } from '../../src/app/outboxRepair.js';
import type { Command } from '../../src/core/domain/commands.js';
import { type Commit, newEventId } from '../../src/core/envelope.js';
import { CairnError, UnavailableError } from '../../src/core/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import type { EventStore } from '../../src/ports/eventStore.js';
import type { IdempotencyStore } from '../../src/ports/idempotencyStore.js';
import type { SequenceStore } from '../../src/ports/sequenceStore.js';
import { randomId } from '../support/ids.js';
import { waitFor } from '../support/wait.js';

export interface WritePathPorts {
  eventStore: EventStore;
  sequenceStore: SequenceStore;
  idempotencyStore: IdempotencyStore;
}

const meta = { idempotencyKey: null, actor: 'test', correlationId: 'c' };
const ABANDONED_MS = 300;

/**
 * The write path's guarantees on a given set of adapters: OCC, no gap after a writer that reserved
 * a seq and died (or whose append failed), and nothing appended by a failed command.
 */
export function describeWritePath(name: string, ports: () => WritePathPorts) {
  const service = (overrides: Partial<WritePathPorts> = {}): CommandService => {
    const p = { ...ports(), ...overrides };
    return createCommandService({
      ...p,
      repository: createAggregateRepository({ eventStore: p.eventStore, cacheSize: 100, ledger: p.sequenceStore }),
      options: { dependencyTimeoutMs: 2_000, trustCache: false, abandonedReservationMs: ABANDONED_MS },
    });
  };
  const seed = async (svc: CommandService) => {
    const db = randomId('db');
    await svc.execute({ type: 'CreateDatabase', input: { name: db } }, meta);
    await svc.execute(
      { type: 'CreateOntologyClass', input: { database: db, id: 'c', properties: [{ name: 'n', type: 'INT' }] } },
      meta,
    );
    await svc.execute(
      { type: 'CreateInstance', input: { database: db, classId: 'c', id: 'i', properties: { n: 0 } } },
      meta,
    );
    return db;
  };
  const update = (db: string, expectedSeq: number, n: number): Command => ({
    type: 'UpdateInstance',
    input: { database: db, id: 'i', expectedSeq, set: { n } },
  });
  const seqs = async (db: string) =>
    (await ports().eventStore.readAggregate({ aggregateType: 'INSTANCE', aggregateId: `${db}/i` })).map((c) => c.seq);
  /** The ports' ledger, recording every key its `get` is asked for. */
  const askedKeys = () => {
    const inner = ports().sequenceStore;
    const asked: string[] = [];
    const ledger: SequenceStore = {
      ...inner,
      get: (key) => {
        asked.push(key);
        return inner.get(key);
      },
    };
    return { ledger, asked };
  };
  /** The ports' event store, holding each append's outbox entry until `open` (then failing it while `fail` says so). */
  const heldEntries = (fail: () => boolean = () => false) => {
    const real = ports().eventStore;
    let open = (): void => {};
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const eventStore: EventStore = {
      ...real,
      appendCommit: async (commit) => {
        const { indexed } = await real.appendCommit(commit);
        return { indexed: gate.then(() => (fail() ? Promise.reject(new UnavailableError('s3')) : indexed)) };
      },
    };
    return { eventStore, open: () => open() };
  };
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'OK',
      (e: unknown) => (e instanceof CairnError ? e.code : String(e)),
    );

  describe(`write path (${name})`, () => {
    it('lets exactly one of 20 concurrent updates with one expectedSeq win; the rest are CONFLICT', async () => {
      const svc = service();
      const db = await seed(svc);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, k) => codeOf(svc.execute(update(db, 1, k), meta))),
      );
      expect(results.filter((r) => r === 'OK')).toHaveLength(1);
      expect(results.filter((r) => r === 'CONFLICT')).toHaveLength(19);
      expect(await seqs(db)).toEqual([1, 2]);
    });

    it('recovers a seq reserved by a writer that died before appending: no gap, no stuck aggregate', async () => {
      const svc = service();
      const db = await seed(svc);
      const key = `INSTANCE:${db}/i`;
      // The "dead writer": reserved seq 2 in the ledger, never wrote the event store.
      const reserved = await ports().sequenceStore.reserve({
        key,
        expectedSeq: 1,
        nextSeq: 2,
        liveAfter: true,
        parent: `ONTOLOGY_CLASS:${db}/c`,
        requireLive: [],
        forbidLiveChildren: false,
      });
      expect(reserved.ok).toBe(true);
      // While the reservation may still be in flight, a writer at seq 1 is told about the conflict.
      expect(await codeOf(svc.execute(update(db, 1, 5), meta))).toBe('CONFLICT');
      // Once it is older than the abandonment window, the number is given back and reused: no gap.
      const result = await waitFor(
        async () => {
          const code = await codeOf(svc.execute(update(db, 1, 7), meta));
          return code === 'OK' ? code : undefined;
        },
        { timeoutMs: 5_000, intervalMs: 50, what: 'the abandoned reservation to be repaired' },
      );
      expect(result).toBe('OK');
      expect(await seqs(db)).toEqual([1, 2]);
      const next = await svc.execute(update(db, 2, 8), meta);
      expect(next.seq).toBe(3);
      expect(await seqs(db)).toEqual([1, 2, 3]);
    });

    it('validates against a class another gateway changed since this one cached it', async () => {
      const [mine, other] = [service(), service()];
      const db = await seed(mine); // `mine` caches class c with only n: INT
      const withM = { database: db, classId: 'c', properties: { n: 1, m: 'x' } };
      expect(await codeOf(mine.execute({ type: 'CreateInstance', input: { ...withM, id: 'a' } }, meta))).toBe(
        'BAD_USER_INPUT',
      );
      await other.execute(
        {
          type: 'UpdateOntologyClass',
          input: { database: db, id: 'c', expectedSeq: 1, addProperties: [{ name: 'm', type: 'STRING' }] },
        },
        meta,
      );
      expect(await codeOf(mine.execute({ type: 'CreateInstance', input: { ...withM, id: 'b' } }, meta))).toBe('OK');
      await other.execute(
        { type: 'UpdateInstance', input: { database: db, id: 'b', expectedSeq: 1, set: { n: 2 } } },
        meta,
      );
      // `mine` cached b at seq 1; the ledger says 2, so the missing commit is read before deciding.
      const third = await mine.execute(
        { type: 'UpdateInstance', input: { database: db, id: 'b', expectedSeq: 2, set: { n: 3 } } },
        meta,
      );
      expect(third.seq).toBe(3);
    });

    it('refuses a value a class made stricter by another gateway forbids, though this one cached the old schema', async () => {
      const [mine, other] = [service(), service()];
      const db = await seed(mine);
      await mine.execute(
        { type: 'CreateOntologyClass', input: { database: db, id: 'k', properties: [{ name: 'n', type: 'INT' }] } },
        meta,
      ); // `mine` caches class k without a required property
      await other.execute(
        {
          type: 'UpdateOntologyClass',
          input: {
            database: db,
            id: 'k',
            expectedSeq: 1,
            addProperties: [{ name: 'must', type: 'STRING', required: true }],
          },
        },
        meta,
      );
      const without = { database: db, classId: 'k', properties: { n: 1 } };
      expect(await codeOf(mine.execute({ type: 'CreateInstance', input: { ...without, id: 'x' } }, meta))).toBe(
        'BAD_USER_INPUT',
      );
      const withMust = { ...without, properties: { n: 1, must: 'yes' } };
      expect(await codeOf(mine.execute({ type: 'CreateInstance', input: { ...withMust, id: 'y' } }, meta))).toBe('OK');
    });

    it('reads no instance for an id-like value of a non-REFERENCE property, and still checks REFERENCE values', async () => {
      const reads: string[] = [];
      const p = ports();
      const counting: EventStore = {
        ...p.eventStore,
        readAggregate: (ref, ...rest) => {
          reads.push(ref.aggregateId);
          return p.eventStore.readAggregate(ref, ...rest);
        },
      };
      const svc = service({ eventStore: counting });
      const db = await seed(svc);
      await svc.execute(
        {
          type: 'CreateOntologyClass',
          input: {
            database: db,
            id: 'r',
            properties: [
              { name: 'tag', type: 'STRING' },
              { name: 'peer', type: 'REFERENCE', target: 'c' },
            ],
          },
        },
        meta,
      );
      reads.length = 0;
      const input = { database: db, classId: 'r', properties: { tag: 'looks-like-an-id' } };
      expect(await codeOf(svc.execute({ type: 'CreateInstance', input: { ...input, id: 'r1' } }, meta))).toBe('OK');
      expect(await codeOf(svc.execute({ type: 'CreateInstance', input: { ...input, id: 'r2' } }, meta))).toBe('OK');
      expect(reads.filter((id) => id.endsWith('/looks-like-an-id'))).toEqual([]);
      const dangling = { ...input, id: 'r3', properties: { tag: 'x', peer: 'missing' } };
      expect(await codeOf(svc.execute({ type: 'CreateInstance', input: dangling }, meta))).toBe('BAD_USER_INPUT');
      const linked = { ...input, id: 'r4', properties: { tag: 'x', peer: 'i' } };
      expect(await codeOf(svc.execute({ type: 'CreateInstance', input: linked }, meta))).toBe('OK');
    });

    it("asks the ledger nothing about a create's own id, yet refuses an id another gateway took and re-creates a deleted one", async () => {
      const { ledger, asked } = askedKeys();
      const [mine, other] = [service({ sequenceStore: ledger }), service()];
      const db = await seed(other); // `mine` has cached nothing of it
      const create = (id: string): Command => ({
        type: 'CreateInstance',
        input: { database: db, classId: 'c', id, properties: { n: 1 } },
      });
      expect(await codeOf(mine.execute(create('fresh'), meta))).toBe('OK');
      expect(asked.filter((key) => key.endsWith(`${db}/fresh`))).toEqual([]);
      // Taken by `other`: the reservation refuses, and the answer comes from fresh state.
      const taken = await mine.execute(create('i'), meta).catch((e: unknown) => e);
      expect(taken).toMatchObject({ code: 'CONFLICT', extensions: { actualSeq: 1 } });
      await other.execute({ type: 'DeleteInstance', input: { database: db, id: 'i', expectedSeq: 1 } }, meta);
      const again = service();
      expect(await again.execute(create('i'), meta)).toMatchObject({ seq: 3 });
      expect(await seqs(db)).toEqual([1, 2, 3]);
    });

    it('answers a stale update of a live instance CONFLICT at its current seq, re-reading only that instance', async () => {
      const { ledger, asked } = askedKeys();
      const [mine, other] = [service({ sequenceStore: ledger }), service()];
      const db = await seed(mine);
      const instanceKey = `INSTANCE:${db}/i`;
      // Stale in `mine`'s cache: the reservation refuses, and the answer comes from the instance read fresh.
      await other.execute(update(db, 1, 1), meta);
      asked.length = 0;
      const behind = await mine.execute(update(db, 1, 2), meta).catch((e: unknown) => e);
      expect(behind).toMatchObject({ code: 'CONFLICT', extensions: { expectedSeq: 1, actualSeq: 2 } });
      expect(asked).toEqual([instanceKey]);
      // Older than `mine`'s cache: refused on the cached state, confirmed on the instance read fresh.
      await mine.execute(update(db, 2, 3), meta);
      asked.length = 0;
      const older = await mine.execute(update(db, 2, 4), meta).catch((e: unknown) => e);
      expect(older).toMatchObject({ code: 'CONFLICT', extensions: { expectedSeq: 2, actualSeq: 3 } });
      expect(asked).toEqual([instanceKey]);
      // Deleted meanwhile: NOT_FOUND still comes before CONFLICT.
      await other.execute({ type: 'DeleteInstance', input: { database: db, id: 'i', expectedSeq: 3 } }, meta);
      expect(await codeOf(mine.execute(update(db, 3, 5), meta))).toBe('NOT_FOUND');
      expect(await seqs(db)).toEqual([1, 2, 3, 4]);
    });

    it('refuses a create under a database another gateway deleted since this one cached it live', async () => {
      const [mine, other] = [service(), service()];
      const db = await seed(mine); // `mine` caches the database as live
      await other.execute({ type: 'DeleteInstance', input: { database: db, id: 'i', expectedSeq: 1 } }, meta);
      await other.execute({ type: 'DeleteOntologyClass', input: { database: db, id: 'c', expectedSeq: 1 } }, meta);
      await other.execute({ type: 'DeleteDatabase', input: { name: db, expectedSeq: 1 } }, meta);
      const create = { database: db, classId: 'c', id: 'late', properties: { n: 1 } };
      expect(await codeOf(mine.execute({ type: 'CreateInstance', input: create }, meta))).toBe('NOT_FOUND');
    });

    it('appends nothing when the event store fails, answers UNAVAILABLE, and the next write has no gap', async () => {
      const real = ports().eventStore;
      const fail = async (): Promise<never> => {
        throw new UnavailableError('s3', new Error('injected'));
      };
      const failing: EventStore = { ...real, append: fail, appendCommit: fail };
      const svc = service();
      const db = await seed(svc);
      const broken = service({ eventStore: failing });
      expect(await codeOf(broken.execute(update(db, 1, 9), meta))).toBe('UNAVAILABLE');
      expect(await seqs(db)).toEqual([1]);
      const ok = await waitFor(
        async () => {
          const code = await codeOf(svc.execute(update(db, 1, 10), meta));
          return code === 'OK' ? code : undefined;
        },
        { timeoutMs: 5_000, intervalMs: 50, what: 'the failed reservation to be given back' },
      );
      expect(ok).toBe('OK');
      expect(await seqs(db)).toEqual([1, 2]);
    });

    it("stops at the request's deadline when the event store hangs: UNAVAILABLE naming it, well before its own timeout", async () => {
      const real = ports().eventStore;
      const hang = (): Promise<never> => new Promise<never>(() => {});
      const hanging: EventStore = { ...real, append: hang, appendCommit: hang };
      const svc = service();
      const db = await seed(svc);
      const started = Date.now();
      const error = await service({ eventStore: hanging })
        .execute(update(db, 1, 9), { ...meta, deadline: deadlineIn(300) })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(error).toMatchObject({ code: 'UNAVAILABLE', extensions: { dependency: 'eventStore' } });
      expect(Date.now() - started).toBeLessThan(1_500); // the service's own dependency timeout is 2 s
      expect(await seqs(db)).toEqual([1]);
    });

    it('acknowledges on the stored commit and confirms the reservation only once its outbox entry is written', async () => {
      const { sequenceStore } = ports();
      let failIndex = false;
      const held = heldEntries(() => failIndex);
      const svc = service();
      const db = await seed(svc);
      const key = `INSTANCE:${db}/i`;
      // Confirmations may wait a moment to share a statement (the ledger's group commit).
      await waitFor(async () => ((await sequenceStore.get(key))?.confirmedSeq === 1 ? true : undefined), {
        timeoutMs: 5_000,
        what: 'the seed to be confirmed',
      });
      const gated = service({ eventStore: held.eventStore });
      expect(await codeOf(gated.execute(update(db, 1, 5), meta))).toBe('OK');
      // Longer than a confirmation may wait for company: still unconfirmed, because of the gate.
      await new Promise((r) => setTimeout(r, 150));
      expect(await sequenceStore.get(key)).toMatchObject({ seq: 2, confirmedSeq: 1 });
      held.open();
      await waitFor(async () => ((await sequenceStore.get(key))?.confirmedSeq === 2 ? true : undefined), {
        timeoutMs: 5_000,
        what: 'the confirmation after the entry',
      });

      // The entry's write fails: the same bytes are sent again in the background, then confirmed.
      failIndex = true;
      expect(await codeOf(gated.execute(update(db, 2, 6), meta))).toBe('OK');
      await waitFor(async () => ((await sequenceStore.get(key))?.confirmedSeq === 3 ? true : undefined), {
        timeoutMs: 5_000,
        what: 'the re-sent append to be confirmed',
      });
      expect(await seqs(db)).toEqual([1, 2, 3]);
    });

    it('settles (a stopping gateway) once acknowledged appends have their outbox entries and confirmations, or at its timeout', async () => {
      const { sequenceStore } = ports();
      const held = heldEntries();
      const db = await seed(service());
      const key = `INSTANCE:${db}/i`;
      const gated = service({ eventStore: held.eventStore });
      expect(await codeOf(gated.execute(update(db, 1, 5), meta))).toBe('OK');

      // The entry is held: settling gives up at its timeout, the reservation still unconfirmed.
      const started = Date.now();
      await gated.settle(150);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect(await sequenceStore.get(key)).toMatchObject({ seq: 2, confirmedSeq: 1 });

      let settled = false;
      const settling = gated.settle(5_000).then(() => {
        settled = true;
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(settled).toBe(false);
      held.open();
      await settling;
      // Confirmed by the time settle resolves, without waiting further.
      expect(await sequenceStore.get(key)).toMatchObject({ seq: 2, confirmedSeq: 2 });
      const idle = Date.now();
      await gated.settle(5_000); // nothing under way: at once
      expect(Date.now() - idle).toBeLessThan(1_000);
    });

    it('completes an append whose writer died between its commit and its outbox entry, and gives back a burned seq', async () => {
      const { eventStore, sequenceStore } = ports();
      const svc = service();
      const db = await seed(svc);
      const key = `INSTANCE:${db}/i`;
      const ref = { aggregateType: 'INSTANCE' as const, aggregateId: `${db}/i` };
      const repository = createAggregateRepository({ eventStore, cacheSize: 10, ledger: sequenceStore });
      // The ledger lists reservations strictly older than the cut-off: let a millisecond pass first.
      const repair = async (abandonedMs: number) => {
        await new Promise((r) => setTimeout(r, 5));
        return createOutboxRepair({
          eventStore,
          sequenceStore,
          repository,
          logger: createLogger('silent'),
          options: { intervalMs: 60_000, minAgeMs: 0, abandonedMs },
        }).sweep();
      };
      const ours = async () =>
        (await eventStore.listUnpublished(10_000)).filter((r) => r.aggregateId === ref.aggregateId);
      await eventStore.markPublished(await ours());

      // The dead writer: reserved seq 2 and stored its commit, then died: no outbox entry, no confirm.
      const reservation = { key, parent: `ONTOLOGY_CLASS:${db}/c`, requireLive: [], forbidLiveChildren: false };
      expect((await sequenceStore.reserve({ ...reservation, expectedSeq: 1, nextSeq: 2, liveAfter: true })).ok).toBe(
        true,
      );
      const [first] = await eventStore.readAggregate(ref);
      const second: Commit = {
        ...first!,
        seq: 2,
        envelopes: first!.envelopes.map((e) => ({ ...e, seq: 2, eventId: newEventId() })),
      };
      await eventStore.append(second);
      await eventStore.markPublished(await ours());
      expect(await ours()).toEqual([]);

      const repaired = await repair(60_000);
      expect(repaired.reappended).toBeGreaterThanOrEqual(1);
      expect((await ours()).map((r) => r.seq)).toEqual([2]);
      expect(await sequenceStore.get(key)).toMatchObject({ seq: 2, confirmedSeq: 2 });

      // A writer that reserved seq 3 and died before storing anything: given back once abandoned.
      expect((await sequenceStore.reserve({ ...reservation, expectedSeq: 2, nextSeq: 3, liveAfter: true })).ok).toBe(
        true,
      );
      expect((await repair(60_000)).rolledBack).toBe(0); // not abandoned yet: it may still land
      expect(await sequenceStore.get(key)).toMatchObject({ seq: 3 });
      expect((await repair(0)).rolledBack).toBeGreaterThanOrEqual(1);
      expect(await sequenceStore.get(key)).toMatchObject({ seq: 2, confirmedSeq: 2 });
      expect((await svc.execute(update(db, 2, 11), meta)).seq).toBe(3);
      expect(await seqs(db)).toEqual([1, 2, 3]);
    });
  });
}
