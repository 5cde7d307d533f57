-- Group commit of reservations: one statement, one transaction, one WAL flush for every reservation
-- a gateway has waiting. Each request is decided by ledger_reserve as if alone, in the order given,
-- each seeing the ones before it.
--
-- Deadlocks: ledger_reserve locks one request's rows in key order, but a batch of them would take the
-- union in no global order, and two batches (two gateways), or a batch and a confirmation, could wait
-- on each other. So first every existing row the batch reads is locked, in key order, in the
-- strongest mode any request needs (FOR UPDATE where some request moves it, FOR SHARE where it is
-- only a guard); the calls then find their locks held. Only rows created by the batch itself (a
-- create of a new key) are locked later.
--
-- requests: a JSON array of {key, expectedSeq, nextSeq, liveAfter, parent, requireLive: [key],
-- forbidLiveChildren, requireVersion: [{key, seq}]}. Answers one row per request, i = its position
-- (from 1), with ledger_reserve's columns.
CREATE FUNCTION {schema}.ledger_reserve_batch(requests jsonb) RETURNS TABLE (
  i bigint,
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
  moved boolean;
  req jsonb;
  n bigint;
BEGIN
  FOR k, moved IN
    SELECT u.k, bool_or(u.moved)
      FROM (
        SELECT r.value->>'key' AS k, true AS moved FROM jsonb_array_elements(requests) AS r
        UNION ALL
        SELECT g.k, false FROM jsonb_array_elements(requests) AS r,
          jsonb_array_elements_text(r.value->'requireLive') AS g(k)
        UNION ALL
        SELECT v.value->>'key', false FROM jsonb_array_elements(requests) AS r,
          jsonb_array_elements(r.value->'requireVersion') AS v
      ) AS u
     GROUP BY u.k
     ORDER BY u.k COLLATE "C"
  LOOP
    IF moved THEN
      PERFORM 1 FROM {schema}.ledger AS l WHERE l.key = k FOR UPDATE;
    ELSE
      PERFORM 1 FROM {schema}.ledger AS l WHERE l.key = k FOR SHARE;
    END IF;
  END LOOP;

  FOR req, n IN SELECT r.value, r.ordinality FROM jsonb_array_elements(requests) WITH ORDINALITY AS r ORDER BY r.ordinality LOOP
    RETURN QUERY SELECT n, x.* FROM {schema}.ledger_reserve(
      req->>'key',
      (req->>'expectedSeq')::bigint,
      (req->>'nextSeq')::bigint,
      (req->>'liveAfter')::boolean,
      req->>'parent',
      ARRAY(SELECT t.k FROM jsonb_array_elements_text(req->'requireLive') WITH ORDINALITY AS t(k, o) ORDER BY t.o),
      (req->>'forbidLiveChildren')::boolean,
      ARRAY(SELECT t.v->>'key' FROM jsonb_array_elements(req->'requireVersion') WITH ORDINALITY AS t(v, o) ORDER BY t.o),
      ARRAY(SELECT (t.v->>'seq')::bigint FROM jsonb_array_elements(req->'requireVersion') WITH ORDINALITY AS t(v, o) ORDER BY t.o)
    ) AS x;
  END LOOP;
END;
$$;
