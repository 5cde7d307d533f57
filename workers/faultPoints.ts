/**
 * Test-only fault points of the projector, off unless their environment variable is set. The fault
 * suite (test/fault) uses them to stop a projector at an exact step and SIGKILL it there, and to make
 * one aggregate's events fail like a bug would. They cost one set lookup per batch when off.
 *
 * - `CAIRN_FAULT_HANG=<stage>:<aggregateId>`: when a batch holds an event of that aggregate, print
 *   `FAULT <stage> <aggregateId>` on stdout at `stage` (`claimed`: after the claim, before the read
 *   model write; `applied`: after the write, before the change notifications; `notified`: after
 *   the notifications, before mark-done) and never go on.
 * - `CAIRN_FAULT_POISON=<aggregateId>`: projecting an event of that aggregate throws.
 */
export type FaultStage = 'claimed' | 'applied' | 'notified';

export interface FaultPoints {
  reached(stage: FaultStage, aggregateIds: Iterable<string>): Promise<void>;
  checkPoison(aggregateId: string): void;
}

export function faultPointsFromEnv(env: NodeJS.ProcessEnv = process.env): FaultPoints {
  const [stage, hangId] = (env.CAIRN_FAULT_HANG ?? '').split(':');
  const poisonId = env.CAIRN_FAULT_POISON ?? '';
  return {
    async reached(at, aggregateIds) {
      if (!hangId || at !== stage) return;
      for (const id of aggregateIds) {
        if (id !== hangId) continue;
        process.stdout.write(`FAULT ${at} ${id}\n`);
        await new Promise<never>(() => undefined);
      }
    },
    checkPoison(aggregateId) {
      if (poisonId && aggregateId === poisonId) throw new Error(`injected poison for ${aggregateId}`);
    },
  };
}
