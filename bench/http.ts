import { Agent, request } from 'node:http';

/**
 * A lean GraphQL-over-HTTP client for the load generator: node:http with a keep-alive agent (one
 * socket per concurrent client), no retries, the body parsed once. Lighter than fetch, which matters
 * when the load generator shares two cores with everything it measures.
 */

export interface GqlError {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
}

export interface GqlResult<T> {
  status: number;
  data: T | null;
  errors: GqlError[];
  /** Wall time from writing the request to the last byte of the answer. */
  ms: number;
}

export class GqlClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(endpoint: string, sockets: number) {
    this.url = new URL(endpoint);
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  post<T>(query: string, variables?: Record<string, unknown>, timeoutMs = 30_000): Promise<GqlResult<T>> {
    const body = Buffer.from(JSON.stringify(variables === undefined ? { query } : { query, variables }));
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          path: this.url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': body.length },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const ms = performance.now() - started;
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: { data?: T | null; errors?: GqlError[] } = {};
            try {
              parsed = JSON.parse(text) as { data?: T | null; errors?: GqlError[] };
            } catch {
              parsed = { errors: [{ message: `HTTP ${res.statusCode}: ${text.slice(0, 200)}` }] };
            }
            resolve({ status: res.statusCode ?? 0, data: parsed.data ?? null, errors: parsed.errors ?? [], ms });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Like `post`, but throws unless the answer has data and no errors. */
  async must<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const r = await this.post<T>(query, variables);
    if (r.errors.length > 0 || r.data === null) {
      throw new Error(`GraphQL failed (HTTP ${r.status}): ${JSON.stringify(r.errors).slice(0, 500)}`);
    }
    return r.data;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** GET a text resource (/metrics, /health). */
export async function getText(url: string, timeoutMs = 5_000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return res.text();
}

/** Reads one Prometheus counter or gauge (summing every label set) from a /metrics text. */
export function metricValue(text: string, name: string): number | null {
  let total: number | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}
