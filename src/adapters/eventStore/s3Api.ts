import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

/**
 * The few S3 operations the event store uses. Failures are thrown as objects shaped like the AWS
 * SDK's errors (`name` = the S3 error code, `$metadata.httpStatusCode`; no status when no answer),
 * so one error mapping serves both implementations below.
 */
export interface S3Api {
  /** `ifNoneMatch`: conditional create (`If-None-Match: *`): 412 or 409 when the key exists. */
  put(key: string, body: string, options?: { ifNoneMatch?: boolean; contentType?: string }): Promise<void>;
  /** The object's text, or null when absent. */
  get(key: string): Promise<string | null>;
  list(request: ListRequest): Promise<ListResult>;
  /**
   * Deletes up to 1000 keys; answers the keys S3 refused (absent keys are not an error). No keys
   * sends nothing (S3 answers an empty DeleteObjects with MalformedXML).
   */
  deleteMany(keys: string[]): Promise<{ key: string; code: string; message: string }[]>;
  headBucket(): Promise<void>;
  /** Creates the bucket; an existing bucket of ours is fine. */
  createBucket(): Promise<void>;
  /** Closes kept-alive connections (a client built here; an SDK client is its owner's business). */
  destroy?(): void;
}

export interface ListRequest {
  prefix: string;
  maxKeys: number;
  continuationToken?: string;
  startAfter?: string;
}
export interface ListResult {
  keys: string[];
  nextContinuationToken?: string;
}

/** An error shaped like the SDK's, so the adapter's mapping (status, name) applies unchanged. */
export class S3HttpError extends Error {
  readonly $metadata: { httpStatusCode?: number };
  constructor(name: string, status: number | undefined, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = name;
    this.$metadata = { httpStatusCode: status };
  }
}

// ---------------------------------------------------------------------------------------------
// AWS SDK implementation (tests that bring their own S3Client)
// ---------------------------------------------------------------------------------------------

