import { describe, expect, it } from 'vitest';
import {
  BadUserInputError,
  ConflictError,
  NotFoundError,
  StaleReadError,
  UnavailableError,
} from '../../../src/core/errors.js';

describe('error model', () => {
  it('captures no stack trace for an outcome the client caused (an answer, not a fault)', () => {
    for (const e of [
      new ConflictError('db/x', 1, 2),
      new NotFoundError('db/x'),
      new BadUserInputError('where', 'bad'),
      new StaleReadError('db/x', 3, 2),
    ]) {
      expect(e.stack).toBe(`${e.name}: ${e.message}`);
    }
  });

  it('keeps the stack trace of a fault, and the stack trace limit of everything else', () => {
    const limit = Error.stackTraceLimit;
    const e = new UnavailableError('postgres', new Error('down'));
    expect(e.stack?.split('\n').length).toBeGreaterThan(1);
    new ConflictError('db/x', 1, 2);
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error('other').stack?.split('\n').length).toBeGreaterThan(1);
  });
});
