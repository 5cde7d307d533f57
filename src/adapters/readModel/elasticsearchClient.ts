/**
 * `@elastic/elasticsearch` 7.x with its types under NodeNext. The package's `import` entry
 * (index.mjs) ships no declarations, so a plain `import { Client } from '@elastic/elasticsearch'`
 * is `any` to TypeScript (TS7016). This loads the CommonJS entry — the very module index.mjs wraps —
 * and types it from its index.d.ts. Import `Client` and `errors` from here.
 */
import { createRequire } from 'node:module';

type Elasticsearch = typeof import('@elastic/elasticsearch', { with: { 'resolution-mode': 'require' }});

const elasticsearch = createRequire(import.meta.url)('@elastic/elasticsearch') as Elasticsearch;

export const Client = elasticsearch.Client;
export type Client = InstanceType<Elasticsearch['Client']>;
export type ClientOptions = ConstructorParameters<Elasticsearch['Client']>[0];
export const errors = elasticsearch.errors;

/**
 * The read model's client: `options` plus answers parsed by plain `JSON.parse`. The client's
 * default prototype-poisoning check refuses a whole answer holding a `__proto__` or
 * `constructor.prototype` key, and an instance's JSON values may hold such keys: one such
 * instance made every read of it fail.
 * `JSON.parse` keeps them as own data properties, and nothing merges a parsed doc into another
 * object by assignment. It also spares a scan of every answer (~4 % of the gateway's busy time
 * serving pages of 100).
 */
export const createElasticsearchClient = (options: ClientOptions): Client =>
  new Client({ ...options, disablePrototypePoisoningProtection: true });
