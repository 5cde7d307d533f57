import { describe, expect, it } from 'vitest';
import { randomId } from '../support/ids.js';
import { ISO_DATE_TIME } from './api.js';
import { expectData, expectError } from './client.js';
import { profiles, useCluster } from './suite.js';
import type { Connection, Database } from './types.js';

describe.each(profiles)('databases (%s)', (profile) => {
  const { api } = useCluster(profile);

  it('createDatabase returns the write-side state, seq 1 and the domain event id', async () => {
    const name = randomId('db');
    const res = expectData(await api().createDatabase({ name, label: 'Main', description: 'The main one' }));
    const { database, seq, eventId } = res.createDatabase;
    expect(database).toMatchObject({ name, label: 'Main', description: 'The main one', seq: 1 });
    expect(database.createdAt).toMatch(ISO_DATE_TIME);
    expect(database.updatedAt).toMatch(ISO_DATE_TIME);
    expect(seq).toBe(1);
    expect(eventId).toMatch(/\S/);
    const domain = (await api().eventsOf('DATABASE', name)).filter((e) => e.kind === 'DOMAIN');
    expect(domain.map((e) => e.eventId)).toEqual([eventId]);
  });

  it('label and description are optional (null)', async () => {
    const { database } = await api().newDatabase();
    expect(database.label).toBeNull();
    expect(database.description).toBeNull();
  });

  it('database(name, minSeq) reads the projection at that seq; databases lists it', async () => {
    const created = await api().newDatabase({ label: 'Listed' });
    const read = expectData(await api().database(created.database.name, created.seq)).database;
    expect(read).toEqual(created.database);

    const names: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 100; page++) {
      const conn: Connection<Database> = expectData(await api().databases(100, after)).databases;
      names.push(...conn.edges.map((e) => e.node.name));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(names).toContain(created.database.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('databases paginates with first/after, visiting each database once, with totalCount', async () => {
    const mine = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const { database, seq } = await api().newDatabase();
      expectData(await api().database(database.name, seq));
      mine.add(database.name);
    }
    const seen: string[] = [];
    let after: string | null = null;
    let totalCount = -1;
    for (let page = 0; page < 1_000; page++) {
      const conn: Connection<Database> = expectData(await api().databases(2, after)).databases;
      expect(conn.edges.length).toBeLessThanOrEqual(2);
      if (totalCount < 0) totalCount = conn.totalCount;
      expect(conn.totalCount).toBe(totalCount);
      seen.push(...conn.edges.map((e) => e.node.name));
      if (conn.edges.length > 0) expect(conn.pageInfo.endCursor).toBe(conn.edges.at(-1)!.cursor);
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(totalCount);
    for (const name of mine) expect(seen).toContain(name);
  });

  it('creating an existing database is CONFLICT with expectedSeq 0 and the actual seq', async () => {
    const { database } = await api().newDatabase();
    const err = expectError(await api().createDatabase({ name: database.name }), 'CONFLICT');
    expect(err.extensions).toMatchObject({ aggregateId: database.name, expectedSeq: 0, actualSeq: 1 });
    expect(await api().eventsOf('DATABASE', database.name)).toHaveLength(2);
  });

  it.each([
    ['uppercase', 'Bad'],
    ['path traversal', '../x'],
    ['leading digit', '1db'],
    ['empty', ''],
    ['64 characters', `d${'a'.repeat(63)}`],
    ['500 characters', 'd'.repeat(500)],
    ['slash', 'a/b'],
  ])('an invalid name (%s) is BAD_USER_INPUT with field and reason', async (_, name) => {
    const err = expectError(await api().createDatabase({ name }), 'BAD_USER_INPUT');
    expect(err.extensions.field).toEqual(expect.stringMatching(/name/));
    expect(err.extensions.reason).toEqual(expect.any(String));
  });

  it('the longest valid name (63 characters) is accepted', async () => {
    const name = `d${randomId('').padEnd(62, 'x')}`;
    expect(name).toHaveLength(63);
    expect(expectData(await api().createDatabase({ name })).createDatabase.seq).toBe(1);
  });

  it('deleteDatabase returns { id, seq, eventId }; the database is no longer returned', async () => {
    const { database } = await api().newDatabase();
    const del = expectData(await api().deleteDatabase({ name: database.name, expectedSeq: 1 })).deleteDatabase;
    expect(del).toMatchObject({ id: database.name, seq: 2 });
    expect(del.eventId).toMatch(/\S/);
    expect(expectData(await api().database(database.name, del.seq)).database).toBeNull();
    expect(expectData(await api().database(database.name)).database).toBeNull();
    const listed = expectData(await api().databases(1000)).databases.edges.map((e) => e.node.name);
    expect(listed).not.toContain(database.name);
  });

  it('deleteDatabase with a stale expectedSeq is CONFLICT and appends nothing', async () => {
    const { database } = await api().newDatabase();
    const err = expectError(await api().deleteDatabase({ name: database.name, expectedSeq: 7 }), 'CONFLICT');
    expect(err.extensions).toMatchObject({ aggregateId: database.name, expectedSeq: 7, actualSeq: 1 });
    expect(await api().eventsOf('DATABASE', database.name)).toHaveLength(2);
  });

  it('deleting a missing or deleted database is NOT_FOUND with aggregateId', async () => {
    const missing = randomId('db');
    const err = expectError(await api().deleteDatabase({ name: missing, expectedSeq: 1 }), 'NOT_FOUND');
    expect(err.extensions).toMatchObject({ aggregateId: missing });

    const { database } = await api().newDatabase();
    expectData(await api().deleteDatabase({ name: database.name, expectedSeq: 1 }));
    const again = expectError(await api().deleteDatabase({ name: database.name, expectedSeq: 2 }), 'NOT_FOUND');
    expect(again.extensions).toMatchObject({ aggregateId: database.name });
    expect(await api().eventsOf('DATABASE', missing)).toEqual([]);
  });

  it('re-creating a deleted database continues its seq and keeps the history', async () => {
    const { database } = await api().newDatabase({ label: 'first' });
    expectData(await api().deleteDatabase({ name: database.name, expectedSeq: 1 }));
    const again = expectData(await api().createDatabase({ name: database.name, label: 'second' })).createDatabase;
    expect(again.seq).toBe(3);
    expect(again.database).toMatchObject({ name: database.name, label: 'second', seq: 3 });
    expect(expectData(await api().database(database.name, 3)).database).toMatchObject({ label: 'second', seq: 3 });
    const domain = (await api().eventsOf('DATABASE', database.name)).filter((e) => e.kind === 'DOMAIN');
    expect(domain.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('deleting a database with a live class is BAD_USER_INPUT; allowed once the class is gone', async () => {
    const { database } = await api().newDatabase();
    const cls = await api().newClass(database.name, 'thing', [{ name: 'title', type: 'STRING' }]);
    const err = expectError(await api().deleteDatabase({ name: database.name, expectedSeq: 1 }), 'BAD_USER_INPUT');
    expect(err.extensions.reason).toEqual(expect.any(String));
    expect(await api().eventsOf('DATABASE', database.name)).toHaveLength(2);

    expectData(await api().deleteOntologyClass({ database: database.name, id: 'thing', expectedSeq: cls.seq }));
    const del = expectData(await api().deleteDatabase({ name: database.name, expectedSeq: 1 })).deleteDatabase;
    expect(del.seq).toBe(2);
  });

  it('deleting a database with live instances is BAD_USER_INPUT', async () => {
    const { database } = await api().newDatabase();
    await api().newClass(database.name, 'thing', [{ name: 'title', type: 'STRING' }]);
    await api().newInstance(database.name, 'thing', { title: 'x' }, 'one');
    expectError(await api().deleteDatabase({ name: database.name, expectedSeq: 1 }), 'BAD_USER_INPUT');
    expect(expectData(await api().database(database.name, 1)).database).not.toBeNull();
  });

  describe('order of checks', () => {
    it('malformed input comes before NOT_FOUND', async () => {
      expectError(await api().deleteDatabase({ name: 'Not-Valid', expectedSeq: 1 }), 'BAD_USER_INPUT');
    });

    it('NOT_FOUND comes before CONFLICT', async () => {
      expectError(await api().deleteDatabase({ name: randomId('db'), expectedSeq: 42 }), 'NOT_FOUND');
    });

    it('CONFLICT comes before validation against the current state (live children)', async () => {
      const { database } = await api().newDatabase();
      await api().newClass(database.name, 'thing', []);
      const err = expectError(await api().deleteDatabase({ name: database.name, expectedSeq: 5 }), 'CONFLICT');
      expect(err.extensions).toMatchObject({ aggregateId: database.name, expectedSeq: 5, actualSeq: 1 });
    });
  });
});
