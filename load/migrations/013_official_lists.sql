-- The official lists beside the project bank (issue #18): ESF-rådet's list of operations (Regulation (EU)
-- 2021/1060 Art. 49(3)) and Kohesio's export, each row kept with its file, row number, run and history; which
-- rows are which project (project_links, link_ambiguities); what the pages lack, filled from the lists
-- (<column>_source); the intervention type ESF+ pages write; problem rows that name a list's row.

ALTER TABLE projects ADD COLUMN intervention_type VARCHAR;
ALTER TABLE project_versions ADD COLUMN intervention_type VARCHAR;
ALTER TABLE projects ADD COLUMN esf_grant_sek_source VARCHAR;
ALTER TABLE projects ADD COLUMN total_budget_sek_source VARCHAR;
ALTER TABLE projects ADD COLUMN cofinancing_rate_source VARCHAR;
ALTER TABLE projects ADD COLUMN owner_org_number_source VARCHAR;
ALTER TABLE projects ADD COLUMN intervention_type_source VARCHAR;
UPDATE projects SET esf_grant_sek_source = CASE WHEN esf_grant_sek IS NOT NULL THEN 'page' END,
                    total_budget_sek_source = CASE WHEN total_budget_sek IS NOT NULL THEN 'page' END,
                    cofinancing_rate_source = CASE WHEN cofinancing_rate IS NOT NULL THEN 'page' END,
                    owner_org_number_source = CASE WHEN owner_org_number IS NOT NULL THEN 'page' END;

ALTER TABLE warnings ADD COLUMN row_number INTEGER;
ALTER TABLE rejects ADD COLUMN row_number INTEGER;
ALTER TABLE runs ADD COLUMN lists INTEGER;

-- The current rows of the list of operations; operation_versions keeps every version.
CREATE TABLE operations (
    source_key              VARCHAR NOT NULL,
    external_id             VARCHAR NOT NULL,
    occurrence              INTEGER NOT NULL,
    row_number              INTEGER NOT NULL,
    duplicate_of            INTEGER,
    case_number             VARCHAR,
    name                    VARCHAR,
    name_en                 VARCHAR,
    beneficiary             VARCHAR,
    beneficiary_org_number  VARCHAR,
    beneficiary_city        VARCHAR,
    country                 VARCHAR,
    programme_area_code     VARCHAR,
    specific_objective      VARCHAR,
    intervention_type       VARCHAR,
    total_budget            DECIMAL(18, 2),
    eu_grant                DECIMAL(18, 2),
    currency                VARCHAR,
    cofinancing_rate        DECIMAL(9, 6),
    start_date              DATE,
    end_date                DATE,
    summary                 VARCHAR,
    summary_en              VARCHAR,
    fund                    VARCHAR,
    programme_cci           VARCHAR,
    programme_period        VARCHAR,
    sha256                  VARCHAR NOT NULL,
    first_seen              TIMESTAMPTZ NOT NULL,
    last_seen               TIMESTAMPTZ NOT NULL,
    run_id                  BIGINT NOT NULL
);
CREATE TABLE operation_versions AS SELECT * EXCLUDE (first_seen, last_seen) FROM operations WITH NO DATA;
ALTER TABLE operation_versions ADD COLUMN version INTEGER;
ALTER TABLE operation_versions ADD COLUMN valid_from TIMESTAMPTZ;
ALTER TABLE operation_versions ADD COLUMN valid_to TIMESTAMPTZ;

CREATE TABLE kohesio_operations AS SELECT * FROM operations WITH NO DATA;
CREATE TABLE kohesio_operation_versions AS SELECT * FROM operation_versions WITH NO DATA;

-- Each list file a run read: its kind, bytes, rows and what the file as a whole lacked.
CREATE TABLE list_files (
    source_key       VARCHAR NOT NULL,
    kind             VARCHAR NOT NULL,
    sha256           VARCHAR NOT NULL,
    rows_read        INTEGER NOT NULL,
    rows_rejected    INTEGER NOT NULL,
    warnings         INTEGER NOT NULL,
    missing_columns  VARCHAR,
    run_id           BIGINT NOT NULL
);

CREATE TABLE project_links (
    project_id   VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    external_id  VARCHAR NOT NULL,
    source_key   VARCHAR NOT NULL,
    occurrence   INTEGER NOT NULL,
    row_number   INTEGER NOT NULL,
    method       VARCHAR NOT NULL,
    is_primary   BOOLEAN NOT NULL,
    run_id       BIGINT NOT NULL
);

CREATE TABLE link_ambiguities (
    source       VARCHAR NOT NULL,
    external_id  VARCHAR NOT NULL,
    source_key   VARCHAR NOT NULL,
    row_number   INTEGER NOT NULL,
    project_id   VARCHAR NOT NULL,
    method       VARCHAR NOT NULL,
    reason       VARCHAR NOT NULL,
    run_id       BIGINT NOT NULL
);
