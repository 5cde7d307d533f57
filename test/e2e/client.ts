import { type Client, createClient, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * A small GraphQL client for the e2e suite: plain `fetch` for queries and mutations, graphql-ws (over the
 * `ws` package) for subscriptions. Everything it opens is tracked and closed by `closeAll()`.
 */

export interface GraphQLErrorShape {
  message: string;
  path?: (string | number)[];
  locations?: { line: number; column: number }[];
  extensions?: { code?: string; [key: string]: unknown };
}

export interface GqlBody<T> {
  data?: T | null;
  errors?: GraphQLErrorShape[];
}

export interface GqlResponse<T> {
  status: number;
  headers: Headers;
  /** The parsed JSON body (`{}` when the body was not JSON). */
  body: GqlBody<T>;
  /** The raw body text. */
  text: string;
}

export type Variables = Record<string, unknown>;

export interface GqlOptions {
  headers?: Record<string, string>;
}

/** POSTs one GraphQL operation as `application/json`; never throws on an HTTP or GraphQL error. */
export async function gql<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables?: Variables,
  options: GqlOptions = {},
): Promise<GqlResponse<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
    body: JSON.stringify(variables === undefined ? { query } : { query, variables }),
  });
  return readResponse<T>(res);
}

/** Reads a fetch Response into a `GqlResponse` (for requests a test builds by hand). */
export async function readResponse<T>(res: Response): Promise<GqlResponse<T>> {
  const text = await res.text();
  let body: GqlBody<T> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') body = parsed as GqlBody<T>;
  } catch {
    // not JSON: the tests look at `status` and `text`
  }
  return { status: res.status, headers: res.headers, body, text };
}

const show = (value: unknown): string => JSON.stringify(value, null, 1).slice(0, 2_000);

/** The response's `data`, after checking it is a 200 without errors. */
export function expectData<T>(res: GqlResponse<T>): T {
  if (res.status !== 200 || (res.body.errors?.length ?? 0) > 0 || res.body.data == null) {
    throw new Error(`expected data, got HTTP ${res.status}: ${show(res.body.errors ?? res.text)}`);
  }
  return res.body.data;
}

export interface CodedError extends GraphQLErrorShape {
  extensions: { code: string; [key: string]: unknown };
}

/**
 * The first GraphQL error, after checking it carries `code` and came in a 200 response (the contract:
 * "GraphQL errors come in a 200 response with `errors`"). Fails with the actual body otherwise.
 */
export function expectError<T>(res: GqlResponse<T>, code: string, { status = 200 } = {}): CodedError {
  const errors = res.body.errors ?? [];
  const first = errors[0];
  if (res.status !== status || !first || first.extensions?.code !== code) {
    throw new Error(
      `expected error ${code} (HTTP ${status}), got HTTP ${res.status}: ${show(errors.length > 0 ? errors : (res.body.data ?? res.text))}`,
    );
  }
  return first as CodedError;
}

/** The error codes of a response, for assertions that accept one of several outcomes. */
export const errorCodes = <T>(res: GqlResponse<T>): string[] =>
  (res.body.errors ?? []).map((e) => e.extensions?.code ?? '(no code)');

// ---------------------------------------------------------------------------------------------
// subscriptions

export interface LiveSubscription<T> {
  /** The data of the next event; throws on a GraphQL error, completion, socket error or timeout. */
  next(timeoutMs?: number): Promise<T>;
  /** The next raw result (data and/or errors); throws on completion, socket error or timeout. */
  nextResult(timeoutMs?: number): Promise<FormattedExecutionResult<T, unknown>>;
  /** Collects events until `done(event)` holds for one (included), or throws after `timeoutMs`. */
  until(done: (event: T) => boolean, timeoutMs?: number): Promise<T[]>;
  /** Events received but not yet taken by `next`/`until`. */
  pending(): number;
  close(): Promise<void>;
}

type Item<T> =
  | { kind: 'next'; result: FormattedExecutionResult<T, unknown> }
  | { kind: 'error'; error: unknown }
  | { kind: 'complete' };

const openClients = new Set<Client>();

/** Default wait for one subscription event: generous, since production goes through Kafka twice. */
export const EVENT_TIMEOUT_MS = 15_000;

/**
 * Opens a graphql-ws connection, starts `query` on it and resolves once the server has registered the
 * subscription: after the connection ack, a `{ __typename }` round trip on the same socket (the server
 * handles one socket's messages in order), so a mutation sent afterwards cannot be missed.
 */
export async function subscribe<T>(wsUrl: string, query: string, variables?: Variables): Promise<LiveSubscription<T>> {
  let connected!: () => void;
  let failed!: (e: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => {
    connected = resolve;
    failed = reject;
  });
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    shouldRetry: () => false,
    on: {
      connected: () => connected(),
      error: (e) => failed(e),
      closed: (e) => failed(new Error(`socket closed before the connection ack: ${show(e)}`)),
    },
  });
  openClients.add(client);
  await withTimeout(ready, 10_000, `graphql-ws connection to ${wsUrl}`);

  const items: Item<T>[] = [];
  let wake: (() => void) | null = null;
  const push = (item: Item<T>) => {
    items.push(item);
    wake?.();
  };
  const unsubscribe = client.subscribe<T>(
    { query, variables: variables ?? {} },
    {
      next: (result) => push({ kind: 'next', result }),
      error: (error) => push({ kind: 'error', error }),
      complete: () => push({ kind: 'complete' }),
    },
  );
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      client.subscribe({ query: '{ __typename }' }, { next: () => undefined, error: reject, complete: resolve });
    }),
    10_000,
    'subscription barrier',
  );

  async function take(timeoutMs: number): Promise<Item<T>> {
    const deadline = Date.now() + timeoutMs;
    while (items.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no subscription event within ${timeoutMs} ms (${query.trim().slice(0, 80)}…)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
    return items.shift()!;
  }

  async function nextResult(timeoutMs = EVENT_TIMEOUT_MS): Promise<FormattedExecutionResult<T, unknown>> {
    const item = await take(timeoutMs);
    if (item.kind === 'complete') throw new Error('subscription completed');
    if (item.kind === 'error') throw new Error(`subscription error: ${show(item.error)}`);
    return item.result;
  }

  async function next(timeoutMs = EVENT_TIMEOUT_MS): Promise<T> {
    const result = await nextResult(timeoutMs);
    if ((result.errors?.length ?? 0) > 0 || result.data == null) {
      throw new Error(`subscription event with errors: ${show(result.errors)}`);
    }
    return result.data;
  }

  return {
    next,
    nextResult,
    async until(done, timeoutMs = EVENT_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      const seen: T[] = [];
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`condition not met within ${timeoutMs} ms; received ${show(seen)}`);
        const event = await next(left).catch((e: unknown) => {
          throw new Error(`${e instanceof Error ? e.message : String(e)}; received so far ${show(seen)}`);
        });
        seen.push(event);
        if (done(event)) return seen;
      }
    },
    pending: () => items.length,
    async close() {
      unsubscribe();
      openClients.delete(client);
      await client.dispose();
    },
  };
}

/** Closes every graphql-ws connection still open (call in afterEach/afterAll). */
export async function closeAll(): Promise<void> {
  const clients = [...openClients];
  openClients.clear();
  await Promise.allSettled(clients.map((c) => c.dispose()));
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
