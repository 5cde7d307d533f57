import { type Deadline, NO_DEADLINE, timeLeft } from '../app/deadline.js';
import { type AggregateRef, aggregateKey } from '../core/aggregate.js';
import { StaleReadError } from '../core/errors.js';
import type { ProjectedDoc, ReadModel } from '../ports/readModel.js';
import type { ChangeHub } from './changeHub.js';

/**
 * `minSeq` reads: answers once the read model holds at least `minSeq` for the aggregate, waking on
 * change notifications (with a slow poll as a fallback), or fails with STALE_READ after `timeoutMs`
 * or, if sooner, near the request's deadline: not yet projected is STALE_READ, whatever
 * bounds the wait (the last read keeps a quarter of what was left, at most 1 s).
 */
export async function readAtLeast(
  deps: { readModel: ReadModel; hub: ChangeHub; timeoutMs: number; pollMs?: number; deadline?: Deadline },
  ref: AggregateRef,
  minSeq: number | null | undefined,
): Promise<ProjectedDoc | null> {
  const read = async () => (await deps.readModel.getMany(ref.aggregateType, [ref.aggregateId]))[0] ?? null;
  const first = await read();
  if (minSeq == null || (first?.seq ?? 0) >= minSeq) return first;
  const key = aggregateKey(ref);
  const left = timeLeft(deps.deadline ?? NO_DEADLINE);
  const deadline = Date.now() + Math.min(deps.timeoutMs, left - Math.min(1_000, left / 4));
  let latest = first;
  while (Date.now() < deadline) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(deps.pollMs ?? 250, Math.max(0, deadline - Date.now())));
      const stop = deps.hub.listen((c) => {
        if (aggregateKey(c) === key && c.seq >= minSeq) done();
      });
      function done() {
        clearTimeout(timer);
        stop();
        resolve();
      }
    });
    latest = await read();
    if ((latest?.seq ?? 0) >= minSeq) return latest;
  }
  throw new StaleReadError(ref.aggregateId, minSeq, latest?.seq ?? 0);
}
