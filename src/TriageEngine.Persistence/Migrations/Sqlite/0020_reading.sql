-- Reading: a reader's claim on a study (a lock that expires), completion, manual priority overrides with their
-- history, and radiologist feedback on AI findings. Every write records the actor (API key name or token subject).
CREATE TABLE reading_claims (
    study_instance_uid TEXT PRIMARY KEY NOT NULL,
    claimed_by         TEXT NULL,
    claimed_at         TEXT NULL,
    expires_at         TEXT NULL,
    completed_by       TEXT NULL,
    completed_at       TEXT NULL
);

CREATE TABLE priority_overrides (
    study_instance_uid TEXT PRIMARY KEY NOT NULL,
    priority_class     TEXT NOT NULL,
    read_next          INTEGER NOT NULL,
    actor              TEXT NOT NULL,
    reason             TEXT NOT NULL,
    created_at         TEXT NOT NULL
);

CREATE TABLE priority_history (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    study_instance_uid TEXT NOT NULL,
    at                 TEXT NOT NULL,
    actor              TEXT NOT NULL,
    kind               TEXT NOT NULL,
    priority_class     TEXT NOT NULL,
    priority_score     REAL NOT NULL,
    reason             TEXT NULL
);

CREATE INDEX ix_priority_history_study ON priority_history (study_instance_uid, id);

CREATE TABLE ai_feedback (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    study_instance_uid TEXT NOT NULL,
    model              TEXT NOT NULL,
    finding            TEXT NOT NULL,
    agree              INTEGER NOT NULL,
    present            INTEGER NOT NULL,
    comment            TEXT NULL,
    actor              TEXT NOT NULL,
    created_at         TEXT NOT NULL
);

CREATE INDEX ix_ai_feedback_study ON ai_feedback (study_instance_uid, id);
CREATE INDEX ix_worklist_items_modality ON worklist_items (modality, priority_score DESC);
