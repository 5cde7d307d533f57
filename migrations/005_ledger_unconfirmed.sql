-- unconfirmed(): the outbox repair's scan of reservations not (yet) confirmed, oldest first. Partial,
-- so it holds only the few rows in flight or burned, not the whole ledger; (reserved_at, key) is the
-- order the query answers in, so a LIMIT reads only the rows it returns. Costs HOT updates: every
-- reserve changes reserved_at and every confirm changes the predicate.
CREATE INDEX ledger_unconfirmed ON {schema}.ledger (reserved_at, key) WHERE confirmed_seq < seq;
