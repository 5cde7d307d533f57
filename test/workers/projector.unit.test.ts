import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInProcessChangeFeed } from '../../src/adapters/changeFeed/inProcess.js';
import { createLocalEventStore } from '../../src/adapters/eventStore/local.js';
import { createMemoryReadModel } from '../../src/adapters/readModel/memory.js';
import { createMemoryRegistry } from '../../src/adapters/registry/memory.js';
import { createInProcessTransport } from '../../src/adapters/transport/inProcess.js';
import { type Commit, type Envelope, newEventId } from '../../src/core/envelope.js';
import { UnavailableError } from '../../src/core/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ChangeFeed, ChangeNotification } from '../../src/ports/changeFeed.js';
import type { EventStore } from '../../src/ports/eventStore.js';
import type { ReadModel } from '../../src/ports/readModel.js';
import type { ProcessedEventRegistry } from '../../src/ports/registry.js';
import { createProjector, type Projector } from '../../workers/projector.js';
import { waitFor } from '../support/wait.js';

const ID = 'db/thing';

/** The commit of one instance mutation at `seq`: its command envelope and domain event. */
function commitAt(seq: number): Commit {
  const base = {
    envelopeVersion: 1,
    aggregateType: 'INSTANCE' as const,
    aggregateId: ID,
    seq,
    schemaVersion: 1,
    occurredAt: new Date().toISOString(),
    actor: 'user:test',
    correlationId: 'corr',
    idempotencyKey: null,
    metadata: {},
  };
  const command: Envelope = {
    ...base,
    eventId: newEventId(),
    kind: 'command',
    type: seq === 1 ? 'CreateInstance' : 'UpdateInstance',
    causationId: null,
    payload: {},
  };
  const event: Envelope = {
    ...base,
    eventId: newEventId(),
    kind: 'domain',
    type: seq === 1 ? 'InstanceCreated' : 'InstanceUpdated',
    causationId: command.eventId,
    payload:
      seq === 1 ? { database: 'db', id: 'thing', classId: 'k', properties: { n: 1 } } : { set: { n: seq }, unset: [] },
  };
  return { aggregateType: 'INSTANCE', aggregateId: ID, seq, envelopes: [command, event] };
}

const domainOf = (c: Commit): Envelope => c.envelopes[1]!;

describe('projector', () => {
  let dir: string;
  let eventStore: EventStore;
  let registry: ProcessedEventRegistry;
  let changeFeed: ChangeFeed;
  let notified: ChangeNotification[];
  let projector: Projector;
  let readModel: ReadModel;
  let docReads: number;
  const projectorOn = (rm: ReadModel) =>
    createProjector({
      transport: createInProcessTransport({}),
      eventStore,
      readModel: rm,
      registry,
      changeFeed,
      logger: createLogger('silent'),
      options: { groupId: 'test', leaseMs: 10_000, heartbeatMs: 5_000, maxAttempts: 3 },
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-projector-'));
    eventStore = createLocalEventStore({ dir });
    registry = createMemoryRegistry();
    changeFeed = createInProcessChangeFeed();
    notified = [];
    await changeFeed.subscribe((changes) => notified.push(...changes));
    const memory = createMemoryReadModel();
    docReads = 0;
    readModel = {
      ...memory,
      getMany: (type, ids) => {
        docReads++;
        return memory.getMany(type, ids);
      },
    };
    projector = projectorOn(readModel);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('repairs a gap from the event store and notifies every seq of it, in order', async () => {
    const commits = [1, 2, 3, 4].map(commitAt);
    for (const c of commits) await eventStore.append(c);
    await projector.handle([domainOf(commits[0]!)]);
    // Events 2 and 3 were lost on the way: 4 arrives next.
    await projector.handle([domainOf(commits[3]!)]);
    await waitFor(() => (notified.length >= 4 ? true : undefined));
    expect(notified.map((n) => n.seq)).toEqual([1, 2, 3, 4]);
    expect(notified.map((n) => (n.doc as { seq: number }).seq)).toEqual([1, 2, 3, 4]);
    expect(notified.map((n) => n.eventId)).toEqual(commits.map((c) => domainOf(c).eventId));
    // The late ones are stale now: nothing more.
    await projector.handle([domainOf(commits[1]!), domainOf(commits[2]!)]);
    await new Promise((r) => setTimeout(r, 20));
    expect(notified).toHaveLength(4);
  });

  it('notifies before marking done: with the registry down at mark-done, the redelivery notifies again, nothing is lost', async () => {
    const commit = commitAt(1);
    await eventStore.append(commit);
    const markDone = registry.markDone.bind(registry);
    let fail = true;
    registry.markDone = async (...args) => {
      if (fail) {
        fail = false;
        throw new UnavailableError('postgres');
      }
      return markDone(...args);
    };
    await expect(projector.handle([domainOf(commit)])).rejects.toThrow();
    await waitFor(() => (notified.length >= 1 ? true : undefined));
    // Redelivered: claimed again (higher fence), its effect is there, so it is notified again and done.
    await projector.handle([domainOf(commit)]);
    await waitFor(() => (notified.length >= 2 ? true : undefined));
    expect(notified.map((n) => n.seq)).toEqual([1, 1]);
    await projector.handle([domainOf(commit)]);
    await new Promise((r) => setTimeout(r, 20));
    expect(notified).toHaveLength(2);
  });

  it('starts from the state it last wrote when the next event follows it, and reads the doc otherwise', async () => {
    const commits = [1, 2, 3, 4].map(commitAt);
    for (const c of commits) await eventStore.append(c);
    await projector.handle([domainOf(commits[0]!)]);
    expect(docReads).toBe(0); // an aggregate's first event, claimed the first time: nothing to read
    await projector.handle([domainOf(commits[1]!)]);
    expect(docReads).toBe(0); // seq 2 follows the state it wrote at 1

    // Another projector (a rebalance) applies seq 3: this one's state is behind, so it reads the doc.
    await projectorOn(readModel).handle([domainOf(commits[2]!)]);
    const reads = docReads;
    await projector.handle([domainOf(commits[3]!)]);
    expect(docReads).toBe(reads + 1);
    const [doc] = await readModel.getMany('INSTANCE', [ID]);
    expect(doc).toMatchObject({ seq: 4, data: { properties: { n: 4 } } });
  });

  it('keeps a newer doc a rebuild wrote before the projector saw the first event', async () => {
    const commits = [1, 2].map(commitAt);
    for (const c of commits) await eventStore.append(c);
    // Another writer (as a rebuild does) put both commits in the read model; this projector's registry knows nothing of them.
    await projectorOn(readModel).handle([domainOf(commits[0]!), domainOf(commits[1]!)]);
    const registryFresh = createMemoryRegistry();
    const late = createProjector({
      transport: createInProcessTransport({}),
      eventStore,
      readModel,
      registry: registryFresh,
      changeFeed,
      logger: createLogger('silent'),
      options: { groupId: 'test', leaseMs: 10_000, heartbeatMs: 5_000, maxAttempts: 3 },
    });
    const reads = docReads;
    await late.handle([domainOf(commits[0]!)]);
    expect(docReads).toBe(reads);
    const [doc] = await readModel.getMany('INSTANCE', [ID]);
    expect(doc).toMatchObject({ seq: 2, data: { properties: { n: 2 } } });
  });
});
