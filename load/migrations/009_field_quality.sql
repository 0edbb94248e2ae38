-- Never lose a project: only identity is required. Other fields may be NULL (each with a warning and a row
-- in project_field_problems); derived values say where they came from; each run records its fill rates.
ALTER TABLE projects ALTER COLUMN title DROP NOT NULL;
ALTER TABLE projects ALTER COLUMN programme_period DROP NOT NULL;
ALTER TABLE projects ALTER COLUMN programme_area_code DROP NOT NULL;
ALTER TABLE projects ALTER COLUMN region DROP NOT NULL;
ALTER TABLE projects ALTER COLUMN region_code DROP NOT NULL;
ALTER TABLE projects ADD COLUMN programme_period_source VARCHAR;
ALTER TABLE projects ADD COLUMN programme_area_source VARCHAR;
ALTER TABLE projects ADD COLUMN region_source VARCHAR;
ALTER TABLE projects ADD COLUMN missing_fields INTEGER DEFAULT 0;
UPDATE projects SET missing_fields = 0 WHERE missing_fields IS NULL;
ALTER TABLE projects ALTER COLUMN missing_fields SET NOT NULL;

ALTER TABLE project_versions ADD COLUMN programme_period_source VARCHAR;
ALTER TABLE project_versions ADD COLUMN programme_area_source VARCHAR;
ALTER TABLE project_versions ADD COLUMN region_source VARCHAR;
ALTER TABLE project_versions ADD COLUMN missing_fields INTEGER;

CREATE TABLE project_field_problems (
    project_id  VARCHAR NOT NULL,
    field       VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    value       VARCHAR,
    stage       VARCHAR NOT NULL,
    run_id      BIGINT NOT NULL
);

CREATE TABLE run_field_fill (
    run_id            BIGINT NOT NULL,
    template          VARCHAR NOT NULL,
    programme_period  VARCHAR,
    field             VARCHAR NOT NULL,
    projects          INTEGER NOT NULL,
    filled            INTEGER NOT NULL
);
