import '../runtime/productionMode.js';
import { parseArgs } from 'node:util';
import { PROJECTOR_HANDLER } from '../../workers/projector.js';
import { checkConsistency } from '../app/consistency.js';
import { rebuildReadModel } from '../app/rebuild.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { readInfraEnv } from '../config/infraEnv.js';
import { SETTINGS, type SettingSpec } from '../config/settings.js';
import { AGGREGATE_TYPES, type AggregateType, aggregateKey } from '../core/aggregate.js';
import { serializeEnvelope } from '../core/envelope.js';
import { createLogger } from '../observability/logger.js';

const USAGE = `Usage: npm run cli -- <command> [options]

Commands (production profile: they read the same environment variables as the processes):
  migrate                  Apply pending PostgreSQL migrations (idempotent).
  check [--repair]         Compare the event store with the read model (seq + content hash per
                           aggregate), print the drift, and with --repair rewrite drifted docs.
  rebuild [--full]         Rebuild the read model from the event store into new indexes, swapped in
                           when complete (queries read the old ones until then; projectors may keep
                           running: what they wrote meanwhile is caught up from the ledger after the
                           swap). Reads the commit copies (outbox, segments) checked against the
                           ledger, by key what they lack; --full lists every commit key instead (use
                           it when the ledger was lost or restored apart from the bucket).
  replay [--type T --id I] [--reverse]
                           Publish stored envelopes to the transport again (all, or one aggregate;
                           --reverse: one aggregate newest first, as a reordering transport would);
                           the projector's registry makes duplicates harmless.
  parked                   List events the projector parked after repeated failures.
  unpark <eventId>         Forget a parked event so that a replay applies it again.
  config-doc               Print the configuration table (Markdown) for the README.
`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      repair: { type: 'boolean' },
      type: { type: 'string' },
      id: { type: 'string' },
      reverse: { type: 'boolean' },
      full: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const [command, ...rest] = positionals;
  if (!command || values.help) {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'config-doc') {
    process.stdout.write(configTable());
    return 0;
  }
  const config = loadConfig({ ...readInfraEnv(), ...process.env });
  if (config.profile !== 'production') {
    process.stderr.write(
      'The CLI works on the production profile (set CAIRN_PROFILE=production and the engine variables).\n',
    );
    return 2;
  }
  const logger = createLogger(config.logLevel);
  const { createProductionAdapters } = await import('../runtime/production.js');
  const adapters = await createProductionAdapters(config, logger);
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  try {
    switch (command) {
      case 'migrate':
        print({ migrated: true, schema: config.postgres.schema });
        return 0;
      case 'check': {
        const report = await checkConsistency(adapters, { repair: values.repair ?? false });
        print(report);
        return report.drift.length === 0 || values.repair ? 0 : 1;
      }
      case 'rebuild': {
        const started = Date.now();
        const result = await rebuildReadModel(adapters, {
          full: values.full ?? false,
          onProgress: (p) => process.stderr.write(`\r${p.commits} commits, ${p.aggregates} aggregates`),
        });
        process.stderr.write('\n');
        print({ ...result, seconds: (Date.now() - started) / 1000 });
        if (result.notInLedger)
          process.stderr.write(
            `warning: ${result.notInLedger} aggregates are not in the ledger; \`rebuild --full\` verifies them against every commit key\n`,
          );
        return 0;
      }
      case 'replay': {
        const type = values.type as AggregateType | undefined;
        if (type && !AGGREGATE_TYPES.includes(type))
          throw new Error(`--type must be one of ${AGGREGATE_TYPES.join(', ')}`);
        if (values.reverse && !(values.id && type)) throw new Error('--reverse needs --type and --id');
        const commits =
          values.id && type
            ? await adapters.eventStore.readAggregate({ aggregateType: type, aggregateId: values.id })
            : adapters.eventStore.scan(type ? { aggregateType: type } : {});
        if (values.reverse && Array.isArray(commits)) {
          // One commit at a time, apart, so that each reaches the projector in its own batch.
          let sent = 0;
          for (const commit of commits.reverse()) {
            await adapters.transport.publish(
              commit.envelopes.map((e) => ({ key: aggregateKey(commit), value: serializeEnvelope(e) })),
            );
            sent += commit.envelopes.length;
            await new Promise((r) => setTimeout(r, 300));
          }
          print({ published: sent });
          return 0;
        }
        let published = 0;
        let buffer: { key: string; value: string }[] = [];
        for await (const commit of commits) {
          for (const e of commit.envelopes) buffer.push({ key: aggregateKey(commit), value: serializeEnvelope(e) });
          if (buffer.length >= 500) {
            await adapters.transport.publish(buffer);
            published += buffer.length;
            buffer = [];
          }
        }
        await adapters.transport.publish(buffer);
        print({ published: published + buffer.length });
        return 0;
      }
      case 'parked':
        print(await adapters.registry.parked(PROJECTOR_HANDLER, 1000));
        return 0;
      case 'unpark':
        if (!rest[0]) throw new Error('unpark needs an event id');
        await adapters.registry.unpark(PROJECTOR_HANDLER, rest[0]);
        print({ unparked: rest[0] });
        return 0;
      default:
        process.stderr.write(`Unknown command ${command}\n${USAGE}`);
        return 2;
    }
  } finally {
    await adapters.close();
  }
}

function configTable(): string {
  const rows = (SETTINGS as readonly SettingSpec[]).map((s) => {
    const def = s.production ? '(required on production)' : s.default === '' ? '(empty)' : `\`${s.default}\``;
    return `| \`${s.name}\` | ${def} | ${s.doc} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows, ''].join('\n');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(
      `${e instanceof ConfigError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exit(1);
  },
);
