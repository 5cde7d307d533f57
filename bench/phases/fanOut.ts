import { pollUntil, sleep } from '../cluster.js';
import type { BenchRun } from '../run/context.js';
import { latencyFigure, type Params, round } from '../stats.js';
import { CLASS_ID } from '../workload.js';

const FAN_DB = 'benchfan';

export async function fanOut(run: BenchRun): Promise<void> {
  const { P, gateway } = run;
  const { openSubscribers, closeAll } = await import('../ws.js');
  await run.setupDatabase(FAN_DB);
  const target = 'x';
  const created = await run
    .gql()
    .must<{ createInstance: { seq: number } }>(
      `mutation($input: CreateInstanceInput!) { createInstance(input: $input) { seq } }`,
      { input: { database: FAN_DB, classId: CLASS_ID, id: target, properties: { n: 0 } } },
    );
  run.commits++;
  let seq = created.createInstance.seq;
  const subsBefore = await gateway.metric('cairn_subscriptions_active');
  await sleep(500);
  const rssBefore = gateway.sampleMemory();
  const opened = performance.now();
  const subs = await openSubscribers(
    gateway.ws,
    P.subscribers,
    `subscription($db: ID!, $id: ID) { instanceChanged(database: $db, id: $id) { change id seq } }`,
    { db: FAN_DB, id: target },
  );
  const openSecs = (performance.now() - opened) / 1000;
  try {
    const active = await pollUntil(
      async () => (await gateway.metric('cairn_subscriptions_active')) >= subsBefore + P.subscribers,
      60_000,
      100,
    );
    if (!active)
      throw new Error(
        `only ${await gateway.metric('cairn_subscriptions_active')} subscriptions active of ${P.subscribers}`,
      );
    await sleep(1_000);
    const rssAfter = gateway.sampleMemory();
    const reachAll: number[] = [];
    const firsts: number[] = [];
    const spreads: number[] = [];
    const deliveries: number[] = [];
    let incomplete = 0;
    for (let round_ = 0; round_ < P.fanoutRounds; round_++) {
      const arrivals: number[] = [];
      const seen = new Set<number>();
      subs.forEach((s, i) => {
        s.onNext = (at) => {
          if (seen.has(i)) return;
          seen.add(i);
          arrivals.push(at);
        };
      });
      const sentAt = performance.now();
      const res = await run
        .gql()
        .must<{ updateInstance: { seq: number } }>(
          `mutation($input: UpdateInstanceInput!) { updateInstance(input: $input) { seq } }`,
          { input: { database: FAN_DB, id: target, expectedSeq: seq, set: { n: round_ + 1 } } },
        );
      seq = res.updateInstance.seq;
      run.commits++;
      const all = await pollUntil(async () => arrivals.length >= subs.length, 30_000, 5);
      if (!all) incomplete++;
      arrivals.sort((a, b) => a - b);
      if (arrivals.length) {
        reachAll.push(arrivals[arrivals.length - 1]! - sentAt);
        firsts.push(arrivals[0]! - sentAt);
        spreads.push(arrivals[arrivals.length - 1]! - arrivals[0]!);
        for (const a of arrivals) deliveries.push(a - sentAt);
      }
      await sleep(300);
    }
    const params: Params = {
      subscribers: P.subscribers,
      rounds: P.fanoutRounds,
      incompleteRounds: incomplete,
      openSeconds: round(openSecs, 2),
      firstReceivedMs: round(median(firsts), 1),
      firstToLastSpreadMs: round(median(spreads), 1),
    };
    run.add(
      latencyFigure(
        'fanout.reachAll',
        `fan-out: mutation → all ${P.subscribers} subscribers reached`,
        reachAll,
        params,
        {
          note: 'one update per round, time from sending the mutation until the last subscriber received it (the median over rounds is the value); the load generator receiving them shares the same two cores',
        },
      ),
      latencyFigure(
        'fanout.delivery',
        `fan-out: per-subscriber delivery (${P.subscribers} subscribers)`,
        deliveries,
        params,
      ),
      {
        id: 'fanout.memoryPerConnection',
        name: 'gateway memory per subscription connection',
        kind: 'cairn',
        unit: 'KiB',
        value: (rssAfter - rssBefore) / 1024 / P.subscribers,
        median: (rssAfter - rssBefore) / 1024 / P.subscribers,
        count: P.subscribers,
        parameters: { rssBeforeMiB: round(rssBefore / 2 ** 20, 1), rssAfterMiB: round(rssAfter / 2 ** 20, 1) },
        note: 'gateway RSS delta / connections (one graphql-ws connection with one subscription each), no forced GC',
      },
    );
  } finally {
    closeAll(subs);
    await sleep(500);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN;
};
