import type { LedgerEntry, ReservationRequest } from '../../ports/sequenceStore.js';

/** What an absent key reads as in a conflict answer. */
export const absentEntry = (key: string): LedgerEntry => ({
  key,
  seq: 0,
  live: false,
  parent: null,
  confirmedSeq: 0,
  reservedAt: 0,
});

const isSeq = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/** Rejects requests no caller should send (a programming error, not a user error). */
export function checkReservation(request: ReservationRequest): void {
  if (!isSeq(request.expectedSeq) || !isSeq(request.nextSeq) || request.nextSeq <= request.expectedSeq) {
    throw new RangeError(
      `reserve(${request.key}): nextSeq ${request.nextSeq} must be an integer above expectedSeq ${request.expectedSeq} ≥ 0`,
    );
  }
  const versions = request.requireVersion ?? [];
  if (versions.some((v) => !isSeq(v.seq))) {
    throw new RangeError(`reserve(${request.key}): every requireVersion seq must be an integer ≥ 0`);
  }
  if (
    request.parent === request.key ||
    request.requireLive.includes(request.key) ||
    versions.some((v) => v.key === request.key)
  ) {
    throw new RangeError(`reserve(${request.key}): a key cannot be its own parent or requirement`);
  }
}
