-- The projector's registry (ProcessedEventRegistry port): one row per (handler, event) with its
-- lease and fencing token, and the applied seq per (handler, aggregate).
CREATE TABLE {schema}.processed_events (
  handler       text COLLATE "C" NOT NULL,
  event_id      text COLLATE "C" NOT NULL,
  aggregate_key text NOT NULL,
  seq           bigint NOT NULL,
  status        text NOT NULL CHECK (status IN ('processing', 'failed', 'done', 'parked')),
  owner         text,
  fence         bigint NOT NULL,
  lease_until   timestamptz,
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text,
  claimed_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  done_at       timestamptz,
  PRIMARY KEY (handler, event_id)
) WITH (fillfactor = 80);

-- Retention purge of done records.
CREATE INDEX processed_events_done ON {schema}.processed_events (handler, done_at) WHERE status = 'done';
-- The dead-letter listing.
CREATE INDEX processed_events_parked ON {schema}.processed_events (handler, updated_at) WHERE status = 'parked';

CREATE TABLE {schema}.aggregate_versions (
  handler       text COLLATE "C" NOT NULL,
  aggregate_key text COLLATE "C" NOT NULL,
  last_seq      bigint NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (handler, aggregate_key)
) WITH (fillfactor = 80);
