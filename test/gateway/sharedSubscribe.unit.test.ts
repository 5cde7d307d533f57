import { buildSchema, type ExecutionResult, type GraphQLFieldConfig, type GraphQLSchema, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createSharedSubscribe } from '../../src/gateway/sharedSubscribe.js';

/** A schema from SDL with field functions attached (graphql-tools would load another copy of graphql under vitest). */
function schemaOf(
  sdl: string,
  tick: Pick<GraphQLFieldConfig<unknown, unknown>, 'subscribe' | 'resolve'>,
): GraphQLSchema {
  const schema = buildSchema(sdl);
  Object.assign(schema.getSubscriptionType()!.getFields().tick!, tick);
  return schema;
}

/** A tiny schema whose subscription yields shared payload objects, counting field executions. */
function setup() {
  let executions = 0;
  const listeners = new Set<(p: object) => void>();
  let closed = 0;
  const schema = schemaOf('type Query { ok: Boolean } type Subscription { tick(scale: Int!): Int! }', {
    subscribe: () => {
      const queue: object[] = [];
      let wake: ((r: IteratorResult<object>) => void) | null = null;
      const listener = (p: object) => {
        const waiting = wake;
        wake = null;
        if (waiting) waiting({ value: p, done: false });
        else queue.push(p);
      };
      listeners.add(listener);
      const it: AsyncIterableIterator<object> = {
        next: () =>
          queue.length > 0
            ? Promise.resolve({ value: queue.shift()!, done: false })
            : new Promise((r) => {
                wake = r;
              }),
        return: async () => {
          listeners.delete(listener);
          closed++;
          return { value: undefined, done: true };
        },
        [Symbol.asyncIterator]: () => it,
      };
      return it;
    },
    resolve: (payload, args) => {
      executions++;
      return (payload as { n: number }).n * (args as { scale: number }).scale;
    },
  });
  const subscribe = createSharedSubscribe();
  const open = async (scale: number) => {
    const result = await subscribe({
      schema,
      document: parse('subscription($s: Int!) { tick(scale: $s) }'),
      variableValues: { s: scale },
    });
    return result as AsyncIterableIterator<ExecutionResult>;
  };
  const emit = (payload: object) => {
    for (const l of listeners) l(payload);
  };
  return { open, emit, executions: () => executions, closed: () => closed, listeners };
}

describe('shared subscription execution', () => {
  it('executes one event once for every subscriber of the same subscription, and apart for other variables', async () => {
    const t = setup();
    const same = await Promise.all(Array.from({ length: 50 }, () => t.open(2)));
    const other = await t.open(3);
    t.emit({ n: 5 });
    const results = await Promise.all(same.map((s) => s.next()));
    expect(results.every((r) => r.value?.data?.tick === 10)).toBe(true);
    expect(new Set(results.map((r) => r.value)).size).toBe(1); // one result object, shared
    expect((await other.next()).value?.data).toEqual({ tick: 15 });
    expect(t.executions()).toBe(2);

    t.emit({ n: 6 }); // a new payload object: executed again
    expect((await same[0]!.next()).value?.data).toEqual({ tick: 12 });
    expect(t.executions()).toBe(3);
  });

  it('closing a subscription closes its source stream only', async () => {
    const t = setup();
    const [a, b] = [await t.open(1), await t.open(1)];
    await a.return?.();
    expect(t.closed()).toBe(1);
    expect(t.listeners.size).toBe(1);
    t.emit({ n: 7 });
    expect((await b.next()).value?.data).toEqual({ tick: 7 });
  });

  it('a refusal of the subscribe resolver is returned as an error result', async () => {
    const subscribe = createSharedSubscribe();
    const schema = schemaOf('type Query { ok: Boolean } type Subscription { tick: Int }', {
      subscribe: () => {
        throw new Error('no');
      },
    });
    const result = (await subscribe({ schema, document: parse('subscription { tick }') })) as ExecutionResult;
    expect(result.errors?.[0]?.message).toBe('no');
  });
});
