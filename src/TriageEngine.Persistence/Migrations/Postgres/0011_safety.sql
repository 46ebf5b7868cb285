-- Outcome capture, discrepancy review and performance monitoring. Times are UTC text in the audit time format
-- (yyyy-MM-ddTHH:mm:ss.fffffffZ: fixed width, so text order is time order) in both dialects; flags are 0/1.

-- The studies under monitoring: where and on what they were acquired, and when they were complete.
CREATE TABLE safety_studies (
    accession_number    TEXT PRIMARY KEY NOT NULL,
    study_instance_uid  TEXT NOT NULL,
    site                TEXT NOT NULL,
    scanner_model       TEXT NOT NULL,
    modality            TEXT NULL,
    completed_at        TEXT NOT NULL
);

CREATE INDEX ix_safety_studies_completed ON safety_studies (completed_at);

-- What each model said about each study and finding (the audit log holds the full record; this is for the metrics).
CREATE TABLE safety_ai_results (
    accession_number  TEXT NOT NULL,
    model             TEXT NOT NULL,
    finding           TEXT NOT NULL,
    model_version     TEXT NOT NULL,
    score             DOUBLE PRECISION NOT NULL,
    threshold         DOUBLE PRECISION NOT NULL,
    operating_point   TEXT NOT NULL,
    flagged           INTEGER NOT NULL,
    flagged_at        TEXT NULL,
    PRIMARY KEY (accession_number, model, finding)
);

-- The final report (the latest one received per accession: a corrected report replaces it).
CREATE TABLE safety_reports (
    accession_number  TEXT PRIMARY KEY NOT NULL,
    report_text       TEXT NOT NULL,
    codes             TEXT NOT NULL,
    source            TEXT NOT NULL,
    result_status     TEXT NOT NULL,
    reported_at       TEXT NOT NULL,
    received_at       TEXT NOT NULL
);

-- What the report says about each finding, with the sentences that say it.
CREATE TABLE safety_extractions (
    accession_number  TEXT NOT NULL,
    finding           TEXT NOT NULL,
    presence          TEXT NOT NULL,
    label             TEXT NOT NULL,
    evidence_json     TEXT NOT NULL,
    rule_set_version  TEXT NOT NULL,
    extracted_at      TEXT NOT NULL,
    PRIMARY KEY (accession_number, finding)
);

-- Radiologist feedback (wins over the extraction).
CREATE TABLE safety_feedback (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    accession_number  TEXT NOT NULL,
    model             TEXT NOT NULL,
    finding           TEXT NOT NULL,
    reader            TEXT NOT NULL,
    agreement         TEXT NULL,
    finding_present   INTEGER NULL,
    comment           TEXT NULL,
    recorded_at       TEXT NOT NULL
);

CREATE INDEX ix_safety_feedback_accession ON safety_feedback (accession_number);

-- The discrepancy review queue (safety role): one entry per accession × model × finding.
CREATE TABLE safety_discrepancies (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    accession_number    TEXT NOT NULL,
    study_instance_uid  TEXT NOT NULL,
    model               TEXT NOT NULL,
    finding             TEXT NOT NULL,
    kind                TEXT NOT NULL,
    score               DOUBLE PRECISION NOT NULL,
    threshold           DOUBLE PRECISION NOT NULL,
    reference_source    TEXT NOT NULL,
    excerpt             TEXT NOT NULL,
    detected_at         TEXT NOT NULL,
    disposition         TEXT NOT NULL,
    reviewed_by         TEXT NULL,
    reviewed_at         TEXT NULL,
    note                TEXT NULL,
    UNIQUE (accession_number, model, finding)
);

CREATE INDEX ix_safety_discrepancies_disposition ON safety_discrepancies (disposition);
