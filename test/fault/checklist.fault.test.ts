import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, aggregateIdOf } from '../e2e/api.js';
import { closeAll, expectData, subscribe } from '../e2e/client.js';
import { type Cluster, startCluster } from '../e2e/harness.js';
import type { InstanceChange } from '../e2e/types.js';
import { randomId } from '../support/ids.js';
import { waitFor } from '../support/wait.js';
import {
  consistency,
  FAST_FAILOVER,
  faultReached,
  health,
  metric,
  openEventStore,
  runCli,
  settledMetric,
} from './support.js';

/**
 * The seeds' operational checklist on the production profile: real engines, relay, projector and two
 * gateways as separate processes, processes killed with SIGKILL at exact points.
 */
const INSTANCE_CHANGED = 'subscription($database: ID!) { instanceChanged(database: $database) { id seq change } }';

describe('operational checklist (production)', () => {
  let cluster: Cluster;
  const api = (i = 0) => new Api(() => cluster.gateways[i]!.http);
  let db: string;

  beforeAll(async () => {
    cluster = await startCluster({ profile: 'production', gateways: 2, env: FAST_FAILOVER });
    db = (await api().newDatabase()).database.name;
    await api().newClass(db, 'k', [{ name: 'v', type: 'INT' }]);
  });
  afterAll(async () => {
    await closeAll();
    await cluster?.stop();
  });

  /** Creates `n` instances and updates each twice; resolves when the read model holds them all. */
  async function writeSome(n: number): Promise<{ id: string; seq: number }[]> {
    const ids = Array.from({ length: n }, () => randomId('i'));
    await Promise.all(ids.map((id, i) => api(i % 2).newInstance(db, 'k', { v: 0 }, id)));
    for (const seq of [1, 2]) {
      await Promise.all(ids.map((id, i) => api(i % 2).update(db, id, seq, { set: { v: seq } })));
    }
    const written = ids.map((id) => ({ id, seq: 3 }));
    await api().settle(db, written);
    return written;
  }

  it('1. every event published again (a replay of the store) takes effect once', async () => {
    await writeSome(10);
    const projector = cluster.base('projector');
    const applied = await settledMetric(projector, 'cairn_projector_applied_events_total');
    const skipped = await settledMetric(projector, 'cairn_projector_skipped_events_total');
    const sub = await subscribe<{ instanceChanged: InstanceChange }>(cluster.gateways[1]!.ws, INSTANCE_CHANGED, {
      database: db,
    });

    const replay = await runCli(cluster, ['replay']);
    expect(replay.code, replay.stderr).toBe(0);
    const domainEvents = (JSON.parse(replay.stdout) as { published: number }).published / 2;
    expect(domainEvents).toBeGreaterThanOrEqual(32); // database + class + 10 × 3

    // Every re-published event is recognised as done and skipped; nothing is applied or notified again.
    await waitFor(
      async () =>
        (await metric(projector, 'cairn_projector_skipped_events_total')) - skipped >= domainEvents ? true : undefined,
      { timeoutMs: 60_000, what: 'the projector to skip every replayed event' },
    );
    expect(await metric(projector, 'cairn_projector_applied_events_total')).toBe(applied);
    expect(sub.pending()).toBe(0);
    await sub.close();
    expect((await consistency(cluster)).drift).toEqual([]);
  });

  it('1. the relay rolled back (old checkpoint, outbox entries of published commits restored) takes effect once', async () => {
    const written = await writeSome(5);
    const projector = cluster.base('projector');
    const applied = await settledMetric(projector, 'cairn_projector_applied_events_total');
    const skipped = await settledMetric(projector, 'cairn_projector_skipped_events_total');
    const sub = await subscribe<{ instanceChanged: InstanceChange }>(cluster.gateways[0]!.ws, INSTANCE_CHANGED, {
      database: db,
    });

    // As after restoring the bucket from a backup: the relay's checkpoint from before these commits,
    // and their outbox entries back (re-appending a stored commit, byte for byte, rewrites its entry).
    await cluster.kill('relay');
    const store = await openEventStore(cluster);
    try {
      await store.eventStore.putCheckpoint('relay', { publishedTotal: 0, lastPublishedAt: null, lastRef: null });
      const commits = (
        await Promise.all(
          written.map(({ id }) =>
            store.eventStore.readAggregate({ aggregateType: 'INSTANCE', aggregateId: aggregateIdOf(db, id) }),
          ),
        )
      ).flat();
      expect(commits).toHaveLength(15);
      for (const commit of commits) await store.eventStore.append(commit);
      expect((await store.eventStore.listUnpublished(1_000)).length).toBeGreaterThanOrEqual(15);
    } finally {
      await store.close();
    }

    await cluster.start('relay');
    await waitFor(
      async () =>
        (await metric(projector, 'cairn_projector_skipped_events_total')) - skipped >= 15 ? true : undefined,
      { timeoutMs: 60_000, what: 'the relay to publish the restored outbox again' },
    );
    expect(await metric(projector, 'cairn_projector_applied_events_total')).toBe(applied);
    await new Promise((r) => setTimeout(r, 500));
    expect(sub.pending()).toBe(0);
    await sub.close();
    expect((await consistency(cluster)).drift).toEqual([]);
  });

  const stages = {
    claimed: 'the claim, before the effect',
    applied: 'the effect, before notifying',
    notified: 'notifying, before mark-done',
  } as const;
  for (const stage of Object.keys(stages) as (keyof typeof stages)[]) {
    it(`2. a projector SIGKILLed after ${stages[stage]}: another finishes, subscribers are notified once`, async () => {
      const id = randomId('i');
      const faulty = `projector-${stage}`;
      await cluster.kill('projector');
      await cluster.add(faulty, 'projector', { CAIRN_FAULT_HANG: `${stage}:${aggregateIdOf(db, id)}` });
      const sub = await subscribe<{ instanceChanged: InstanceChange }>(cluster.gateways[0]!.ws, INSTANCE_CHANGED, {
        database: db,
      });

      await api(1).newInstance(db, 'k', { v: 7 }, id);
      await faultReached(cluster, faulty, stage);
      await cluster.kill(faulty);
      await cluster.start('projector');

      // The lease of the dead owner expires, the survivor claims the event and finishes it.
      expect(expectData(await api().instance(db, id, 1)).instance).toMatchObject({ seq: 1, properties: { v: 7 } });
      expect(await sub.next()).toEqual({ instanceChanged: { id, seq: 1, change: 'CREATED' } });
      // The survivor has finished the event (after the lease expired): notified it again if needed.
      await waitFor(
        async () =>
          (await metric(cluster.base('projector'), 'cairn_projector_applied_events_total')) ? true : undefined,
        { timeoutMs: 30_000, what: 'the surviving projector to finish the event' },
      );
      await new Promise((r) => setTimeout(r, 500));
      expect(sub.pending()).toBe(0); // exactly one notification (a repeat is dropped by the gateway)
      await sub.close();
      expect((await consistency(cluster)).drift).toEqual([]);
    });
  }

  it('3. events arriving out of order by seq: the stale ones are ignored, the read model ends at the latest', async () => {
    const id = randomId('i');
    await api().newInstance(db, 'k', { v: 1 }, id);
    await api().settle(db, [{ id, seq: 1 }]);
    // No relay: the commits stay in the store's outbox, and we publish them ourselves, newest first.
    await cluster.kill('relay');
    for (const seq of [1, 2, 3]) await api(seq % 2).update(db, id, seq, { set: { v: seq + 1 } });
    const replay = await runCli(cluster, ['replay', '--type', 'INSTANCE', '--id', aggregateIdOf(db, id), '--reverse']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(expectData(await api().instance(db, id, 4)).instance).toMatchObject({ seq: 4, properties: { v: 4 } });

    // The relay comes back and publishes the outbox in order: all of it is stale now.
    const skipped = await metric(cluster.base('projector'), 'cairn_projector_skipped_events_total');
    await cluster.start('relay');
    await waitFor(
      async () =>
        (await metric(cluster.base('projector'), 'cairn_projector_skipped_events_total')) - skipped >= 3
          ? true
          : undefined,
      { timeoutMs: 30_000, what: 'the relay to publish the outbox again' },
    );
    expect(expectData(await api().instance(db, id)).instance).toMatchObject({ seq: 4, properties: { v: 4 } });
    expect((await consistency(cluster)).drift).toEqual([]);
  });

  it('4. two projector instances given the same events: each event is claimed and applied by exactly one', async () => {
    // A second projector in its own consumer group receives every event the first one does.
    await cluster.add('projector-twin', 'projector', {
      KAFKA_PROJECTOR_GROUP: `${cluster.env.KAFKA_PROJECTOR_GROUP}-twin`,
    });
    const [main, twin] = [cluster.base('projector'), cluster.base('projector-twin')];
    const applied = () =>
      Promise.all([main, twin].map((b) => metric(b, 'cairn_projector_applied_events_total'))).then(([m, t]) => m! + t!);
    // The twin starts from the beginning of the topic: wait until it has caught up (all skipped as done).
    let seen = -1;
    await waitFor(
      async () => {
        const now = await metric(twin, 'cairn_projector_skipped_events_total');
        const stable = now > 0 && now === seen;
        seen = now;
        return stable ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1_500, what: 'the twin to catch up with the topic' },
    );
    const before = await applied();
    const twinSeenBefore = await metric(twin, 'cairn_projector_skipped_events_total');

    const written = await writeSome(12); // 12 creates + 24 updates
    const expected = written.length * 3;
    await waitFor(async () => ((await applied()) - before >= expected ? true : undefined), { timeoutMs: 30_000 });
    // The twin saw the same events too (claimed by one of the two, skipped by the other) …
    await waitFor(
      async () =>
        (await metric(twin, 'cairn_projector_skipped_events_total')) -
          twinSeenBefore +
          (await metric(twin, 'cairn_projector_applied_events_total')) >=
        expected
          ? true
          : undefined,
      { timeoutMs: 30_000, what: 'the twin to see every event' },
    );
    // … and no event was applied by both.
    expect((await applied()) - before).toBe(expected);
    await cluster.kill('projector-twin');
    expect((await consistency(cluster)).drift).toEqual([]);
  });

  it('5. OCC: a wrong expectedSeq is CONFLICT and appends nothing; of 12 racing updates over two gateways one wins', async () => {
    const id = randomId('i');
    await api().newInstance(db, 'k', { v: 0 }, id);
    const stale = await api(1).updateInstance({ database: db, id, expectedSeq: 5, set: { v: 1 } });
    expect(stale.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', expectedSeq: 5, actualSeq: 1 });
    const del = await api(0).deleteInstance({ database: db, id, expectedSeq: 0 });
    expect(del.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(await api().eventsOf('INSTANCE', aggregateIdOf(db, id))).toHaveLength(2); // command + event of the create

    const racing = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        api(i % 2).updateInstance({ database: db, id, expectedSeq: 1, set: { v: i } }),
      ),
    );
    expect(racing.filter((r) => !r.body.errors)).toHaveLength(1);
    expect(racing.filter((r) => r.body.errors?.[0]?.extensions?.code === 'CONFLICT')).toHaveLength(11);
    expect(await api().eventsOf('INSTANCE', aggregateIdOf(db, id))).toHaveLength(4);
  });

  it('poison: an event the projector cannot apply is retried, parked without blocking others, and replayed after the fix', async () => {
    const poisoned = randomId('i');
    await cluster.kill('projector');
    await cluster.add('projector-buggy', 'projector', { CAIRN_FAULT_POISON: aggregateIdOf(db, poisoned) });
    const buggy = cluster.base('projector-buggy');

    await api().newInstance(db, 'k', { v: 1 }, poisoned);
    const healthy = randomId('i');
    await api(1).newInstance(db, 'k', { v: 2 }, healthy);
    // The partition moves on: the healthy instance is projected although the poisoned one fails.
    expect(expectData(await api().instance(db, healthy, 1)).instance).toMatchObject({ seq: 1 });
    await waitFor(async () => ((await metric(buggy, 'cairn_projector_parked_events_total')) >= 1 ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the poison event to be parked',
    });
    expect(await metric(buggy, 'cairn_projector_failures_total')).toBeGreaterThanOrEqual(3);
    expect((await health(buggy)).dependencies).toHaveProperty('parked');
    expect(expectData(await api().instance(db, poisoned)).instance).toBeNull();

    const parked = await runCli(cluster, ['parked']);
    const records = JSON.parse(parked.stdout) as { eventId: string; error: string | null; aggregateKey: string }[];
    const record = records.find((r) => r.aggregateKey.endsWith(aggregateIdOf(db, poisoned)));
    expect(record?.error).toContain('injected poison');

    // The fix ships (a projector without the bug), the operator unparks and replays the aggregate.
    await cluster.kill('projector-buggy');
    await cluster.start('projector');
    expect((await runCli(cluster, ['unpark', record!.eventId])).code).toBe(0);
    const replay = await runCli(cluster, ['replay', '--type', 'INSTANCE', '--id', aggregateIdOf(db, poisoned)]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(expectData(await api().instance(db, poisoned, 1)).instance).toMatchObject({ seq: 1, properties: { v: 1 } });
    expect(JSON.parse((await runCli(cluster, ['parked'])).stdout)).toEqual([]);
    expect((await consistency(cluster)).drift).toEqual([]);
  });
});
