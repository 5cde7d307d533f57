/**
 * Every setting Cairn reads, with its default and meaning. The README's configuration table is
 * generated from this list (`npm run cli -- config-doc`), so docs and code cannot drift apart.
 */
export type SettingKind = 'string' | 'int' | 'bool' | 'enum' | 'url' | 'list';

export interface SettingSpec {
  name: string;
  kind: SettingKind;
  default?: string;
  /** Required on the production profile (no default there). */
  production?: boolean;
  values?: readonly string[];
  min?: number;
  doc: string;
}

export const SETTINGS = [
  {
    name: 'CAIRN_PROFILE',
    kind: 'enum',
    default: 'embedded',
    values: ['embedded', 'production'],
    doc: 'Which adapters to use: local storage in-process, or S3/PostgreSQL/Kafka/Elasticsearch.',
  },
  {
    name: 'CAIRN_ROLES',
    kind: 'list',
    default: 'gateway,relay,projector',
    values: ['gateway', 'relay', 'projector'],
    doc: 'Processes to run in this Node process (the embedded profile needs all three).',
  },
  {
    name: 'PORT',
    kind: 'int',
    default: '4000',
    min: 0,
    doc: 'HTTP port of the gateway (`/graphql`, `/health`, `/metrics`); relay/projector-only processes serve `/health` and `/metrics` on it.',
  },
  { name: 'HOST', kind: 'string', default: '0.0.0.0', doc: 'Interface to listen on.' },
  {
    name: 'CAIRN_DATA_DIR',
    kind: 'string',
    default: './data',
    doc: 'Embedded profile: directory of the event store, ledger and idempotency keys.',
  },
  {
    name: 'CAIRN_MAX_BODY_BYTES',
    kind: 'int',
    default: '1048576',
    min: 1024,
    doc: 'Largest accepted HTTP request body; larger is 413.',
  },
  {
    name: 'CAIRN_MIN_SEQ_TIMEOUT_MS',
    kind: 'int',
    default: '5000',
    min: 0,
    doc: 'How long a `minSeq` read waits for the read model before STALE_READ.',
  },
  {
    name: 'CAIRN_DEPENDENCY_TIMEOUT_MS',
    kind: 'int',
    default: '5000',
    min: 100,
    doc: 'Deadline of one call to a dependency before the request fails with UNAVAILABLE.',
  },
  {
    name: 'CAIRN_OUTBOX_REPAIR_INTERVAL_MS',
    kind: 'int',
    default: '5000',
    min: 100,
    doc: 'How often a gateway looks for appends a dead writer left without an outbox entry (unconfirmed ledger reservations older than the dependency timeout) and re-appends them.',
  },
  {
    name: 'CAIRN_REQUEST_TIMEOUT_MS',
    kind: 'int',
    default: '10000',
    min: 100,
    doc: 'Budget of one GraphQL request, shared by all its dependency calls: a request that needs a down or slow dependency is answered UNAVAILABLE within it.',
  },
  {
    name: 'CAIRN_KEEP_ALIVE_TIMEOUT_MS',
    kind: 'int',
    default: '65000',
    min: 1000,
    doc: "How long the gateway keeps an idle keep-alive HTTP connection open. Longer than the idle timeout of the clients and load balancers in front of it (often 60 s): otherwise the gateway may close a connection just as a client sends a request on it, which then fails with a reset (Node's default, 5 s, did so).",
  },
  {
    name: 'CAIRN_IDEMPOTENCY_RETENTION_HOURS',
    kind: 'int',
    default: '24',
    min: 24,
    doc: 'How long idempotency keys are kept (at least 24 hours).',
  },
  { name: 'CAIRN_INTROSPECTION', kind: 'bool', default: 'true', doc: 'Serve GraphQL introspection.' },
  {
    name: 'CAIRN_CACHE_SIZE',
    kind: 'int',
    default: '10000',
    min: 0,
    doc: 'Write-side aggregate states kept in memory per gateway.',
  },
  {
    name: 'LOG_LEVEL',
    kind: 'enum',
    default: 'info',
    values: ['debug', 'info', 'warn', 'error', 'silent'],
    doc: 'Log verbosity (JSON lines on stderr).',
  },
  {
    name: 'DATABASE_URL',
    kind: 'url',
    production: true,
    doc: 'PostgreSQL: ledger (sequence numbers), idempotency keys, projector registry.',
  },
  {
    name: 'DATABASE_SCHEMA',
    kind: 'string',
    default: 'cairn',
    doc: 'PostgreSQL schema holding Cairn tables (created by the migrations).',
  },
  { name: 'DATABASE_POOL_SIZE', kind: 'int', default: '20', min: 1, doc: 'PostgreSQL connections per process.' },
  {
    name: 'DATABASE_PREPARED_STATEMENTS',
    kind: 'bool',
    default: 'true',
    doc: 'Prepare each statement once per connection (its plan is reused). Set false behind a pooler that cannot keep prepared statements (PgBouncer before 1.21 in transaction mode).',
  },
  { name: 'S3_ENDPOINT', kind: 'url', production: true, doc: 'S3 API endpoint (MinIO, AWS S3, any S3-compatible).' },
  { name: 'S3_REGION', kind: 'string', default: 'us-east-1', doc: 'S3 region.' },
  { name: 'S3_ACCESS_KEY_ID', kind: 'string', production: true, doc: 'S3 access key.' },
  { name: 'S3_SECRET_ACCESS_KEY', kind: 'string', production: true, doc: 'S3 secret key.' },
  {
    name: 'S3_CLIENT',
    kind: 'enum',
    default: 'http',
    values: ['http', 'sdk'],
    doc: 'S3 client: a lean SigV4 client over keep-alive HTTP (`http`: ~1/5 of the CPU per request), or the AWS SDK (`sdk`). Both take the static keys above and pass the same contract suite.',
  },
  { name: 'S3_FORCE_PATH_STYLE', kind: 'bool', default: 'true', doc: 'Path-style bucket addressing (MinIO needs it).' },
  {
    name: 'S3_BUCKET',
    kind: 'string',
    default: 'cairn-events',
    doc: 'Bucket of the event store (created if missing).',
  },
  {
    name: 'S3_PREFIX',
    kind: 'string',
    default: '',
    doc: 'Key prefix inside the bucket (several stores in one bucket).',
  },
  {
    name: 'S3_OUTBOX_ENTRY_INTERVAL_MS',
    kind: 'int',
    default: '25',
    min: 0,
    doc: 'Least time between two outbox entries of one process: the commits stored meanwhile share the next one (one PUT and one removal instead of one per few commits). It does not delay the relay, which is told of each commit as soon as it is stored; it delays the confirmation of their ledger reservations by up to this much. 0: a new entry as soon as the previous one is written.',
  },
  {
    name: 'KAFKA_BROKERS',
    kind: 'list',
    production: true,
    doc: 'Kafka bootstrap brokers, comma separated `host:port`.',
  },
  { name: 'KAFKA_CLIENT_ID', kind: 'string', default: 'cairn', doc: 'Kafka client id.' },
  {
    name: 'KAFKA_EVENTS_TOPIC',
    kind: 'string',
    default: 'cairn.events',
    doc: 'Topic the relay publishes envelopes to (key = aggregate).',
  },
  {
    name: 'KAFKA_CHANGES_TOPIC',
    kind: 'string',
    default: 'cairn.changes',
    doc: 'Topic of change notifications read by every gateway.',
  },
  {
    name: 'KAFKA_PARTITIONS',
    kind: 'int',
    default: '4',
    min: 1,
    doc: 'Partitions of the topics when Cairn creates them.',
  },
  {
    name: 'KAFKA_SESSION_TIMEOUT_MS',
    kind: 'int',
    default: '30000',
    min: 6000,
    doc: 'Projector consumer session: how long a dead projector keeps its partitions before others take them.',
  },
  {
    name: 'KAFKA_FETCH_MAX_WAIT_MS',
    kind: 'int',
    default: '500',
    min: 1,
    doc: 'How long an idle consumer fetch (projector, gateway change feed) waits at the broker. A fetch returns as soon as data arrives, so this only sets how often an idle consumer polls.',
  },
  {
    name: 'KAFKA_PROJECTOR_GROUP',
    kind: 'string',
    default: 'cairn-projector',
    doc: 'Consumer group of the projectors.',
  },
  { name: 'ELASTICSEARCH_URL', kind: 'url', production: true, doc: 'Elasticsearch node URL.' },
  {
    name: 'ELASTICSEARCH_INDEX_PREFIX',
    kind: 'string',
    default: 'cairn',
    doc: 'Prefix of the read-model indexes (lowercase).',
  },
  { name: 'RELAY_BATCH_SIZE', kind: 'int', default: '500', min: 1, doc: 'Envelopes per relay produce batch.' },
  {
    name: 'RELAY_POLL_INTERVAL_MS',
    kind: 'int',
    default: '1000',
    min: 10,
    doc: 'The relay lists the outbox at least this often. A safety net: each append signals its outbox entry at once (in process, or by PostgreSQL NOTIFY in the production profile) and the relay publishes it without listing.',
  },
  { name: 'PROJECTOR_LEASE_MS', kind: 'int', default: '30000', min: 100, doc: 'Registry lease of a claimed event.' },
  {
    name: 'PROJECTOR_HEARTBEAT_MS',
    kind: 'int',
    default: '10000',
    min: 50,
    doc: 'Lease heartbeat interval (less than the lease).',
  },
  {
    name: 'PROJECTOR_CONCURRENCY',
    kind: 'int',
    default: '4',
    min: 1,
    doc: 'Partitions one projector applies at once when catching up (each in its own order; overlaps PostgreSQL and Elasticsearch round trips). Small batches of one fetch are applied together.',
  },
  {
    name: 'PROJECTOR_MAX_ATTEMPTS',
    kind: 'int',
    default: '5',
    min: 1,
    doc: 'Attempts before a failing event is parked.',
  },
  {
    name: 'PROJECTOR_RETENTION_HOURS',
    kind: 'int',
    default: '168',
    min: 1,
    doc: 'How long processed-event records are kept.',
  },
] as const satisfies readonly SettingSpec[];

export type SettingName = (typeof SETTINGS)[number]['name'];
