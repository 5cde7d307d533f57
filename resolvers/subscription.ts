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
        (c) => ({ instanceChanged: instanceChange(c) }),
      );
    },
  },
  aggregateChanged: {
    subscribe: (_, { aggregateType, aggregateId }, ctx) => {
      if (aggregateId && !aggregateType) throw new BadUserInputError('aggregateType', 'required with aggregateId');
      if (aggregateType && aggregateId) checkedRef(aggregateType, aggregateId, 'aggregateId');
      return ctx.hub.iterate(
        (c) => (!aggregateType || c.aggregateType === aggregateType) && (!aggregateId || c.aggregateId === aggregateId),
        (c) => ({ aggregateChanged: aggregateChange(c) }),
      );
    },
  },
};
