import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createLocalEventStore } from '../../src/adapters/eventStore/local.js';
import { createLocalIdempotencyStore, type LocalIdempotencyStore } from '../../src/adapters/idempotencyStore/local.js';
import { createLocalSequenceStore, type LocalSequenceStore } from '../../src/adapters/sequenceStore/local.js';
import { describeWritePath, type WritePathPorts } from './writePath.suite.js';

let dir: string;
let ports: WritePathPorts & { sequenceStore: LocalSequenceStore; idempotencyStore: LocalIdempotencyStore };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-wp-'));
  ports = {
    eventStore: createLocalEventStore({ dir: join(dir, 'store') }),
    sequenceStore: await createLocalSequenceStore({ file: join(dir, 'ledger.jsonl') }),
    idempotencyStore: await createLocalIdempotencyStore({ file: join(dir, 'idem.jsonl') }),
  };
});
afterAll(async () => {
  await ports.sequenceStore.close();
  await ports.idempotencyStore.close();
  await rm(dir, { recursive: true, force: true });
});

describeWritePath('embedded', () => ports);
