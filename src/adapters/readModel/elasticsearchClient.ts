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
