-- Worklist reading state, routing and reader locks; triage history; claim tokens; critical-finding alerts.
ALTER TABLE worklist_items ADD COLUMN site TEXT NULL;
ALTER TABLE worklist_items ADD COLUMN body_part TEXT NULL;
ALTER TABLE worklist_items ADD COLUMN read_state TEXT NOT NULL DEFAULT 'Open';
ALTER TABLE worklist_items ADD COLUMN locked_by TEXT NULL;
ALTER TABLE worklist_items ADD COLUMN lock_expires_at TEXT NULL;
ALTER TABLE worklist_items ADD COLUMN first_opened_at TEXT NULL;
ALTER TABLE worklist_items ADD COLUMN read_at TEXT NULL;

-- the reading order of open items: first page and keyset pages walk this index
CREATE INDEX ix_worklist_items_open_order ON worklist_items (priority_score DESC, received_at ASC, study_instance_uid ASC) WHERE read_state = 'Open';
CREATE INDEX ix_worklist_items_modality_order ON worklist_items (modality, priority_score DESC, received_at ASC, study_instance_uid ASC) WHERE read_state = 'Open';

-- a study belongs to one or more reading groups; a reader sees the union of their groups
CREATE TABLE worklist_assignments (
    study_instance_uid TEXT NOT NULL,
    group_name         TEXT NOT NULL,
    assigned_at        TEXT NOT NULL,
    PRIMARY KEY (group_name, study_instance_uid)
);
CREATE INDEX ix_worklist_assignments_study ON worklist_assignments (study_instance_uid);

-- one row per completed triage (written with the claim's completion, so a triage that did not complete leaves none)
CREATE TABLE triage_results (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    study_instance_uid TEXT NOT NULL,
    generation         INTEGER NOT NULL,
    node               TEXT NOT NULL,
    status             TEXT NOT NULL,
    priority_class     TEXT NOT NULL,
    priority_score     REAL NOT NULL,
    policy_version     TEXT NOT NULL,
    triaged_at         TEXT NOT NULL
);
CREATE INDEX ix_triage_results_study ON triage_results (study_instance_uid, id);

ALTER TABLE studies ADD COLUMN claim_token TEXT NULL;

-- critical findings: notification, escalation ladder and acknowledgement, per study
CREATE TABLE critical_alerts (
    study_instance_uid TEXT PRIMARY KEY NOT NULL,
    finding            TEXT NOT NULL,
    flagged_at         TEXT NOT NULL,
    notified_at        TEXT NULL,
    level              INTEGER NOT NULL DEFAULT 0,
    next_escalation_at TEXT NULL,
    acknowledged_at    TEXT NULL,
    acknowledged_by    TEXT NULL,
    closed_reason      TEXT NULL
);
CREATE INDEX ix_critical_alerts_due ON critical_alerts (next_escalation_at) WHERE acknowledged_at IS NULL;

CREATE TABLE notification_deliveries (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    study_instance_uid TEXT NOT NULL,
    level              INTEGER NOT NULL,
    channel            TEXT NOT NULL,
    recipient          TEXT NOT NULL,
    sent_at            TEXT NOT NULL,
    outcome            TEXT NOT NULL,
    UNIQUE (study_instance_uid, level, channel, recipient)
);
