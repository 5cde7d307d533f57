import type { AggregateType } from '../core/aggregate.js';
import type { ProjectedDoc } from './readModel.js';

/** A change the projector has written to the read model (so a reader can already see it). */
export interface ChangeNotification {
  aggregateType: AggregateType;
  aggregateId: string;
  seq: number;
  eventType: string;
  eventId: string;
  /** When the event was recorded (for lag metrics; absent in notifications of older projectors). */
  occurredAt?: string;
  /** The projected state at that seq (tombstone on delete). */
  doc: ProjectedDoc;
}

/**
 * Carries change notifications from projectors to every gateway (in-process, or a Kafka topic).
 * A broadcast, not a queue: every subscription gets every change; nothing is replayed to a late
 * subscriber. Notifications are JSON: each listener gets its own copy.
 */
export interface ChangeFeed {
  /**
   * Resolves when the notifications are on their way to every subscriber; order kept per aggregate
   * (changes of one aggregate reach each listener in the order they were published).
   * Unreachable feed → UnavailableError.
   */
  publish(changes: ChangeNotification[]): Promise<void>;
  /**
   * Resolves once the subscription is live: every change published after that is delivered to
   * `listener` (a change published before `subscribe` was called is not). A delivery may merge or split
   * the published arrays. A throwing listener does not disturb the feed or other listeners.
   * Returns an unsubscribe function: once it resolves, `listener` is not called again.
   */
  subscribe(listener: (changes: ChangeNotification[]) => void): Promise<() => Promise<void>>;
}
