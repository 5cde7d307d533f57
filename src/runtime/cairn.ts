import { createProjector, PROJECTOR_HANDLER } from '../../workers/projector.js';
import { createRelay } from '../../workers/relay.js';
import { createAggregateRepository } from '../app/aggregateRepository.js';
import { createCommandService } from '../app/commandService.js';
import { createOutboxRepair } from '../app/outboxRepair.js';
import { rebuildReadModel } from '../app/rebuild.js';
import type { Config } from '../config/config.js';
import { createChangeHub } from '../gateway/changeHub.js';
import { checkHealth } from '../gateway/health.js';
import { type RunningServer, startHttpServer } from '../gateway/server.js';
import type { Logger } from '../observability/logger.js';
import { createMetrics, type Metrics, secondsSince } from '../observability/metrics.js';
import type { Adapters } from './adapters.js';

export interface RunningCairn {
  /** The GraphQL endpoint (or the health endpoint's server for worker-only processes). */
  url: string;
  port: number;
  metrics: Metrics;
  stop(): Promise<void>;
}

/**
 * Starts the configured roles over one set of adapters. Start order: read model (rebuilt if needed),
 * projector, relay, HTTP; stop order is the reverse, so in-flight work finishes and offsets commit.
 */
export async function startCairn(config: Config, adapters: Adapters, logger: Logger): Promise<RunningCairn> {
  const metrics = createMetrics();
  const roles = new Set(config.roles);
  const stops: (() => Promise<void>)[] = [];

  if (adapters.rebuildAtStart) {
    const started = Date.now();
    const result = await rebuildReadModel(adapters);
    logger.info('read model rebuilt from the event store', { ...result, ms: Date.now() - started });
  }

  let projector: ReturnType<typeof createProjector> | null = null;
  if (roles.has('projector')) {
    projector = createProjector({
      ...adapters,
      logger: logger.child({ role: 'projector' }),
      metrics,
      options: {
        groupId: config.kafka.projectorGroup,
        leaseMs: config.projector.leaseMs,
        heartbeatMs: config.projector.heartbeatMs,
        maxAttempts: config.projector.maxAttempts,
      },
    });
    await projector.start();
    stops.push(() => projector!.stop());
  }

  let relay: ReturnType<typeof createRelay> | null = null;
  if (roles.has('relay')) {
    relay = createRelay({ ...adapters, logger: logger.child({ role: 'relay' }), metrics, options: config.relay });
    relay.start();
    // The event store signals each outbox entry it writes (EventStoreHooks): the relay publishes it without listing.
    const unlisten = await adapters.appendSignal.listen((entry) => (entry ? relay?.offer(entry) : relay?.wake()));
    stops.push(async () => {
      await unlisten();
      await relay!.stop();
    });
  }

  let services = null;
  if (roles.has('gateway')) {
    const hub = await createChangeHub(adapters.changeFeed);
    stops.push(() => hub.close());
    hub.listen((change) => {
      if (change.occurredAt) metrics.changeLag.observe(secondsSince(change.occurredAt));
    });
    const repository = createAggregateRepository({
      eventStore: adapters.eventStore,
      cacheSize: config.cacheSize,
      ledger: adapters.sequenceStore,
    });
    const abandonedReservationMs = config.dependencyTimeoutMs * 2;
    const commands = createCommandService({
      ...adapters,
      repository,
      options: {
        dependencyTimeoutMs: config.dependencyTimeoutMs,
        trustCache: adapters.singleWriter,
        abandonedReservationMs,
      },
    });
    const repair = createOutboxRepair({
      ...adapters,
      repository,
      logger: logger.child({ role: 'outbox-repair' }),
      // No synchronous append outlives the dependency timeout; older unconfirmed ones are looked at.
      options: {
        intervalMs: config.outboxRepairIntervalMs,
        minAgeMs: config.dependencyTimeoutMs,
        abandonedMs: abandonedReservationMs,
      },
    });
    stops.push(repair.start());
    // Run before the adapters close: the entries and confirmations of acknowledged appends finish here.
    stops.push(() => commands.settle(config.dependencyTimeoutMs));
    services = {
      commands,
      // Each request reads them bounded by its deadline (createRequestContext).
      readModel: adapters.readModel,
      eventStore: adapters.eventStore,
      hub,
      metrics,
      minSeqTimeoutMs: config.minSeqTimeoutMs,
    };
  }

  stops.push(startRetention(config, adapters, logger, roles));

  const health = () =>
    checkHealth(config.profile, {
      ...adapters.health,
      ...(relay ? { relay: { check: workerCheck(() => relay!.status()), critical: false } } : {}),
      ...(projector ? { projector: { check: workerCheck(() => projector!.status()), critical: false } } : {}),
      ...(projector ? { parked: { check: () => parkedCheck(adapters), critical: false } } : {}),
    });
  const server: RunningServer = await startHttpServer({
    services,
    health,
    metrics,
    logger,
    options: {
      port: config.port,
      host: config.host,
      maxBodyBytes: config.maxBodyBytes,
      requestTimeoutMs: config.requestTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      introspection: config.introspection,
    },
  });

  return {
    url: server.url,
    port: server.port,
    metrics,
    async stop() {
      logger.debug('stopping http server');
      await server.close();
      for (const [i, stop] of stops.reverse().entries()) {
        logger.debug('stopping role', { step: i });
        await stop().catch((e) => logger.warn('stop failed', { error: e }));
      }
      logger.debug('closing adapters');
      await adapters.close();
      logger.debug('stopped');
    },
  };
}

/** Hourly: drops idempotency keys and processed-event records past their retention. */
function startRetention(config: Config, adapters: Adapters, logger: Logger, roles: Set<string>): () => Promise<void> {
  const purge = async () => {
    try {
      if (roles.has('gateway')) await adapters.idempotencyStore.purge(config.idempotencyRetentionMs);
      if (roles.has('projector')) await adapters.registry.purge(PROJECTOR_HANDLER, config.projector.retentionMs);
    } catch (e) {
      logger.warn('retention purge failed; will retry', { error: e });
    }
  };
  const timer = setInterval(() => void purge(), 3_600_000);
  timer.unref();
  return async () => clearInterval(timer);
}

/** Parked events need an operator: the process is degraded until they are replayed. */
async function parkedCheck(adapters: Adapters): Promise<string> {
  const parked = await adapters.registry.parked(PROJECTOR_HANDLER, 100);
  if (parked.length > 0) {
    throw new Error(`${parked.length === 100 ? '100+' : parked.length} parked event(s): npm run cli -- parked`);
  }
  return 'none';
}

const workerCheck = (status: () => { lastError: string | null } & Record<string, unknown>) => async () => {
  const s = status();
  if (s.lastError) throw new Error(s.lastError);
  const { lastError: _omit, ...rest } = s;
  return JSON.stringify(rest);
};