export function sdkS3Api(s3: S3Client, bucket: string): S3Api {
  const Bucket = bucket;
  return {
    async put(key, body, options = {}) {
      await s3.send(
        new PutObjectCommand({
          Bucket,
          Key: key,
          Body: body,
          IfNoneMatch: options.ifNoneMatch ? '*' : undefined,
          ContentType: options.contentType,
          ContentLength: body === '' ? 0 : undefined,
        }),
      );
    },
    async get(key) {
      try {
        const res = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
        return (await res.Body?.transformToString('utf-8')) ?? '';
      } catch (e) {
        const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (err.$metadata?.httpStatusCode === 404 || err.name === 'NoSuchKey') return null;
        throw e;
      }
    },
    async list({ prefix, maxKeys, continuationToken, startAfter }) {
      const res = await s3.send(
        new ListObjectsV2Command({
          Bucket,
          Prefix: prefix,
          MaxKeys: maxKeys,
          ContinuationToken: continuationToken,
          StartAfter: continuationToken === undefined ? startAfter : undefined,
        }),
      );
      return {
        keys: (res.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : [])),
        nextContinuationToken: res.IsTruncated ? res.NextContinuationToken : undefined,
      };
    },
    async deleteMany(keys) {
      if (keys.length === 0) return [];
      const res = await s3.send(
        new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
      );
      return (res.Errors ?? []).map((e) => ({ key: e.Key ?? '', code: e.Code ?? '', message: e.Message ?? '' }));
    },
    async headBucket() {
      await s3.send(new HeadBucketCommand({ Bucket }));
    },
    async createBucket() {
      try {
        await s3.send(new CreateBucketCommand({ Bucket }));
      } catch (e) {
        if ((e as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw e;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP implementation (production): the same requests, signed here with SigV4.
// ---------------------------------------------------------------------------------------------

export interface HttpS3Options {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  forcePathStyle: boolean;
  /** Deadline of one request (connect + answer). */
  timeoutMs: number;
  /** Sockets kept per engine. @default 128 */
  maxSockets?: number;
  /** Tries of one request when there is no answer or a 5xx/429 (every request here is idempotent). @default 2 */
  attempts?: number;
}

interface HttpRequest {
  method: 'GET' | 'PUT' | 'POST' | 'HEAD';
  /** Object key ('' for the bucket itself). */
  key: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
}
interface HttpResponse {
  status: number;
  body: string;
}

const sha256Hex = (data: string): string => createHash('sha256').update(data).digest('hex');
const EMPTY_SHA256 = sha256Hex('');

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters. */
const encodeRfc3986 = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const encodePath = (path: string): string => path.split('/').map(encodeRfc3986).join('/');

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decodeXml = (s: string): string =>
  s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number.parseInt(e.slice(1), 10));
    return XML_ENTITIES[e] ?? m;
  });
const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => `&${Object.entries(XML_ENTITIES).find(([, v]) => v === c)![0]};`);
const xmlValues = (xml: string, tag: string): string[] =>
  [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => decodeXml(m[1]!));
const xmlValue = (xml: string, tag: string): string | undefined => xmlValues(xml, tag)[0];

/**
 * S3 over node:http with a hand-written SigV4 signature. The AWS SDK spends about 2 ms of CPU per
 * request in its middleware, serde and signing (bench, 2-core machine); this costs a small fraction
 * of that, which is what bounds the gateway, the relay and the rebuild, one request per commit.
 */
export function httpS3Api(options: HttpS3Options): S3Api {
  const url = new URL(options.endpoint);
  const secure = url.protocol === 'https:';
  const maxSockets = options.maxSockets ?? 128;
  const agent = new (secure ? https.Agent : http.Agent)({ keepAlive: true, maxSockets });
  const transport = secure ? https : http;
  const host = options.forcePathStyle ? url.host : `${options.bucket}.${url.host}`;
  const basePath = `${url.pathname.replace(/\/$/, '')}${options.forcePathStyle ? `/${options.bucket}` : ''}`;
  const attempts = options.attempts ?? 2;
  const signingKeys = new Map<string, Buffer>();

  const signingKey = (date: string): Buffer => {
    let k = signingKeys.get(date);
    if (!k) {
      const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
      k = hmac(hmac(hmac(hmac(`AWS4${options.secretAccessKey}`, date), options.region), 's3'), 'aws4_request');
      signingKeys.clear();
      signingKeys.set(date, k);
    }
    return k;
  };

  /** Signs the request (SigV4, payload hash included) and returns its path and headers. */
  function sign(req: HttpRequest): { path: string; headers: Record<string, string> } {
    const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    const date = amzDate.slice(0, 8);
    const path = req.key === '' ? basePath || '/' : encodePath(`${basePath}/${req.key}`);
    const query = Object.entries(req.query ?? {})
      .map(([k, v]) => `${encodeRfc3986(k)}=${encodeRfc3986(v)}`)
      .sort()
      .join('&');
    const payloadHash = req.body ? sha256Hex(req.body) : EMPTY_SHA256;
    const headers: Record<string, string> = {
      ...req.headers,
      host,
      'x-amz-date': amzDate,
      'x-amz-content-sha256': payloadHash,
    };
    const names = Object.keys(headers)
      .map((h) => h.toLowerCase())
      .sort();
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v.trim()]));
    const canonical = [
      req.method,
      path,
      query,
      names.map((n) => `${n}:${lower[n]}\n`).join(''),
      names.join(';'),
      payloadHash,
    ].join('\n');
    const scope = `${date}/${options.region}/s3/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
    const signature = createHmac('sha256', signingKey(date)).update(toSign).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${options.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
    return { path: query ? `${path}?${query}` : path, headers };
  }

  function once(req: HttpRequest): Promise<HttpResponse> {
    const { path, headers } = sign(req);
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    return new Promise((resolve, reject) => {
      const r = transport.request(
        { host: url.hostname, port: url.port, method: req.method, path, headers, agent, timeout: options.timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) => reject(new S3HttpError('NetworkError', undefined, e.message, e)));
        },
      );
      r.on('timeout', () => r.destroy(new Error(`S3 request timed out after ${options.timeoutMs} ms`)));
      r.on('error', (e) =>
        reject(
          r.reusedSocket && isClosedByPeer(e)
            ? new StaleSocketError(e)
            : new S3HttpError('NetworkError', undefined, e.message, e),
        ),
      );
      r.end(req.body);
    });
  }

  const transient = (status: number | undefined) => status === undefined || status >= 500 || status === 429;

  /** Sends the request, retrying a transient failure; a non-2xx answer becomes an S3HttpError. */
  async function send(req: HttpRequest, accept: (status: number) => boolean = ok): Promise<HttpResponse> {
    for (let attempt = 1, stale = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await once(req);
      } catch (e) {
        // A kept-alive socket the server had already closed: not a failure of the engine, try again
        // (the pool hands out the next socket, or a new one); at most every pooled socket once.
        if (e instanceof StaleSocketError && stale++ < maxSockets) {
          attempt--;
          continue;
        }
        if (attempt < attempts) continue;
        throw e instanceof StaleSocketError ? e.error : e;
      }
      if (accept(res.status)) return res;
      if (transient(res.status) && attempt < attempts) continue;
      const code = xmlValue(res.body, 'Code') ?? `Http${res.status}`;
      throw new S3HttpError(code, res.status, `${req.method} ${req.key}: ${res.status} ${code}`);
    }
  }

  return {
    async put(key, body, { ifNoneMatch = false, contentType } = {}) {
      const headers: Record<string, string> = {};
      if (ifNoneMatch) headers['if-none-match'] = '*';
      if (contentType) headers['content-type'] = contentType;
      await send({ method: 'PUT', key, headers, body });
    },
    async get(key) {
      const res = await send({ method: 'GET', key }, (s) => ok(s) || s === 404);
      return res.status === 404 ? null : res.body;
    },
    async list({ prefix, maxKeys, continuationToken, startAfter }) {
      const query: Record<string, string> = { 'list-type': '2', prefix, 'max-keys': String(maxKeys) };
      if (continuationToken !== undefined) query['continuation-token'] = continuationToken;
      else if (startAfter !== undefined) query['start-after'] = startAfter;
      const { body } = await send({ method: 'GET', key: '', query });
      const truncated = xmlValue(body, 'IsTruncated') === 'true';
      return {
        keys: xmlValues(body, 'Key'),
        nextContinuationToken: truncated ? xmlValue(body, 'NextContinuationToken') : undefined,
      };
    },
    async deleteMany(keys) {
      if (keys.length === 0) return [];
      const xml = `<Delete><Quiet>true</Quiet>${keys.map((k) => `<Object><Key>${escapeXml(k)}</Key></Object>`).join('')}</Delete>`;
      const md5 = createHash('md5').update(xml).digest('base64');
      const { body } = await send({
        method: 'POST',
        key: '',
        query: { delete: '' },
        headers: { 'content-md5': md5, 'content-type': 'application/xml' },
        body: xml,
      });
      return [...body.matchAll(/<Error>([\s\S]*?)<\/Error>/g)].map((m) => ({
        key: xmlValue(m[1]!, 'Key') ?? '',
        code: xmlValue(m[1]!, 'Code') ?? '',
        message: xmlValue(m[1]!, 'Message') ?? '',
      }));
    },
    async headBucket() {
      await send({ method: 'HEAD', key: '' });
    },
    async createBucket() {
      const res = await send({ method: 'PUT', key: '' }, (s) => ok(s) || s === 409);
      if (res.status === 409 && xmlValue(res.body, 'Code') !== 'BucketAlreadyOwnedByYou') {
        throw new S3HttpError(xmlValue(res.body, 'Code') ?? 'Http409', 409, `create bucket: ${res.body}`);
      }
    },
    destroy() {
      agent.destroy();
    },
  };
}

const ok = (status: number): boolean => status >= 200 && status < 300;

const isClosedByPeer = (e: Error): boolean =>
  ['ECONNRESET', 'EPIPE'].includes((e as NodeJS.ErrnoException).code ?? '') || e.message === 'socket hang up';

/** A request failed on a reused keep-alive socket (closed by the server while idle). */
class StaleSocketError extends Error {
  readonly error: S3HttpError;
  constructor(cause: Error) {
    super(cause.message);
    this.error = new S3HttpError('NetworkError', undefined, cause.message, cause);
  }
}
