import type { Client, errors } from '@elastic/elasticsearch' with { 'resolution-mode': 'require' };
export type C = Client;
export type E = errors.ResponseError;
