import { SETTINGS, type SettingSpec } from './settings.js';

export type Profile = 'embedded' | 'production';
export type Role = 'gateway' | 'relay' | 'projector';

export interface Config {
  profile: Profile;
  roles: Role[];
  port: number;
  host: string;
  dataDir: string;
  maxBodyBytes: number;
  minSeqTimeoutMs: number;
  outboxRepairIntervalMs: number;
  dependencyTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  idempotencyRetentionMs: number;
  introspection: boolean;
  cacheSize: number;
  logLevel: string;
  postgres: { url: string; schema: string; poolSize: number; preparedStatements: boolean };
  s3: {
    endpoint: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    forcePathStyle: boolean;
    client: 'sdk' | 'http';
    bucket: string;
    prefix: string;
    outboxEntryIntervalMs: number;
  };
  kafka: {
    brokers: string[];
    clientId: string;
    eventsTopic: string;
    changesTopic: string;
    partitions: number;
    sessionTimeoutMs: number;
    fetchMaxWaitMs: number;
    projectorGroup: string;
  };
  elasticsearch: { url: string; indexPrefix: string };
  relay: { batchSize: number; pollIntervalMs: number };
  projector: { leaseMs: number; heartbeatMs: number; concurrency: number; maxAttempts: number; retentionMs: number };
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

const HOUR = 3_600_000;

/** Reads and validates the configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const profile = (env.CAIRN_PROFILE ?? 'embedded') as Profile;
  const raw = (spec: SettingSpec): string | undefined => {
    const value = env[spec.name];
    if (value !== undefined && value !== '') return value;
    if (spec.production && profile === 'production')
      problems.push(`${spec.name} is required on the production profile: ${spec.doc}`);
    return spec.default;
  };
  const values = new Map<string, string>();
  for (const spec of SETTINGS as readonly SettingSpec[]) {
    const value = raw(spec);
    if (value === undefined) continue;
    const problem = check(spec, value);
    if (problem) problems.push(`${spec.name}=${JSON.stringify(value)}: ${problem}`);
    values.set(spec.name, value);
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);

  const s = (name: string): string => values.get(name) ?? '';
  const n = (name: string): number => Number(s(name));
  const b = (name: string): boolean => /^(true|1|yes)$/i.test(s(name));
  const list = (name: string): string[] =>
    s(name)
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  return {
    profile,
    roles: list('CAIRN_ROLES') as Role[],
    port: n('PORT'),
    host: s('HOST'),
    dataDir: s('CAIRN_DATA_DIR'),
    maxBodyBytes: n('CAIRN_MAX_BODY_BYTES'),
    minSeqTimeoutMs: n('CAIRN_MIN_SEQ_TIMEOUT_MS'),
    outboxRepairIntervalMs: n('CAIRN_OUTBOX_REPAIR_INTERVAL_MS'),
    dependencyTimeoutMs: n('CAIRN_DEPENDENCY_TIMEOUT_MS'),
    requestTimeoutMs: n('CAIRN_REQUEST_TIMEOUT_MS'),
    keepAliveTimeoutMs: n('CAIRN_KEEP_ALIVE_TIMEOUT_MS'),
    idempotencyRetentionMs: n('CAIRN_IDEMPOTENCY_RETENTION_HOURS') * HOUR,
    introspection: b('CAIRN_INTROSPECTION'),
    cacheSize: n('CAIRN_CACHE_SIZE'),
    logLevel: s('LOG_LEVEL'),
    postgres: {
      url: s('DATABASE_URL'),
      schema: s('DATABASE_SCHEMA'),
      poolSize: n('DATABASE_POOL_SIZE'),
      preparedStatements: b('DATABASE_PREPARED_STATEMENTS'),
    },
    s3: {
      endpoint: s('S3_ENDPOINT'),
      region: s('S3_REGION'),
      accessKeyId: s('S3_ACCESS_KEY_ID'),
      secretAccessKey: s('S3_SECRET_ACCESS_KEY'),
      forcePathStyle: b('S3_FORCE_PATH_STYLE'),
      client: s('S3_CLIENT') as 'sdk' | 'http',
      bucket: s('S3_BUCKET'),
      prefix: s('S3_PREFIX'),
      outboxEntryIntervalMs: n('S3_OUTBOX_ENTRY_INTERVAL_MS'),
    },
    kafka: {
      brokers: list('KAFKA_BROKERS'),
      clientId: s('KAFKA_CLIENT_ID'),
      eventsTopic: s('KAFKA_EVENTS_TOPIC'),
      changesTopic: s('KAFKA_CHANGES_TOPIC'),
      partitions: n('KAFKA_PARTITIONS'),
      sessionTimeoutMs: n('KAFKA_SESSION_TIMEOUT_MS'),
      fetchMaxWaitMs: n('KAFKA_FETCH_MAX_WAIT_MS'),
      projectorGroup: s('KAFKA_PROJECTOR_GROUP'),
    },
    elasticsearch: { url: s('ELASTICSEARCH_URL'), indexPrefix: s('ELASTICSEARCH_INDEX_PREFIX') },
    relay: { batchSize: n('RELAY_BATCH_SIZE'), pollIntervalMs: n('RELAY_POLL_INTERVAL_MS') },
    projector: {
      leaseMs: n('PROJECTOR_LEASE_MS'),
      heartbeatMs: n('PROJECTOR_HEARTBEAT_MS'),
      concurrency: n('PROJECTOR_CONCURRENCY'),
      maxAttempts: n('PROJECTOR_MAX_ATTEMPTS'),
      retentionMs: n('PROJECTOR_RETENTION_HOURS') * HOUR,
    },
  };
}

function check(spec: SettingSpec, value: string): string | null {
  switch (spec.kind) {
    case 'int': {
      const v = Number(value);
      if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(v)) return 'must be an integer';
      if (spec.min !== undefined && v < spec.min) return `must be at least ${spec.min}`;
      return null;
    }
    case 'bool':
      return /^(true|false|1|0|yes|no)$/i.test(value) ? null : 'must be true or false';
    case 'enum':
      return spec.values?.includes(value) ? null : `must be one of ${spec.values?.join(', ')}`;
    case 'list': {
      const items = value
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      if (items.length === 0) return 'must not be empty';
      const bad = spec.values ? items.filter((x) => !spec.values?.includes(x)) : [];
      return bad.length ? `unknown ${bad.join(', ')}; allowed: ${spec.values?.join(', ')}` : null;
    }
    case 'url':
      try {
        new URL(value);
        return null;
      } catch {
        return 'must be a URL';
      }
    default:
      return null;
  }
}
