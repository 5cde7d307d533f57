import { join, resolve } from 'node:path';
import { createInProcessAppendSignal } from '../adapters/appendSignal/inProcess.js';
import { createInProcessChangeFeed } from '../adapters/changeFeed/inProcess.js';
import { createLocalEventStore } from '../adapters/eventStore/local.js';
import { createLocalIdempotencyStore } from '../adapters/idempotencyStore/local.js';
import { createMemoryReadModel } from '../adapters/readModel/memory.js';
import { createMemoryRegistry } from '../adapters/registry/memory.js';
import { createLocalSequenceStore } from '../adapters/sequenceStore/local.js';
import { createInProcessTransport } from '../adapters/transport/inProcess.js';
import type { Config } from '../config/config.js';
import { type Adapters, probe } from './adapters.js';

/** The embedded profile: the same ports on a local directory and in-process engines. */
export async function createEmbeddedAdapters(config: Config): Promise<Adapters> {
  const dir = resolve(config.dataDir);
  const appendSignal = createInProcessAppendSignal();
  const eventStore = createLocalEventStore({
    dir: join(dir, 'store'),
    onEntryWritten: (entry) => appendSignal.notify(entry),
  });
  const sequenceStore = await createLocalSequenceStore({ file: join(dir, 'ledger.jsonl') });
  const idempotencyStore = await createLocalIdempotencyStore({ file: join(dir, 'idempotency.jsonl') });
  const readModel = createMemoryReadModel();
  const transport = createInProcessTransport({});
  return {
    eventStore,
    sequenceStore,
    idempotencyStore,
    transport,
    readModel,
    registry: createMemoryRegistry(),
    changeFeed: createInProcessChangeFeed(),
    appendSignal,
    health: {
      eventStore: probe(() => eventStore.ping(), `directory ${dir}`),
      sequenceStore: probe(() => sequenceStore.ping(), 'local journal'),
      readModel: probe(() => readModel.ping(), 'in-process index'),
    },
    rebuildAtStart: true,
    singleWriter: true,
    async close() {
      await transport.close();
      await Promise.all([sequenceStore.close(), idempotencyStore.close()]);
    },
  };
}
