import { randomUUID } from 'node:crypto';
import { Api, aggregateIdOf } from '../e2e/api.js';
import type { GqlResponse } from '../e2e/client.js';
import type { Cluster } from '../e2e/harness.js';
import { randomId } from '../support/ids.js';

/**
 * A load of creates and updates from concurrent clients over every gateway, written like a careful
 * client: each mutation carries an idempotency key and is retried with the same key and input until
 * it is acknowledged. An attempt with an unknown outcome (connection lost, UNAVAILABLE) may have
 * landed: a later CONFLICT is then resolved by looking for our key in the aggregate's history.
 * Everything acknowledged is recorded, with every error answer and how long it took.
 */

export interface LoadOptions {
  cluster: Cluster;
  database: string;
  classId: string;
  clients: number;
  /** Stop after this many acknowledged mutations (or when `stop()` is called). */
  mutations: number;
  /** Share of creates (the rest are updates of the client's own instances). @default 0.3 */
  createRatio?: number;
  /** A request with no answer after this long counts as a hang. @default 20_000 */
  hangMs?: number;
  /** A mutation is retried this long (longer than any outage of the run) before it is abandoned. @default 180_000 */
  retryBudgetMs?: number;
}

export interface Acknowledged {
  id: string;
  seq: number;
  key: string;
  v: number;
}

export interface ErrorAnswer {
  code: string;
  dependency: string | null;
  ms: number;
  at: number;
}

export interface LoadResult {
  acknowledged: Acknowledged[];
  /** Final acknowledged seq per instance id. */
  finalSeq: Map<string, number>;
  errors: ErrorAnswer[];
  /** Requests that got no HTTP answer (connection refused or reset: a gateway was down). */
  networkFailures: number;
  hangs: number;
  /** Mutations given up after retrying for their whole budget. */
  abandoned: number;
  /** Acknowledged after a CONFLICT showed that an earlier attempt had landed. */
  resolvedFromHistory: number;
}

export interface RunningLoad {
  done: Promise<LoadResult>;
  stop(): void;
  /** Ends the load at once, mid-retry too (the run failed; nothing is counted any more). */
  abort(): Promise<void>;
  /** Acknowledged so far. */
  progress(): number;
}

type Answer =
  | { ok: true; seq: number }
  | { ok: false; code: string; message: string; dependency: string | null }
  | { ok: null };

