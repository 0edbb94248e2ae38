-- How many project pages each source yielded in each run: a night that finds far fewer than the last
-- good night fails instead of publishing an empty or shrunken warehouse.
CREATE TABLE run_sources (
    run_id      BIGINT NOT NULL,
    source      VARCHAR NOT NULL,
    discovered  INTEGER NOT NULL
);
