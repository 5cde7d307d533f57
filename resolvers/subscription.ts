import { BadUserInputError } from '../src/core/errors.js';
import type { GatewayContext } from '../src/gateway/context.js';
import type { ChangeType, SubscriptionResolvers } from '../src/gateway/generated/graphql.js';
import type { ChangeNotification } from '../src/ports/changeFeed.js';
import { checkedRef } from './args.js';

const CHANGE_OF: Record<string, ChangeType> = {
  InstanceCreated: 'CREATED',
  InstanceUpdated: 'UPDATED',
  InstanceDeleted: 'DELETED',
};

/**
 * One payload object per change for all subscribers of a field: lets the gateway execute a change
 * once per distinct subscription rather than once per socket (src/gateway/sharedSubscribe.ts).
 */
function perChange<T extends object>(make: (c: ChangeNotification) => T): (c: ChangeNotification) => T {
  const made = new WeakMap<ChangeNotification, T>();
  return (c) => {
    let payload = made.get(c);
    if (!payload) {
      payload = make(c);
      made.set(c, payload);
    }
    return payload;
  };
}

const instanceChange = (c: ChangeNotification) => ({
  change: CHANGE_OF[c.eventType] ?? 'UPDATED',
  id: c.doc.id,
  database: c.doc.database,
  classId: c.doc.classId ?? '',
  seq: c.seq,
  instance: c.doc.deleted ? null : c.doc,
});

const aggregateChange = (c: ChangeNotification) => ({
  aggregateType: c.aggregateType,
  aggregateId: c.aggregateId,
  seq: c.seq,
  eventType: c.eventType,
  eventId: c.eventId,
});

const instanceChangedPayload = perChange((c) => ({ instanceChanged: instanceChange(c) }));
const aggregateChangedPayload = perChange((c) => ({ aggregateChanged: aggregateChange(c) }));

/** Subscriptions read the gateway's change hub: notifications come after the projection holds them. */
export const Subscription: SubscriptionResolvers<GatewayContext> = {
  instanceChanged: {
    subscribe: (_, { database, classId, id }, ctx) => {
      checkedRef('DATABASE', database, 'database');
      return ctx.hub.iterate(
        (c) =>
          c.aggregateType === 'INSTANCE' &&
          c.doc.database === database &&
          (!classId || c.doc.classId === classId) &&
          (!id || c.doc.id === id),
        instanceChangedPayload,
      );
    },
  },
  aggregateChanged: {
    subscribe: (_, { aggregateType, aggregateId }, ctx) => {
      if (aggregateId && !aggregateType) throw new BadUserInputError('aggregateType', 'required with aggregateId');
      if (aggregateType && aggregateId) checkedRef(aggregateType, aggregateId, 'aggregateId');
      return ctx.hub.iterate(
        (c) => (!aggregateType || c.aggregateType === aggregateType) && (!aggregateId || c.aggregateId === aggregateId),
        aggregateChangedPayload,
      );
    },
  },
};