export function startLoad(options: LoadOptions): RunningLoad {
  const { cluster, database, classId } = options;
  const createRatio = options.createRatio ?? 0.3;
  const hangMs = options.hangMs ?? 20_000;
  const retryBudgetMs = options.retryBudgetMs ?? 180_000;
  const result: LoadResult = {
    acknowledged: [],
    finalSeq: new Map(),
    errors: [],
    networkFailures: 0,
    hangs: 0,
    abandoned: 0,
    resolvedFromHistory: 0,
  };
  let stopped = false;
  let aborted = false;
  let counter = 0;
  const gateways = () => cluster.gateways.length;
  const api = (n: number) => new Api(() => cluster.gateways[n % gateways()]!.http);

  async function attempt(n: number, op: 'create' | 'update', input: Record<string, unknown>): Promise<Answer> {
    const started = Date.now();
    let res: GqlResponse<Record<string, { instance: { seq: number } }>>;
    try {
      const call = op === 'create' ? api(n).createInstance(input) : api(n).updateInstance(input);
      res = (await Promise.race([
        call,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('hang')), hangMs)),
      ])) as typeof res;
    } catch (e) {
      if (e instanceof Error && e.message === 'hang') result.hangs++;
      else result.networkFailures++;
      return { ok: null };
    }
    if (res.status !== 200) {
      result.networkFailures++;
      return { ok: null };
    }
    const error = res.body.errors?.[0];
    if (!error) {
      const payload = Object.values(res.body.data ?? {})[0];
      return { ok: true, seq: payload!.instance.seq };
    }
    const code = String(error.extensions?.code ?? 'NONE');
    const dependency = (error.extensions?.dependency as string | undefined) ?? null;
    result.errors.push({ code, dependency, ms: Date.now() - started, at: started });
    return { ok: false, code, message: error.message, dependency };
  }

  /**
   * The seq of the commit carrying our idempotency key, if one landed. The store may be down right
   * now (the faults go on): ask again, across gateways, until the retry budget is spent.
   */
  async function landed(id: string, key: string): Promise<number | null> {
    const giveUpAt = Date.now() + retryBudgetMs;
    for (let n = 0; Date.now() < giveUpAt && !aborted; n++) {
      try {
        const res = await api(n).events('INSTANCE', aggregateIdOf(database, id));
        const events = res.body.data?.events;
        if (events) {
          const mine = events.find((e) => e.kind === 'DOMAIN' && e.idempotencyKey === key);
          return mine ? mine.seq : null;
        }
      } catch {
        // no answer (a gateway restarting): ask another
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    if (aborted) return null;
    throw new Error(`could not read the history of ${id}`);
  }

  /** One mutation, retried with the same key until acknowledged; returns the acknowledged seq. */
  async function mutate(client: number, op: 'create' | 'update', id: string, input: Record<string, unknown>) {
    const key = randomUUID();
    const giveUpAt = Date.now() + retryBudgetMs;
    let uncertain = false;
    for (let n = client, delay = 100; Date.now() < giveUpAt; n++, delay = Math.min(delay * 2, 2_000)) {
      if (aborted) return null;
      const answer = await attempt(n, op, { ...input, idempotencyKey: key });
      if (answer.ok) return { seq: answer.seq, key };
      if (aborted) return null;
      if (answer.ok === false && answer.code === 'CONFLICT' && uncertain) {
        const seq = await landed(id, key);
        if (seq !== null) {
          result.resolvedFromHistory++;
          return { seq, key };
        }
      }
      if (answer.ok === false && answer.code !== 'UNAVAILABLE' && answer.code !== 'CONFLICT') {
        throw new Error(`mutation of ${id} answered ${answer.code}`);
      }
      if (answer.ok === false && answer.code === 'CONFLICT' && !uncertain) {
        throw new Error(
          `mutation of ${id} (${JSON.stringify(input)}) answered CONFLICT with nothing in flight ` +
            `from gateway ${n % gateways()}: ${answer.message}`,
        );
      }
      uncertain = true;
      await new Promise((r) => setTimeout(r, delay));
    }
    result.abandoned++;
    return null;
  }

  async function client(index: number): Promise<void> {
    const mine: { id: string; seq: number }[] = [];
    while (!stopped && counter < options.mutations) {
      counter++;
      const create = mine.length === 0 || Math.random() < createRatio;
      const v = Math.floor(Math.random() * 1_000_000);
      if (create) {
        const id = randomId('L');
        const done = await mutate(index, 'create', id, { database, classId, id, properties: { v } });
        if (done) {
          mine.push({ id, seq: done.seq });
          record({ id, seq: done.seq, key: done.key, v });
        }
      } else {
        const target = mine[Math.floor(Math.random() * mine.length)]!;
        const input = { database, id: target.id, expectedSeq: target.seq, set: { v } };
        const done = await mutate(index, 'update', target.id, input);
        if (done) {
          target.seq = done.seq;
          record({ id: target.id, seq: done.seq, key: done.key, v });
        } else {
          // Abandoned (counted, the run fails): it may still land, so its seq is unknown from here.
          mine.splice(mine.indexOf(target), 1);
        }
      }
    }
  }

  function record(ack: Acknowledged): void {
    result.acknowledged.push(ack);
    result.finalSeq.set(ack.id, Math.max(result.finalSeq.get(ack.id) ?? 0, ack.seq));
  }

  const done = Promise.all(Array.from({ length: options.clients }, (_, i) => client(i))).then(() => result);
  return {
    done,
    stop: () => {
      stopped = true;
    },
    abort: async () => {
      stopped = true;
      aborted = true;
      await done.catch(() => undefined);
    },
    progress: () => result.acknowledged.length,
  };
}
