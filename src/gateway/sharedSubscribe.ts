import { createSourceEventStream, type ExecutionArgs, type ExecutionResult, execute, print } from 'graphql';

type Executed = ExecutionResult | Promise<ExecutionResult>;

/**
 * A `subscribe` for graphql-ws that executes each event once per distinct subscription instead of
 * once per subscriber. graphql-js runs a subscription's selection set for every subscriber and
 * event, so one change watched by 10,000 sockets was 10,000 identical executions. Here results are
 * shared between subscribers with the same document, operation name and variables, keyed by the
 * event's payload object; the resolvers hand every subscriber the same payload object for a change
 * (resolvers/subscription.ts), and a WeakMap keeps results only while that object is alive.
 *
 * Sound because executing a subscription payload reads nothing per subscriber: every socket has the
 * same anonymous context. Once contexts differ (authorization), the actor must join the key.
 */
export function createSharedSubscribe(): (
  args: ExecutionArgs,
) => Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const results = new WeakMap<object, Map<string, Executed>>();

  return async (args) => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source as ExecutionResult; // the subscribe resolver refused
    const key = `${args.operationName ?? ''}\n${JSON.stringify(args.variableValues ?? {})}\n${print(args.document)}`;
    const executeOnce = (payload: unknown): Executed => {
      if (typeof payload !== 'object' || payload === null) return execute({ ...args, rootValue: payload });
      let byKey = results.get(payload);
      if (!byKey) {
        byKey = new Map();
        results.set(payload, byKey);
      }
      let result = byKey.get(key);
      if (!result) {
        result = execute({ ...args, rootValue: payload });
        byKey.set(key, result);
      }
      return result;
    };
    return mapEvents(source, executeOnce);
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

/** Maps each event; closing the result (a client's `complete`, a closed socket) closes the source. */
function mapEvents<T>(
  source: AsyncIterable<unknown>,
  map: (event: unknown) => T | Promise<T>,
): AsyncIterableIterator<T> {
  const events = source[Symbol.asyncIterator]();
  const close = async (): Promise<IteratorResult<T>> => {
    await events.return?.();
    return { value: undefined, done: true };
  };
  const mapped: AsyncIterableIterator<T> = {
    async next() {
      const event = await events.next();
      if (event.done) return { value: undefined, done: true };
      try {
        return { value: await map(event.value), done: false };
      } catch (error) {
        await close();
        throw error;
      }
    },
    return: close,
    async throw(error?: unknown) {
      await close();
      throw error;
    },
    [Symbol.asyncIterator]: () => mapped,
  };
  return mapped;
}
