-- Problems that do not reject a page (unknown label, municipality outside the region, a superseded
-- duplicate) get a table of their own, and runs count them.
CREATE TABLE warnings (
    run_id      BIGINT NOT NULL,
    source_key  VARCHAR,
    project_id  VARCHAR,
    stage       VARCHAR NOT NULL,
    field       VARCHAR,
    reason      VARCHAR NOT NULL,
    value       VARCHAR
);
ALTER TABLE runs ADD COLUMN warnings INTEGER;
