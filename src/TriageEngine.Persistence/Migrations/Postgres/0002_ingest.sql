-- Study assembly: one row per study with its timer state; one row per stored instance.
CREATE TABLE studies (
    study_instance_uid TEXT PRIMARY KEY NOT NULL,
    state              TEXT NOT NULL,
    generation         BIGINT NOT NULL,
    first_received_at  TIMESTAMPTZ NOT NULL,
    last_received_at   TIMESTAMPTZ NOT NULL,
    complete_hint      INTEGER NOT NULL DEFAULT 0,
    claimed_by         TEXT NULL,
    claimed_at         TIMESTAMPTZ NULL,
    claimed_generation BIGINT NULL,
    triaged_at         TIMESTAMPTZ NULL
);

CREATE INDEX ix_studies_ready ON studies (state, last_received_at);

CREATE TABLE instances (
    sop_instance_uid      TEXT PRIMARY KEY NOT NULL,
    study_instance_uid    TEXT NOT NULL,
    series_instance_uid   TEXT NOT NULL,
    sop_class_uid         TEXT NULL,
    modality              TEXT NULL,
    body_part_examined    TEXT NULL,
    study_description     TEXT NULL,
    series_description    TEXT NULL,
    accession_number      TEXT NULL,
    patient_id            TEXT NULL,
    instance_number       INTEGER NULL,
    slice_position        DOUBLE PRECISION NULL,
    frames                INTEGER NOT NULL,
    images_in_acquisition INTEGER NULL,
    path                  TEXT NOT NULL,
    bytes                 BIGINT NOT NULL,
    received_at           TIMESTAMPTZ NOT NULL
);

CREATE INDEX ix_instances_study ON instances (study_instance_uid, series_instance_uid);
CREATE INDEX ix_instances_accession ON instances (accession_number);

-- Imaging orders (HL7 ORM/OMI), linked to studies by accession number.
CREATE TABLE orders (
    accession_number   TEXT PRIMARY KEY NOT NULL,
    patient_id         TEXT NULL,
    placer_order       TEXT NULL,
    procedure_code     TEXT NULL,
    procedure_text     TEXT NULL,
    priority           TEXT NULL,
    patient_class      TEXT NULL,
    location           TEXT NULL,
    ordering_provider  TEXT NULL,
    status             TEXT NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);

CREATE INDEX ix_orders_patient ON orders (patient_id);

-- Inbound HL7 messages, raw, unique per sender and control id.
CREATE TABLE hl7_inbound (
    id           BIGSERIAL PRIMARY KEY,
    sender       TEXT NOT NULL,
    control_id   TEXT NOT NULL,
    message_type TEXT NOT NULL,
    raw          TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (sender, control_id)
);
