-- reserve() also checks that dependencies are still at the seq a decision read (an instance is
-- validated against one version of its class: a schema change committed in between must re-decide).
-- Same locking as 001: every row a guard reads, in key order; version rows FOR SHARE, so a class
-- update (which holds its row FOR UPDATE) and an instance write validated against it serialize.
-- It also answers the reservation time, read under those locks: the time a write is recorded at.
DROP FUNCTION {schema}.ledger_reserve(text, bigint, bigint, boolean, text, text[], boolean);

CREATE FUNCTION {schema}.ledger_reserve(
  p_key text,
  p_expected bigint,
  p_next bigint,
  p_live boolean,
  p_parent text,
  p_require text[],
  p_forbid_children boolean,
  p_version_keys text[],
  p_version_seqs bigint[]
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
  i int;
  inserted boolean := false;
  cur {schema}.ledger%ROWTYPE;
  dep {schema}.ledger%ROWTYPE;
  required_live boolean;
  n bigint;
BEGIN
  FOR k IN SELECT d.u FROM (SELECT DISTINCT t.u FROM unnest(array_append(p_require || p_version_keys, p_key)) AS t(u)) AS d
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

  FOR i IN 1 .. coalesce(array_length(p_version_keys, 1), 0) LOOP
    dep := NULL;
    SELECT * INTO dep FROM {schema}.ledger AS l WHERE l.key = p_version_keys[i];
    IF coalesce(dep.seq, 0) <> p_version_seqs[i] THEN
      IF inserted THEN DELETE FROM {schema}.ledger AS l WHERE l.key = p_key; END IF;
      RETURN QUERY SELECT 'stale_version'::text, p_version_keys[i], NULL::bigint, coalesce(dep.seq, 0::bigint),
        coalesce(dep.live, false), dep.parent, coalesce(dep.confirmed_seq, 0::bigint),
        coalesce(floor(extract(epoch FROM dep.reserved_at) * 1000)::bigint, 0::bigint);
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

  -- clock_timestamp(), not now(): read with every lock held, so conflicting reserves are ordered by it.
  UPDATE {schema}.ledger AS l
     SET seq = p_next, live = p_live, parent = p_parent, reserved_at = clock_timestamp()
   WHERE l.key = p_key
  RETURNING l.reserved_at INTO cur.reserved_at;
  RETURN QUERY SELECT 'ok'::text, NULL::text, NULL::bigint, NULL::bigint, NULL::boolean, NULL::text, NULL::bigint,
    floor(extract(epoch FROM cur.reserved_at) * 1000)::bigint;
END;
$$;
