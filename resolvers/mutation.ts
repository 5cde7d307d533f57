import type { CommandResult } from '../src/app/commandService.js';
import type { Command } from '../src/core/domain/commands.js';
import { stateToDoc } from '../src/core/projection.js';
import type { GatewayContext } from '../src/gateway/context.js';
import type { MutationResolvers } from '../src/gateway/generated/graphql.js';

/** Runs one command, timing it; the result is the write-side state right after the change. */
async function run(
  ctx: GatewayContext,
  mutation: string,
  command: Command,
  idempotencyKey: string | null | undefined,
): Promise<CommandResult> {
  const stop = ctx.metrics.mutationSeconds.startTimer({ mutation });
  try {
    const result = await ctx.commands.execute(command, {
      idempotencyKey: idempotencyKey ?? null,
      actor: ctx.actor,
      correlationId: ctx.correlationId,
      deadline: ctx.deadline,
    });
    stop({ outcome: 'ok' });
    return result;
  } catch (e) {
    stop({ outcome: (e as { code?: string }).code ?? 'error' });
    throw e;
  }
}

/** Splits the GraphQL input into the command input and its idempotency key. */
function split<T extends { idempotencyKey?: string | null }>(input: T) {
  const { idempotencyKey, ...rest } = input;
  return { key: idempotencyKey, rest };
}

/** DeletePayload.id is the id the client passed: the name, or the bare class/instance id. */
const bareId = (aggregateId: string) => aggregateId.slice(aggregateId.indexOf('/') + 1);

const saved = (r: CommandResult) => ({ seq: r.seq, eventId: r.eventId });

export const Mutation: MutationResolvers = {
  async createDatabase(_, { input }, ctx) {
    const { key, rest } = split(input);
    const r = await run(ctx, 'createDatabase', { type: 'CreateDatabase', input: rest }, key);
    return { database: stateToDoc(r.state), ...saved(r) };
  },
  async deleteDatabase(_, { input }, ctx) {
    const { key, rest } = split(input);
    const r = await run(ctx, 'deleteDatabase', { type: 'DeleteDatabase', input: rest }, key);
    return { id: bareId(r.aggregateId), ...saved(r) };
  },
  async createOntologyClass(_, { input }, ctx) {
    const { key, rest } = split(input);
    const r = await run(ctx, 'createOntologyClass', { type: 'CreateOntologyClass', input: rest }, key);
    return { ontologyClass: stateToDoc(r.state), ...saved(r) };
  },
  async updateOntologyClass(_, { input }, ctx) {
    const { key, rest } = split(input);
    const r = await run(ctx, 'updateOntologyClass', { type: 'UpdateOntologyClass', input: rest }, key);
    return { ontologyClass: stateToDoc(r.state), ...saved(r) };
  },
  async deleteOntologyClass(_, { input }, ctx) {
    const { key, rest } = split(input);
    const r = await run(ctx, 'deleteOntologyClass', { type: 'DeleteOntologyClass', input: rest }, key);
    return { id: bareId(r.aggregateId), ...saved(r) };
  },
  async createInstance(_, { input }, ctx) {
    const { key, rest } = split(input);
    const r = await run(ctx, 'createInstance', { type: 'CreateInstance', input: rest }, key);
    return { instance: stateToDoc(r.state), ...saved(r) };
  },
  async updateInstance(_, { input }, ctx) {
    const { key, rest } = split(input);
    const r = await run(ctx, 'updateInstance', { type: 'UpdateInstance', input: rest }, key);
    return { instance: stateToDoc(r.state), ...saved(r) };
  },
  async deleteInstance(_, { input }, ctx) {
    const { key, rest } = split(input);
    const r = await run(ctx, 'deleteInstance', { type: 'DeleteInstance', input: rest }, key);
    return { id: bareId(r.aggregateId), ...saved(r) };
  },
};
