import './runtime/productionMode.js';
import { ConfigError, loadConfig } from './config/config.js';
import { readInfraEnv } from './config/infraEnv.js';
import { createLogger } from './observability/logger.js';
import type { Adapters } from './runtime/adapters.js';
import { startCairn } from './runtime/cairn.js';
import { createEmbeddedAdapters } from './runtime/embedded.js';

/** The composition root: configuration → adapters → roles. SIGTERM/SIGINT stop cleanly. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ ...readInfraEnv(), ...process.env });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.logLevel, { profile: config.profile });
  if (config.profile === 'embedded' && config.roles.length !== 3) {
    process.stderr.write(
      'CAIRN_ROLES: the embedded profile runs gateway, relay and projector together in one process\n',
    );
    process.exit(2);
  }
  const adapters: Adapters =
    config.profile === 'embedded'
      ? await createEmbeddedAdapters(config)
      : await (await import('./runtime/production.js')).createProductionAdapters(config, logger);
  const cairn = await startCairn(config, adapters, logger);
  process.stdout.write(`Cairn (${config.profile}: ${config.roles.join(', ')}) listening on ${cairn.url}\n`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    await cairn.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`Cairn failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
