import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { resolvers } from '../../resolvers/index.js';
import { deadlineIn, NO_DEADLINE } from '../app/deadline.js';
import type { Logger } from '../observability/logger.js';
import { type Metrics, renderNamed } from '../observability/metrics.js';
import { createRequestContext, type GatewayContext, type GatewayServices } from './context.js';
import { createErrorFormatter, withoutStacktrace } from './errors.js';
import type { HealthReport } from './health.js';
import { loadTypeDefs } from './schema.js';
import { createSharedSubscribe } from './sharedSubscribe.js';

export interface HttpServerOptions {
  port: number;
  host: string;
  maxBodyBytes: number;
  /** Budget of one GraphQL request over HTTP: its deadline (see app/deadline.ts) is this far from its start. */
  requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this long (see CAIRN_KEEP_ALIVE_TIMEOUT_MS). */
  keepAliveTimeoutMs: number;
  introspection: boolean;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const ANONYMOUS = 'anonymous';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One HTTP server: Apollo Server for POST/GET /graphql, graphql-ws on the same path for
 * subscriptions, /health and /metrics. `services` null = a worker-only process (no /graphql).
 */
export async function startHttpServer(deps: {
  services: GatewayServices | null;
  health: () => Promise<HealthReport>;
  metrics: Metrics;
  logger: Logger;
  options: HttpServerOptions;
}): Promise<RunningServer> {
  const { services, logger, metrics, options } = deps;
  const http = createServer();
  http.keepAliveTimeout = options.keepAliveTimeoutMs;
  // A request's headers may arrive at the end of the idle time: the headers deadline must outlast it.
  http.headersTimeout = options.keepAliveTimeoutMs + 1_000;
  http.requestTimeout = Math.max(http.requestTimeout, http.headersTimeout);
  let apollo: ApolloServer<GatewayContext> | null = null;
  let wss: WebSocketServer | null = null;

  if (services) {
    const schema = makeExecutableSchema({ typeDefs: loadTypeDefs(), resolvers });
    wss = new WebSocketServer({ server: http, path: '/graphql', maxPayload: options.maxBodyBytes });
    const formatError = createErrorFormatter(logger);
    const formatExecutionError = (e: GraphQLError) => withoutStacktrace(formatError(e.toJSON(), e));
    // Errors graphql-ws reports before execution are parse/validation failures of the document.
    const formatRejection = (e: GraphQLError) =>
      formatExecutionError(
        e.extensions?.code
          ? e
          : new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: rejectionCode(e) } }),
      );
    useServer(
      {
        schema,
        context: () =>
          createRequestContext(services, { actor: ANONYMOUS, correlationId: randomUUID(), deadline: NO_DEADLINE }),
        subscribe: createSharedSubscribe(),
        onSubscribe: () => {
          metrics.subscriptions.inc();
        },
        onComplete: () => {
          metrics.subscriptions.dec();
        },
        // The same error boundary as HTTP: contract codes on every error, internals masked.
        onError: (_ctx, _id, _payload, errors) => {
          logger.debug('subscription rejected', { errors: errors.map((e) => e.message) });
          return errors.map(formatRejection);
        },
        onNext: (_ctx, _id, _payload, _args, result) =>
          result.errors ? { ...result, errors: result.errors.map(formatExecutionError) } : undefined,
      },
      wss,
    );
    apollo = new ApolloServer<GatewayContext>({
      schema,
      introspection: options.introspection,
      formatError: (f, e) => withoutStacktrace(formatError(f, e)),
      includeStacktraceInErrorResponses: false,
      // The process owns its signals: main.ts stops every role in order.
      stopOnTerminationSignals: false,
      plugins: [
        // No cache hints in this schema, and POSTed operations are not cached: the default cache
        // control plugin only cost a hook on every resolved field (6 % of the CPU serving a page).
        ApolloServerPluginCacheControlDisabled(),
        // What NODE_ENV other than production gives, whatever it is (see runtime/productionMode.ts).
        ApolloServerPluginLandingPageLocalDefault(),
      ],
    });
    await apollo.start();
  }
  const graphql = apollo;

  http.on('request', (req, res) => {
    handle(req, res).catch((e) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) logger.error('http handler failed', { error: e });
      if (!res.headersSent)
        sendJson(res, status, { errors: [{ message: e instanceof HttpError ? e.message : 'Internal server error' }] });
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') {
      const report = await deps.health();
      return sendJson(res, report.status === 'down' ? 503 : 200, report);
    }
    if (url.pathname === '/metrics') {
      const names = url.searchParams.getAll('name');
      const text = names.length > 0 ? await renderNamed(metrics.registry, names) : await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (url.pathname !== '/graphql' || !graphql || !services) throw new HttpError(404, 'Not found');
    const body = req.method === 'POST' ? await readJsonBody(req, options.maxBodyBytes) : undefined;
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    const correlationId = headerValue(req, 'x-correlation-id') ?? randomUUID();
    const deadline = deadlineIn(options.requestTimeoutMs);
    const result = await graphql.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: async () => createRequestContext(services, { actor: ANONYMOUS, correlationId, deadline }),
    });
    const outHeaders: Record<string, string> = { 'x-correlation-id': correlationId };
    for (const [k, v] of result.headers) outHeaders[k] = v;
    res.writeHead(result.status ?? 200, outHeaders);
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
      return;
    }
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  logger.info('listening', { url: `http://${options.host}:${port}/graphql` });
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    port,
    async close() {
      // Subscribers are told the server is going away (1001); they reconnect to another gateway.
      for (const client of wss?.clients ?? []) client.close(1001, 'Server shutting down');
      wss?.close();
      if (apollo) await apollo.stop();
      await closeServer(http);
    },
  };
}

/** Stops accepting connections, lets in-flight requests finish for `graceMs`, then cuts the rest. */
function closeServer(http: Server, graceMs = 5_000): Promise<void> {
  if (!http.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => http.closeAllConnections(), graceMs);
    http.close(() => {
      clearTimeout(timer);
      resolve();
    });
    http.closeIdleConnections();
  });
}

const headerValue = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' && v.length > 0 && v.length <= 200 ? v : undefined;
};

/** Reads a JSON body up to `limit` bytes: 413 past it, 400 for malformed JSON, 415 for other types. */
async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, `Request body larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `Request body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (type !== 'application/json' && type !== 'application/graphql-response+json') {
    // Let Apollo answer per the GraphQL-over-HTTP spec (it rejects unsupported content types).
    return text;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'Malformed JSON in request body');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** The codes Apollo gives the same failures over HTTP, so both transports answer alike. */
function rejectionCode(error: GraphQLError): string {
  return error.message.startsWith('Syntax Error') ? 'GRAPHQL_PARSE_FAILED' : 'GRAPHQL_VALIDATION_FAILED';
}
