-- Idempotency keys (IdempotencyStore port). `response` is json, not jsonb: the first answer is kept
-- byte for byte (key order included).
CREATE TABLE {schema}.idempotency_keys (
  scope        text COLLATE "C" NOT NULL,
  key          text COLLATE "C" NOT NULL,
  request_hash text NOT NULL,
  state        text NOT NULL CHECK (state IN ('started', 'completed')),
  lease_until  timestamptz,
  response     json,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);

-- Retention purge.
CREATE INDEX idempotency_keys_updated_at ON {schema}.idempotency_keys (updated_at);
