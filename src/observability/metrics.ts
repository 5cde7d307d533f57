import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Every Prometheus metric Cairn exports, on one registry per process (served at /metrics). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'cairn_' });
  const ms = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000].map((x) => x / 1000);
  return {
    registry,
    graphqlRequests: new Counter({
      name: 'cairn_graphql_operations_total',
      help: 'GraphQL operations by type and outcome',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    mutationSeconds: new Histogram({
      name: 'cairn_mutation_duration_seconds',
      help: 'Command handling time until acknowledged',
      labelNames: ['mutation', 'outcome'],
      buckets: ms,
      registers: [registry],
    }),
    relayPublished: new Counter({
      name: 'cairn_relay_published_envelopes_total',
      help: 'Envelopes the relay published to the transport',
      registers: [registry],
    }),
    relayEntries: new Counter({
      name: 'cairn_relay_published_entries_total',
      help: 'Outbox entries (or parts of one, offered as its writer gathers it) the relay published, by how it got them: offered by their writer, or listed',
      labelNames: ['via'],
      registers: [registry],
    }),
    relayListings: new Counter({
      name: 'cairn_relay_listings_total',
      help: 'Listings of the outbox by the relay',
      registers: [registry],
    }),
    relayBacklog: new Gauge({
      name: 'cairn_relay_backlog',
      help: 'Unpublished commits seen at the last relay poll',
      registers: [registry],
    }),
    relayLastPublish: new Gauge({
      name: 'cairn_relay_last_publish_timestamp_seconds',
      help: 'When the relay last published',
      registers: [registry],
    }),
    projectorApplied: new Counter({
      name: 'cairn_projector_applied_events_total',
      help: 'Domain events applied to the read model',
      registers: [registry],
    }),
    projectorSkipped: new Counter({
      name: 'cairn_projector_skipped_events_total',
      help: 'Events skipped as duplicate or stale',
      labelNames: ['reason'],
      registers: [registry],
    }),
    projectorRepairs: new Counter({
      name: 'cairn_projector_gap_repairs_total',
      help: 'Aggregates re-folded from the event store after a seq gap',
      registers: [registry],
    }),
    projectorParked: new Counter({
      name: 'cairn_projector_parked_events_total',
      help: 'Events parked after repeated failures',
      registers: [registry],
    }),
    projectorFailures: new Counter({
      name: 'cairn_projector_failures_total',
      help: 'Failed projection attempts',
      registers: [registry],
    }),
    // Lags from the event's recorded time (the ledger's clock at reservation) to each stage: where
    // the time between a mutation and its notification goes. Across machines they include clock skew.
    relayLag: new Histogram({
      name: 'cairn_relay_lag_seconds',
      help: 'Event recorded → published to the transport by the relay',
      buckets: ms,
      registers: [registry],
    }),
    projectorLag: new Histogram({
      name: 'cairn_projector_lag_seconds',
      help: 'Event recorded → held by the read model (before mark-done and notification)',
      buckets: ms,
      registers: [registry],
    }),
    changeLag: new Histogram({
      name: 'cairn_change_delivery_lag_seconds',
      help: 'Event recorded → its change notification received by this gateway',
      buckets: ms,
      registers: [registry],
    }),
    subscriptions: new Gauge({
      name: 'cairn_subscriptions_active',
      help: 'Open GraphQL subscriptions',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Seconds from an ISO time to `now`, for the lag histograms (0 if the clocks disagree the other way). */
export const secondsSince = (iso: string, now = Date.now()): number => Math.max(0, (now - Date.parse(iso)) / 1000);

const SAMPLE_SUFFIX = /_(sum|count|bucket)$/;

/**
 * The exposition of the named metrics only (`/metrics?name=…`): a poller watching one counter (the
 * bench, a script) costs the process one metric's rendering, not a full scrape with the default
 * process metrics collected. A histogram's `_sum`/`_count`/`_bucket` name selects the histogram;
 * an unknown name selects nothing.
 */
export async function renderNamed(registry: Registry, names: string[]): Promise<string> {
  const found = new Set<string>();
  for (const name of names) {
    const metric = registry.getSingleMetric(name) ? name : name.replace(SAMPLE_SUFFIX, '');
    if (registry.getSingleMetric(metric)) found.add(metric);
  }
  const parts = await Promise.all([...found].map((name) => registry.getSingleMetricAsString(name)));
  return parts.map((p) => `${p}\n`).join('');
}
