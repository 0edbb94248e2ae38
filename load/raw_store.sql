-- The raw store's tables, made when the raw store file is new (migration 011 makes them the first time
-- and moves older warehouses' bodies here). Later changes to them go in a migration, as for the warehouse.
CREATE TABLE IF NOT EXISTS raw.raw_pages (
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
CREATE TABLE IF NOT EXISTS raw.file_state (
    source_key  VARCHAR NOT NULL,
    size_bytes  BIGINT NOT NULL,
    mtime_ns    BIGINT NOT NULL,
    inode       BIGINT NOT NULL,
    sha256      VARCHAR NOT NULL,
    run_id      BIGINT NOT NULL
);
