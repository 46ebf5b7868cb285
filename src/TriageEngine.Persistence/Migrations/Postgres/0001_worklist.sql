-- Worklist items: one row per study, the latest triage and priority decision.
CREATE TABLE worklist_items (
    study_instance_uid TEXT PRIMARY KEY NOT NULL,
    accession_number   TEXT NULL,
    description        TEXT NULL,
    modality           TEXT NULL,
    series_count       INTEGER NOT NULL,
    instance_count     INTEGER NOT NULL,
    received_at        TIMESTAMPTZ NOT NULL,
    status             TEXT NOT NULL,
    status_reason      TEXT NULL,
    findings_json      JSONB NOT NULL,
    priority_class     TEXT NOT NULL,
    priority_score     DOUBLE PRECISION NOT NULL,
    reasons_json       JSONB NOT NULL,
    policy_version     TEXT NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);

CREATE INDEX ix_worklist_items_order ON worklist_items (priority_score DESC, received_at ASC, study_instance_uid ASC);
