import { describe, expect, it } from 'vitest';
import { deadlineIn } from '../../src/app/deadline.js';
import type { ChangeHub } from '../../src/gateway/changeHub.js';
import { readAtLeast } from '../../src/gateway/readYourWrites.js';
import type { ProjectedDoc, ReadModel } from '../../src/ports/readModel.js';

/** A read model stuck at seq 1, and a hub that never notifies. */
const deps = (timeoutMs: number) => ({
  readModel: {
    getMany: async () => [{ aggregateType: 'DATABASE', aggregateId: 'db', seq: 1 } as unknown as ProjectedDoc],
  } as unknown as ReadModel,
  hub: { listen: () => () => {} } as unknown as ChangeHub,
  timeoutMs,
  pollMs: 20,
});
const ref = { aggregateType: 'DATABASE' as const, aggregateId: 'db' };

describe('minSeq reads', () => {
  it('answer STALE_READ after their own timeout', async () => {
    const started = Date.now();
    await expect(readAtLeast(deps(100), ref, 2)).rejects.toMatchObject({ code: 'STALE_READ' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it("answer STALE_READ, not UNAVAILABLE, when the request's deadline comes first", async () => {
    const started = Date.now();
    await expect(readAtLeast({ ...deps(10_000), deadline: deadlineIn(300) }, ref, 2)).rejects.toMatchObject({
      code: 'STALE_READ',
    });
    expect(Date.now() - started).toBeLessThan(300);
  });
});
