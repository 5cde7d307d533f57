-- The write-side ledger: one row per aggregate (SequenceStore port).
CREATE TABLE {schema}.ledger (
  key           text COLLATE "C" PRIMARY KEY,
  seq           bigint NOT NULL CHECK (seq >= 0),
  live          boolean NOT NULL,
  parent        text COLLATE "C",
  confirmed_seq bigint NOT NULL DEFAULT 0,
  reserved_at   timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 90);

-- The has-live-children guard and liveChildren(): only live rows, in key order per parent.
CREATE INDEX ledger_live_children ON {schema}.ledger (parent, key) WHERE live;

-- reserve() in one round trip. Locks every row the guards read, in key order so that two reserves
-- never wait on each other in a cycle: the requireLive rows FOR SHARE, the target FOR UPDATE (an
-- absent target is inserted as a seq-0 placeholder, which locks it too, and removed again when a
-- guard refuses). Each statement of a VOLATILE function sees what committed before it ran, so the
-- children count after the FOR UPDATE sees every child whose create held the parent FOR SHARE, and a
-- create waiting for FOR SHARE sees the parent's delete: no live child under a dead parent.
CREATE FUNCTION {schema}.ledger_reserve(
  p_key text,
  p_expected bigint,
  p_next bigint,
  p_live boolean,
  p_parent text,
  p_require text[],
  p_forbid_children boolean
) RETURNS TABLE (
  outcome text,
  failed_key text,
  child_count bigint,
  seq bigint,
  live boolean,
  parent text,
  confirmed_seq bigint,
  reserved_at_ms bigint
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  k text;
  inserted boolean := false;
  cur {schema}.ledger%ROWTYPE;
  required_live boolean;
  n bigint;
BEGIN
  FOR k IN SELECT d.u FROM (SELECT DISTINCT t.u FROM unnest(array_append(p_require, p_key)) AS t(u)) AS d
           ORDER BY d.u COLLATE "C" LOOP
    IF k = p_key THEN
      IF p_expected = 0 THEN
        INSERT INTO {schema}.ledger AS l (key, seq, live, parent) VALUES (p_key, 0, false, NULL)
          ON CONFLICT (key) DO NOTHING;
        inserted := FOUND;
      END IF;
      SELECT * INTO cur FROM {schema}.ledger AS l WHERE l.key = p_key FOR UPDATE;
    ELSE
      PERFORM 1 FROM {schema}.ledger AS l WHERE l.key = k FOR SHARE;
    END IF;
  END LOOP;

  IF coalesce(cur.seq, 0) <> p_expected THEN
    IF inserted THEN DELETE FROM {schema}.ledger AS l WHERE l.key = p_key; END IF;
    RETURN QUERY SELECT 'conflict'::text, NULL::text, NULL::bigint, coalesce(cur.seq, 0::bigint),
      coalesce(cur.live, false), cur.parent, coalesce(cur.confirmed_seq, 0::bigint),
      coalesce(floor(extract(epoch FROM cur.reserved_at) * 1000)::bigint, 0::bigint);
    RETURN;
  END IF;

  FOREACH k IN ARRAY p_require LOOP
    required_live := NULL;
    SELECT l.live INTO required_live FROM {schema}.ledger AS l WHERE l.key = k;
    IF required_live IS NOT TRUE THEN
      IF inserted THEN DELETE FROM {schema}.ledger AS l WHERE l.key = p_key; END IF;
      RETURN QUERY SELECT 'not_live'::text, k, NULL::bigint, NULL::bigint, NULL::boolean, NULL::text, NULL::bigint, NULL::bigint;
      RETURN;
    END IF;
  END LOOP;

  IF p_forbid_children THEN
    SELECT count(*) INTO n FROM {schema}.ledger AS l WHERE l.parent = p_key AND l.live;
    IF n > 0 THEN
      IF inserted THEN DELETE FROM {schema}.ledger AS l WHERE l.key = p_key; END IF;
      RETURN QUERY SELECT 'has_live_children'::text, NULL::text, n, NULL::bigint, NULL::boolean, NULL::text, NULL::bigint, NULL::bigint;
      RETURN;
    END IF;
  END IF;

  UPDATE {schema}.ledger AS l
     SET seq = p_next, live = p_live, parent = p_parent, reserved_at = now()
   WHERE l.key = p_key;
  RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::bigint, NULL::bigint, NULL::boolean, NULL::text, NULL::bigint, NULL::bigint;
END;
$$;
