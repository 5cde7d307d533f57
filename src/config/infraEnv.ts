import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `npm run infra:up` writes the engines' endpoints to `.infra/env`; the production profile reads it
 * for any variable the environment does not set, so `npm run start:*` works right after it.
 */
export function readInfraEnv(): Record<string, string> {
  const file = join(process.cwd(), '.infra', 'env');
  if (process.env.CAIRN_PROFILE !== 'production' || !existsSync(file)) return {};
  const pairs = readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.match(/^([A-Z0-9_]+)=(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => [m[1]!, m[2]!] as const);
  return Object.fromEntries(pairs);
}
