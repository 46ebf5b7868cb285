-- The audit log: append-only, hash-chained (see TriageEngine.Domain.Audit.AuditHash for the encoding the hash covers).
-- Every column is stored as the exact text the hash covers; seq is the position in the chain, from 1.
CREATE TABLE audit_log (
    seq                 INTEGER PRIMARY KEY NOT NULL,
    recorded_at         TEXT NOT NULL,
    actor               TEXT NOT NULL,
    kind                TEXT NOT NULL,
    study_instance_uid  TEXT NULL,
    accession_number    TEXT NULL,
    payload             TEXT NOT NULL,
    previous_hash       TEXT NOT NULL,
    hash                TEXT NOT NULL
);

CREATE INDEX ix_audit_log_recorded_at ON audit_log (recorded_at);
CREATE INDEX ix_audit_log_study ON audit_log (study_instance_uid);
CREATE INDEX ix_audit_log_accession ON audit_log (accession_number);

-- The head of the chain, one row: appends take the write lock (BEGIN IMMEDIATE), read it, insert, move it.
CREATE TABLE audit_head (
    id           INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq          INTEGER NOT NULL,
    hash         TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, hash, recorded_at)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', '1970-01-01T00:00:00.0000000Z');

-- Append-only: the engine never updates or deletes an entry (tampering needs DDL rights, and the chain still shows it).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
