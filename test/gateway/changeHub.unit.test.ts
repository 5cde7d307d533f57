import { describe, expect, it } from 'vitest';
import { createInProcessChangeFeed } from '../../src/adapters/changeFeed/inProcess.js';
import { createChangeHub } from '../../src/gateway/changeHub.js';
import type { ChangeNotification } from '../../src/ports/changeFeed.js';
import { waitFor } from '../support/wait.js';

const change = (aggregateId: string, seq: number): ChangeNotification => ({
  aggregateType: 'INSTANCE',
  aggregateId,
  seq,
  eventType: 'InstanceUpdated',
  eventId: `${aggregateId}-${seq}`,
  occurredAt: new Date().toISOString(),
  doc: { aggregateType: 'INSTANCE', aggregateId, seq } as ChangeNotification['doc'],
});

describe('change hub', () => {
  it('passes each change on once per aggregate, dropping repeats and older seqs (the feed is at-least-once)', async () => {
    const feed = createInProcessChangeFeed();
    const hub = await createChangeHub(feed);
    const seen: string[] = [];
    hub.listen((c) => seen.push(`${c.aggregateId}@${c.seq}`));
    await feed.publish([change('a', 1), change('b', 1), change('a', 2), change('a', 2)]);
    await feed.publish([change('a', 1), change('b', 1), change('b', 2), change('a', 3)]);
    await waitFor(() => (seen.length >= 5 ? true : undefined));
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual(['a@1', 'b@1', 'a@2', 'b@2', 'a@3']);
    await hub.close();
  });

  it('remembers a bounded number of aggregates, the least recently seen forgotten first', async () => {
    const feed = createInProcessChangeFeed();
    const hub = await createChangeHub(feed, { rememberAggregates: 2 });
    const seen: string[] = [];
    hub.listen((c) => seen.push(`${c.aggregateId}@${c.seq}`));
    await feed.publish([change('a', 1), change('b', 1), change('a', 2), change('c', 1)]);
    // 'a' is still remembered (seen after 'b'); 'b' was forgotten, the least recently seen.
    await feed.publish([change('a', 2), change('b', 1)]);
    await waitFor(() => (seen.length >= 5 ? true : undefined));
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual(['a@1', 'b@1', 'a@2', 'c@1', 'b@1']);
    await hub.close();
  });
});
