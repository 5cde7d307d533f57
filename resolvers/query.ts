import type { Envelope } from '../src/core/envelope.js';
import { BadUserInputError } from '../src/core/errors.js';
import type { GatewayContext } from '../src/gateway/context.js';
import type { QueryResolvers } from '../src/gateway/generated/graphql.js';
import { readAtLeast } from '../src/gateway/readYourWrites.js';
import type { Page, ProjectedDoc, WhereCondition, WhereOperator } from '../src/ports/readModel.js';
import { checkedRef, checkedSeq, pageSize } from './args.js';

const OPERATORS: WhereOperator[] = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'exists'];

const live = (doc: ProjectedDoc | null) => (doc && !doc.deleted ? doc : null);

function connection(page: Page) {
  return {
    edges: page.docs.map((node, i) => ({ node, cursor: page.cursors[i] ?? '' })),
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.cursors[page.cursors.length - 1] ?? null },
    totalCount: page.totalCount,
  };
}

async function readDoc(ctx: GatewayContext, ref: ReturnType<typeof checkedRef>, minSeq: number | null | undefined) {
  const seq = checkedSeq(minSeq, 'minSeq');
  if (seq === null) return live(await ctx.docs(ref.aggregateType).load(ref.aggregateId));
  return live(
    await readAtLeast(
      { readModel: ctx.readModel, hub: ctx.hub, timeoutMs: ctx.minSeqTimeoutMs, deadline: ctx.deadline },
      ref,
      seq,
    ),
  );
}

/** Each `where` item must name exactly one operator. */
function conditions(where: readonly Record<string, unknown>[] | null | undefined): WhereCondition[] {
  return (where ?? []).map((w, i) => {
    const ops = OPERATORS.filter((op) => w[op] !== undefined && w[op] !== null);
    if (ops.length !== 1)
      throw new BadUserInputError(`where[${i}]`, 'give exactly one of eq, ne, gt, gte, lt, lte, in, exists');
    const op = ops[0]!;
    return { property: String(w.property), op, value: w[op] };
  });
}

export const Query: QueryResolvers = {
  database: (_, { name, minSeq }, ctx) => readDoc(ctx, checkedRef('DATABASE', name, 'name'), minSeq),
  ontologyClass: (_, { database, id, minSeq }, ctx) =>
    readDoc(ctx, checkedRef('ONTOLOGY_CLASS', `${database}/${id}`, 'id'), minSeq),
  instance: (_, { database, id, minSeq }, ctx) =>
    readDoc(ctx, checkedRef('INSTANCE', `${database}/${id}`, 'id'), minSeq),
  databases: async (_, { first, after }, ctx) =>
    connection(await ctx.readModel.list('DATABASE', { first: pageSize(first, 20), after: after ?? null })),
  ontologyClasses: async (_, { database, first, after }, ctx) => {
    checkedRef('DATABASE', database, 'database');
    return connection(
      await ctx.readModel.list('ONTOLOGY_CLASS', { database, first: pageSize(first, 20), after: after ?? null }),
    );
  },
  instances: async (_, args, ctx) => {
    checkedRef('DATABASE', args.database, 'database');
    if (args.classId) checkedRef('ONTOLOGY_CLASS', `${args.database}/${args.classId}`, 'classId');
    if (args.search && args.search.length > 1000) throw new BadUserInputError('search', 'at most 1000 characters');
    const page = await ctx.readModel.searchInstances({
      database: args.database,
      classId: args.classId ?? null,
      where: conditions(args.where as Record<string, unknown>[] | null | undefined),
      search: args.search ?? null,
      orderBy: (args.orderBy ?? []).map((o) => ({ property: o.property, direction: o.direction ?? 'ASC' })),
      first: pageSize(args.first, 20),
      after: args.after ?? null,
    });
    return connection(page);
  },
  events: async (_, { aggregateType, aggregateId, fromSeq, first }, ctx) => {
    const ref = checkedRef(aggregateType, aggregateId, 'aggregateId');
    const from = checkedSeq(fromSeq, 'fromSeq') ?? 0;
    const limit = pageSize(first, 100);
    const commits = await ctx.eventStore.readAggregate(ref, Math.max(0, from - 1), limit);
    const envelopes: Envelope[] = commits.flatMap((c) => c.envelopes).filter((e) => e.seq >= from);
    return envelopes.slice(0, limit);
  },
};
