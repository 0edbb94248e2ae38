-- Incremental crawling: what the crawler last saw of every web page, pages that are gone, and the
-- run counts that go with them (discovered = skipped + not_modified + gone + failed + fetched).
CREATE TABLE crawl_state (
    source_key       VARCHAR NOT NULL,
    url              VARCHAR,
    lastmod          VARCHAR,
    listing_entry    VARCHAR,
    etag             VARCHAR,
    last_modified    VARCHAR,
    http_status      INTEGER,
    last_checked_at  TIMESTAMPTZ NOT NULL,
    gone_since       TIMESTAMPTZ,
    run_id           BIGINT NOT NULL
);
ALTER TABLE projects ADD COLUMN gone_since TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN skipped INTEGER;
ALTER TABLE runs ADD COLUMN not_modified INTEGER;
ALTER TABLE runs ADD COLUMN gone INTEGER;
