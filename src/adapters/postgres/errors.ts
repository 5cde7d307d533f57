import { CairnError, UnavailableError } from '../../core/errors.js';

/**
 * Translation of `pg` failures into port errors, shared by the Postgres adapters: a database that
 * cannot be reached or answers too slowly is UnavailableError('postgres') (retriable, nothing was
 * changed by the failed statement); anything else is rethrown as it is (a bug, not an outage).
 */

/** Node socket errors that mean the server cannot be reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** SQLSTATEs of an unavailable server: admin shutdown, crash, starting up, too many connections, out of resources, statement timeout. */
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '57014',
  '53000',
  '53100',
  '53200',
  '53300',
  '58000',
  '58030',
]);

/** pg's own messages for connection loss and timeouts (they carry no code). */
const UNAVAILABLE_MESSAGES = [
  /timeout exceeded when trying to connect/i,
  /connection terminated/i,
  /connection timeout/i,
  /query read timeout/i,
  /client has encountered a connection error/i,
  /cannot use a pool after calling end/i,
  /client was closed and is not queryable/i,
];

const codeOf = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;

/** SQLSTATE class 23505: a unique constraint refused the write. */
export const isUniqueViolation = (e: unknown): boolean => codeOf(e) === '23505';

/** Serialization failure or deadlock: the transaction was rolled back and may simply be run again. */
export const isRetryableTransactionError = (e: unknown): boolean => {
  const code = codeOf(e);
  return code === '40001' || code === '40P01';
};

export function isPgUnavailable(e: unknown): boolean {
  if (e instanceof AggregateError && e.errors.some(isPgUnavailable)) return true;
  const code = codeOf(e);
  if (code !== undefined && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))) {
    return true;
  }
  return e instanceof Error && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(e.message));
}

/** Returns the port error for a pg failure: UnavailableError for outages, CairnErrors unchanged, else the error itself. */
export function translatePgError(e: unknown): unknown {
  if (e instanceof CairnError) return e;
  if (isPgUnavailable(e)) return new UnavailableError('postgres', e);
  return e;
}
