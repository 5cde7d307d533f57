/**
 * One error model for the whole system. Every error Cairn raises on purpose is a CairnError with a
 * contract code (API.md "Errors"); the gateway's error boundary maps them to GraphQL in one place
 * and masks anything else as INTERNAL_SERVER_ERROR.
 */
export type ErrorCode =
  | 'CONFLICT'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'STALE_READ'
  | 'UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR';

export class CairnError extends Error {
  readonly code: ErrorCode;
  /** Safe to retry the same request unchanged (drives retry loops, like kafkajs' `retriable`). */
  readonly retriable: boolean;
  /** Contract extensions (API.md), shown to clients. */
  readonly extensions: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { extensions?: Record<string, unknown>; retriable?: boolean; cause?: unknown } = {},
  ) {
    // An outcome the client caused (a stale expectedSeq, a missing id, bad input) is an answer, not a
    // fault: where it was raised helps no one, and capturing and formatting a stack is costly
    // (source-mapped under tsx: ~4 % of a gateway's CPU under contention, where most mutations
    // meet a CONFLICT; GraphQL errors copy the stack of the error they wrap). So none is captured.
    const stackTraceLimit = Error.stackTraceLimit;
    if (OUTCOMES.has(code)) Error.stackTraceLimit = 0;
    super(message, { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.extensions = options.extensions ?? {};
  }
}

/** Codes that answer the request rather than report a fault (their errors carry no stack trace). */
const OUTCOMES: ReadonlySet<ErrorCode> = new Set([
  'CONFLICT',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'IDEMPOTENCY_KEY_REUSED',
  'STALE_READ',
]);

export class ConflictError extends CairnError {
  constructor(aggregateId: string, expectedSeq: number, actualSeq: number) {
    super('CONFLICT', `Conflict on ${aggregateId}: expected seq ${expectedSeq}, actual seq ${actualSeq}`, {
      extensions: { aggregateId, expectedSeq, actualSeq },
    });
  }
}

export class NotFoundError extends CairnError {
  constructor(aggregateId: string, what = 'Aggregate') {
    super('NOT_FOUND', `${what} ${aggregateId} not found`, { extensions: { aggregateId } });
  }
}

export class BadUserInputError extends CairnError {
  constructor(field: string, reason: string) {
    super('BAD_USER_INPUT', `Invalid ${field}: ${reason}`, { extensions: { field, reason } });
  }
}

export class IdempotencyKeyReusedError extends CairnError {
  constructor(key: string) {
    super('IDEMPOTENCY_KEY_REUSED', `Idempotency key "${key}" was already used with another input`);
  }
}

export class StaleReadError extends CairnError {
  constructor(aggregateId: string, minSeq: number, seq: number) {
    super('STALE_READ', `Read model of ${aggregateId} is at seq ${seq}, not yet ${minSeq}`, {
      extensions: { aggregateId, minSeq, seq },
      retriable: true,
    });
  }
}

/** A dependency is down or too slow. Nothing was appended; safe to retry. */
export class UnavailableError extends CairnError {
  constructor(dependency: string, cause?: unknown) {
    super('UNAVAILABLE', `Dependency ${dependency} is unavailable; nothing was changed, retry later`, {
      extensions: { dependency },
      retriable: true,
      cause,
    });
  }
}

/** Port-level: the event store already holds an event at this position (S3 PreconditionFailed). */
export class EventAlreadyExistsError extends CairnError {
  constructor(aggregateId: string, seq: number) {
    super('CONFLICT', `Event ${aggregateId}@${seq} already exists`, {
      extensions: { aggregateId, actualSeq: seq },
    });
  }
}

export const isCairnError = (e: unknown): e is CairnError => e instanceof CairnError;
export const isConflict = (e: unknown): e is CairnError => isCairnError(e) && e.code === 'CONFLICT';
export const isUnavailable = (e: unknown): e is UnavailableError => e instanceof UnavailableError;
export const isEventAlreadyExists = (e: unknown): e is EventAlreadyExistsError => e instanceof EventAlreadyExistsError;
