-- The latest entries of one kind (the configuration last recorded, read at start-up) without walking the whole chain.
CREATE INDEX ix_audit_log_kind ON audit_log (kind, seq);
