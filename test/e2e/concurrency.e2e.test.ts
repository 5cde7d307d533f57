import { beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../support/ids.js';
import { expectData, expectError } from './client.js';
import { profiles, useCluster } from './suite.js';

/** Optimistic concurrency over HTTP; on production the requests alternate between two gateways. */
describe.each(profiles)('concurrency (%s)', (profile) => {
  const { api } = useCluster(profile, { gateways: 2 });
  const N = 20;
  let db = '';

  beforeAll(async () => {
    db = (await api().newDatabase()).database.name;
    await api().newClass(db, 'k', [{ name: 'v', type: 'INT' }]);
  });

  it(`${N} parallel updateInstance with the same expectedSeq: exactly one wins, the rest CONFLICT`, async () => {
    const id = randomId('i');
    await api().newInstance(db, 'k', { v: -1 }, id);
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        api(i % 2).updateInstance({ database: db, id, expectedSeq: 1, set: { v: i } }),
      ),
    );
    const winners = results.filter((r) => !r.body.errors);
    const losers = results.filter((r) => r.body.errors);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(N - 1);
    for (const r of losers) {
      const err = expectError(r, 'CONFLICT');
      expect(err.extensions).toMatchObject({ aggregateId: `${db}/${id}`, expectedSeq: 1, actualSeq: 2 });
    }
    const won = expectData(winners[0]!).updateInstance;
    expect(won.seq).toBe(2);

    const events = await api().eventsOf('INSTANCE', `${db}/${id}`);
    expect(events.map((e) => `${e.kind}:${e.seq}`)).toEqual(['COMMAND:1', 'DOMAIN:1', 'COMMAND:2', 'DOMAIN:2']);
    expect(events[3]?.eventId).toBe(won.eventId);
    const read = expectData(await api().instance(db, id, 2)).instance;
    expect(read?.properties).toEqual(won.instance.properties);
  });

  it(`${N} parallel creates of one database: one succeeds, the rest CONFLICT with expectedSeq 0`, async () => {
    const name = randomId('db');
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => api(i % 2).createDatabase({ name, label: `v${i}` })),
    );
    const winners = results.filter((r) => !r.body.errors);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((x) => x.body.errors)) {
      expect(expectError(r, 'CONFLICT').extensions).toMatchObject({ aggregateId: name, expectedSeq: 0, actualSeq: 1 });
    }
    expect(await api().eventsOf('DATABASE', name)).toHaveLength(2);
  });

  it(`${N} parallel deletes with the same expectedSeq: one tombstone`, async () => {
    const id = randomId('i');
    await api().newInstance(db, 'k', { v: 1 }, id);
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => api(i % 2).deleteInstance({ database: db, id, expectedSeq: 1 })),
    );
    expect(results.filter((r) => !r.body.errors)).toHaveLength(1);
    for (const r of results.filter((x) => x.body.errors)) {
      const code = r.body.errors?.[0]?.extensions?.code;
      // The loser saw either the other's tombstone (NOT_FOUND) or a seq mismatch (CONFLICT).
      expect(['CONFLICT', 'NOT_FOUND']).toContain(code);
    }
    expect((await api().eventsOf('INSTANCE', `${db}/${id}`)).map((e) => e.seq)).toEqual([1, 1, 2, 2]);
  });

  it(`${N} parallel creates of different instances all succeed at seq 1`, async () => {
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        api(i % 2).createInstance({ database: db, classId: 'k', id: `par-${i}`, properties: { v: i } }),
      ),
    );
    const payloads = results.map((r) => expectData(r).createInstance);
    expect(payloads.every((p) => p.seq === 1)).toBe(true);
    await api().settle(
      db,
      payloads.map((p) => ({ id: p.instance.id, seq: p.seq })),
    );
    const listed = await api().ids({
      database: db,
      where: [
        { property: 'v', gte: 0 },
        { property: 'v', lt: N },
      ],
    });
    for (let i = 0; i < N; i++) expect(listed).toContain(`par-${i}`);
  });

  it('sequential updates through alternating gateways each see the latest seq', async () => {
    const id = randomId('i');
    await api().newInstance(db, 'k', { v: 0 }, id);
    for (let seq = 1; seq <= 10; seq++) {
      const u = expectData(
        await api(seq % 2).updateInstance({ database: db, id, expectedSeq: seq, set: { v: seq } }),
      ).updateInstance;
      expect(u.seq).toBe(seq + 1);
    }
    expect(expectData(await api().instance(db, id, 11)).instance?.properties).toEqual({ v: 10 });
  });

  describe('invariants across aggregates hold under races', () => {
    const ROUNDS = 8;
    const CREATES = 8;

    it('a class deleted while instances are created: never a live instance of a deleted class', async () => {
      const violations: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const cls = randomId('c');
        await api().newClass(db, cls, [{ name: 'v', type: 'INT' }]);
        const [del, ...creates] = await Promise.all([
          api(round % 2).deleteOntologyClass({ database: db, id: cls, expectedSeq: 1 }),
          ...Array.from({ length: CREATES }, (_, i) =>
            api((round + i + 1) % 2).createInstance({
              database: db,
              classId: cls,
              id: `${cls}-${i}`,
              properties: { v: i },
            }),
          ),
        ]);
        const created = creates.filter((r) => !r.body.errors).length;
        if (!del!.body.errors && created > 0)
          violations.push(`round ${round}: class deleted and ${created} instance(s) created`);
        if (del!.body.errors) expect(del!.body.errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      }
      expect(violations).toEqual([]);
    });

    it('a required property added while instances are created: every live instance has it', async () => {
      const violations: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const cls = randomId('c');
        await api().newClass(db, cls, [{ name: 'v', type: 'INT' }]);
        const [upd, ...creates] = await Promise.all([
          api(round % 2).updateOntologyClass({
            database: db,
            id: cls,
            expectedSeq: 1,
            addProperties: [{ name: 'must', type: 'STRING', required: true }],
          }),
          ...Array.from({ length: CREATES }, (_, i) =>
            api((round + i + 1) % 2).createInstance({
              database: db,
              classId: cls,
              id: `${cls}-${i}`,
              properties: { v: i },
            }),
          ),
        ]);
        const created = creates.filter((r) => !r.body.errors).length;
        if (!upd!.body.errors && created > 0) {
          violations.push(`round ${round}: required "must" added and ${created} instance(s) without it created`);
        }
      }
      expect(violations).toEqual([]);
    });

    it('a property removed while instances are created: no live instance keeps an undefined property', async () => {
      const violations: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const cls = randomId('c');
        await api().newClass(db, cls, [
          { name: 'v', type: 'INT' },
          { name: 'old', type: 'STRING' },
        ]);
        const [upd, ...creates] = await Promise.all([
          api(round % 2).updateOntologyClass({ database: db, id: cls, expectedSeq: 1, removeProperties: ['old'] }),
          ...Array.from({ length: CREATES }, (_, i) =>
            api((round + i + 1) % 2).createInstance({
              database: db,
              classId: cls,
              id: `${cls}-${i}`,
              properties: { v: i, old: 'x' },
            }),
          ),
        ]);
        const payloads = creates.filter((r) => !r.body.errors).map((r) => expectData(r).createInstance);
        const stale = payloads.filter((p) => 'old' in p.instance.properties);
        // Removing a property from a class whose instances use it is allowed, so an instance committed
        // before the removal may keep "old". One committed after it (write-side timestamps) may not.
        const removed = upd!.body.errors ? null : expectData(upd!).updateOntologyClass;
        if (removed) {
          const removedAt = Date.parse(removed.ontologyClass.updatedAt);
          const late = stale.filter((p) => Date.parse(p.instance.createdAt) > removedAt);
          if (late.length > 0)
            violations.push(`round ${round}: ${late.length} instance(s) created with "old" after it was removed`);
        }
      }
      expect(violations).toEqual([]);
    });

    it('a database deleted while classes are created: never a live class in a deleted database', async () => {
      const violations: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const name = (await api().newDatabase()).database.name;
        const [del, ...creates] = await Promise.all([
          api(round % 2).deleteDatabase({ name, expectedSeq: 1 }),
          ...Array.from({ length: CREATES }, (_, i) =>
            api((round + i + 1) % 2).createOntologyClass({ database: name, id: `c${i}`, properties: [] }),
          ),
        ]);
        const created = creates.filter((r) => !r.body.errors).length;
        if (!del!.body.errors && created > 0)
          violations.push(`round ${round}: database deleted and ${created} class(es) created`);
      }
      expect(violations).toEqual([]);
    });
  });

  it('racing updates on many aggregates: per aggregate exactly one winner', async () => {
    const ids = Array.from({ length: 5 }, () => randomId('i'));
    for (const id of ids) await api().newInstance(db, 'k', { v: 0 }, id);
    const results = await Promise.all(
      ids.flatMap((id) =>
        Array.from({ length: 6 }, (_, i) =>
          api(i % 2).updateInstance({ database: db, id, expectedSeq: 1, set: { v: i } }),
        ),
      ),
    );
    for (let a = 0; a < ids.length; a++) {
      const mine = results.slice(a * 6, a * 6 + 6);
      expect(mine.filter((r) => !r.body.errors)).toHaveLength(1);
      expect(mine.filter((r) => r.body.errors?.[0]?.extensions?.code === 'CONFLICT')).toHaveLength(5);
    }
  });
});
