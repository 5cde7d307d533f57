import { type AggregateRef, type AggregateType, isValidAggregateId } from '../src/core/aggregate.js';
import { BadUserInputError } from '../src/core/errors.js';

/** Argument checks shared by the query resolvers (mutations validate in the domain). */
export function pageSize(first: number | null | undefined, fallback: number, max = 1000): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new BadUserInputError('first', `must be an integer from 0 to ${max}`);
  return n;
}

export function checkedRef(aggregateType: AggregateType, aggregateId: string, field: string): AggregateRef {
  if (!isValidAggregateId(aggregateType, aggregateId)) {
    throw new BadUserInputError(field, `"${aggregateId.slice(0, 200)}" is not a valid ${aggregateType} id`);
  }
  return { aggregateType, aggregateId };
}

export function checkedSeq(value: number | null | undefined, field: string): number | null {
  if (value == null) return null;
  if (!Number.isInteger(value) || value < 0) throw new BadUserInputError(field, 'must be a non-negative integer');
  return value;
}
