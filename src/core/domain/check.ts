import { BadUserInputError } from '../errors.js';
import type { JsonObject } from './types.js';

/** Throws BAD_USER_INPUT for `field` (a path such as `input.properties[2].target`). */
export function fail(field: string, reason: string): never {
  throw new BadUserInputError(field, reason);
}

/** A JSON object: not null, not an array. */
export const isJsonObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Own enumerable entries only (never the prototype chain). */
export const hasOwn = (o: JsonObject, key: string): boolean => Object.hasOwn(o, key);

/** Quotes a user-given value in a reason, shortened so that a reason stays short. */
export const quote = (v: string): string => JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
