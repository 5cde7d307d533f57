import DataLoader from 'dataloader';
import type { CommandService } from '../app/commandService.js';
import { bounded, type Deadline } from '../app/deadline.js';
import type { AggregateType } from '../core/aggregate.js';
import type { Metrics } from '../observability/metrics.js';
import type { EventStore } from '../ports/eventStore.js';
import type { ProjectedDoc, ReadModel } from '../ports/readModel.js';
import type { ChangeHub } from './changeHub.js';

/** What every resolver can use: long-lived services plus per-request loaders and identity. */
export interface GatewayServices {
  commands: CommandService;
  readModel: ReadModel;
  eventStore: EventStore;
  hub: ChangeHub;
  metrics: Metrics;
  minSeqTimeoutMs: number;
}

export interface GatewayContext extends GatewayServices {
  actor: string;
  correlationId: string;
  /** When the request must be answered (NO_DEADLINE over graphql-ws); `readModel` and `eventStore` stop there. */
  deadline: Deadline;
  /** Read-model docs by aggregate id, one batched read per type per request (tombstones included). */
  docs: (type: AggregateType) => DataLoader<string, ProjectedDoc | null>;
}

export function createRequestContext(
  services: GatewayServices,
  request: { actor: string; correlationId: string; deadline: Deadline },
): GatewayContext {
  const loaders = new Map<AggregateType, DataLoader<string, ProjectedDoc | null>>();
  const readModel = bounded('readModel', services.readModel, request.deadline);
  return {
    ...services,
    ...request,
    readModel,
    eventStore: bounded('eventStore', services.eventStore, request.deadline),
    docs(type) {
      let loader = loaders.get(type);
      if (!loader) {
        loader = new DataLoader((ids: readonly string[]) => readModel.getMany(type, [...ids]), {
          maxBatchSize: 1000,
        });
        loaders.set(type, loader);
      }
      return loader;
    },
  };
}
