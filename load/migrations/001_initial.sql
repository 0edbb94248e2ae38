-- The warehouse as first released: raw store, projects with history, child tables, runs and rejects.
CREATE TABLE raw_pages (
    source_key     VARCHAR NOT NULL,
    url            VARCHAR,
    fetched_at     TIMESTAMPTZ NOT NULL,
    http_status    INTEGER,
    etag           VARCHAR,
    last_modified  VARCHAR,
    content_type   VARCHAR,
    sha256         VARCHAR NOT NULL,
    size_bytes     INTEGER NOT NULL,
    body           BLOB NOT NULL,
    run_id         BIGINT NOT NULL
);

CREATE TABLE projects (
    project_id            VARCHAR NOT NULL,
    title                 VARCHAR NOT NULL,
    case_number           VARCHAR,
    call_number           VARCHAR,
    programme_period      VARCHAR NOT NULL,
    programme_area_code   VARCHAR NOT NULL,
    programme_area_name   VARCHAR,
    specific_objective    VARCHAR,
    phase                 VARCHAR,
    owner                 VARCHAR,
    owner_org             VARCHAR,
    owner_org_number      VARCHAR,
    contact_name          VARCHAR,
    contact_email         VARCHAR,
    contact_phone         VARCHAR,
    esf_grant_sek         BIGINT,
    total_budget_sek      BIGINT,
    cofinancing_rate      DECIMAL(5, 4),
    start_date            DATE,
    end_date              DATE,
    region                VARCHAR NOT NULL,
    region_code           VARCHAR NOT NULL,
    planned_participants  INTEGER,
    source_url            VARCHAR,
    source_key            VARCHAR NOT NULL,
    template              VARCHAR NOT NULL,
    sha256                VARCHAR,
    record_hash           VARCHAR NOT NULL,
    first_seen            TIMESTAMPTZ NOT NULL,
    last_seen             TIMESTAMPTZ NOT NULL,
    run_id                BIGINT NOT NULL
);

CREATE TABLE project_versions AS SELECT * EXCLUDE (first_seen, last_seen) FROM projects WITH NO DATA;
ALTER TABLE project_versions ADD COLUMN version INTEGER;
ALTER TABLE project_versions ADD COLUMN valid_from TIMESTAMPTZ;
ALTER TABLE project_versions ADD COLUMN valid_to TIMESTAMPTZ;

CREATE TABLE project_organisations (
    project_id       VARCHAR NOT NULL,
    role             VARCHAR NOT NULL,
    name             VARCHAR NOT NULL,
    name_normalized  VARCHAR NOT NULL,
    truncated        BOOLEAN NOT NULL,
    run_id           BIGINT NOT NULL
);

CREATE TABLE project_municipalities (
    project_id         VARCHAR NOT NULL,
    name_as_written    VARCHAR NOT NULL,
    municipality_code  VARCHAR,
    municipality       VARCHAR,
    county             VARCHAR,
    region_code        VARCHAR,
    run_id             BIGINT NOT NULL
);

CREATE TABLE project_sections (
    project_id  VARCHAR NOT NULL,
    section     VARCHAR NOT NULL,
    heading     VARCHAR,
    text        VARCHAR NOT NULL,
    run_id      BIGINT NOT NULL
);

CREATE TABLE runs (
    run_id        BIGINT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    status        VARCHAR NOT NULL,
    sources       VARCHAR,
    seen          INTEGER,
    new           INTEGER,
    changed       INTEGER,
    unchanged     INTEGER,
    duplicates    INTEGER,
    rejected      INTEGER,
    failed        INTEGER,
    message       VARCHAR
);

CREATE TABLE rejects (
    run_id      BIGINT NOT NULL,
    source_key  VARCHAR,
    project_id  VARCHAR,
    stage       VARCHAR NOT NULL,
    field       VARCHAR,
    reason      VARCHAR NOT NULL,
    value       VARCHAR
);
