import type { AggregateType } from '../core/aggregate.js';
import type { ProjectedDoc } from './readModel.js';

/** A change the projector has written to the read model (so a reader can already see it). */
export interface ChangeNotification {
  aggregateType: AggregateType;
  aggregateId: string;
  seq: number;
  eventType: string;
  eventId: string;
  /** The projected state at that seq (tombstone on delete). */
  doc: ProjectedDoc;
}

/** Carries change notifications from projectors to every gateway (in-process, or a Kafka topic). */
export interface ChangeFeed {
  /** Resolves when the notifications are on their way to every subscriber; order kept per aggregate. */
  publish(changes: ChangeNotification[]): Promise<void>;
  /** Delivers changes published after the subscription started. Returns an unsubscribe function. */
  subscribe(listener: (changes: ChangeNotification[]) => void): Promise<() => Promise<void>>;
}
