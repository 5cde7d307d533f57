import DataLoader from 'dataloader';
import type { CommandService } from '../app/commandService.js';
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
  /** Read-model docs by aggregate id, one batched read per type per request (tombstones included). */
  docs: (type: AggregateType) => DataLoader<string, ProjectedDoc | null>;
}

export function createRequestContext(
  services: GatewayServices,
  identity: { actor: string; correlationId: string },
): GatewayContext {
  const loaders = new Map<AggregateType, DataLoader<string, ProjectedDoc | null>>();
  return {
    ...services,
    ...identity,
    docs(type) {
      let loader = loaders.get(type);
      if (!loader) {
        loader = new DataLoader((ids: readonly string[]) => services.readModel.getMany(type, [...ids]), {
          maxBatchSize: 1000,
        });
        loaders.set(type, loader);
      }
      return loader;
    },
  };
}
