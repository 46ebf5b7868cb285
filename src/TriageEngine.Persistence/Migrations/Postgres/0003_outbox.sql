-- Durable HL7 outbox: a row per outbound message, written with the decision that caused it.
CREATE TABLE hl7_outbox (
    id                 BIGSERIAL PRIMARY KEY,
    destination        TEXT NOT NULL,
    control_id         TEXT NOT NULL UNIQUE,
    message_type       TEXT NOT NULL,
    accession_number   TEXT NULL,
    study_instance_uid TEXT NOT NULL,
    priority_code      TEXT NOT NULL,
    payload            TEXT NOT NULL,
    state              TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL,
    next_attempt_at    TIMESTAMPTZ NOT NULL,
    last_error         TEXT NULL,
    ack_code           TEXT NULL
);

CREATE INDEX ix_hl7_outbox_pending ON hl7_outbox (destination, state, id);
CREATE INDEX ix_hl7_outbox_study ON hl7_outbox (destination, study_instance_uid, message_type, id);
