import { databaseRef } from '../aggregate.js';
import type { Decision } from './commands.js';
import { decision, requireLive, requireNotLive, requireSeq } from './decision.js';
import type { NormalizedOf } from './normalize.js';
import type { DatabaseState } from './types.js';

export function decideDatabase(cmd: NormalizedOf<'CreateDatabase' | 'DeleteDatabase'>, state: DatabaseState): Decision {
  const { name } = cmd.input;
  const target = databaseRef(name);
  if (cmd.type === 'CreateDatabase') {
    requireNotLive(state, name);
    return decision(target, state.seq, { type: 'DatabaseCreated', payload: { ...cmd.input } }, {});
  }
  requireLive(state, name, 'Database');
  requireSeq(state, name, cmd.input.expectedSeq);
  // Live classes and instances are checked by the sequence store, atomically with the append.
  return decision(
    target,
    state.seq,
    { type: 'DatabaseDeleted', payload: {} },
    { liveAfter: false, forbidLiveChildren: true },
  );
}
