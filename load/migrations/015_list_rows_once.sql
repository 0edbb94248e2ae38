-- The official lists' current rows stored once (issue #18): each was written to operations and again to
-- operation_versions, and that second copy was half the load of a 200,000-row list. A current row's values are
-- its open version's; what changes without a new version (its place in the file, when it was first and last
-- seen) is in <table>_current. operations and kohesio_operations become views over the two (load/views.sql),
-- with the same columns, in the same order, as the tables they replace.
CREATE TABLE operations_current (
    source_key    VARCHAR NOT NULL,
    external_id   VARCHAR NOT NULL,
    occurrence    INTEGER NOT NULL,
    version       INTEGER NOT NULL,
    row_number    INTEGER NOT NULL,
    duplicate_of  INTEGER,
    first_seen    TIMESTAMPTZ NOT NULL,
    last_seen     TIMESTAMPTZ NOT NULL
);
CREATE TABLE kohesio_operations_current AS SELECT * FROM operations_current WITH NO DATA;

-- A current row's version is its key's latest, which the load always left open.
INSERT INTO operations_current
SELECT o.source_key, o.external_id, o.occurrence, v.version, o.row_number, o.duplicate_of, o.first_seen, o.last_seen
FROM operations o
JOIN (SELECT source_key, external_id, occurrence, max(version) AS version FROM operation_versions GROUP BY ALL) v
  ON v.source_key = o.source_key AND v.external_id = o.external_id AND v.occurrence = o.occurrence;
INSERT INTO kohesio_operations_current
SELECT o.source_key, o.external_id, o.occurrence, v.version, o.row_number, o.duplicate_of, o.first_seen, o.last_seen
FROM kohesio_operations o
JOIN (SELECT source_key, external_id, occurrence, max(version) AS version FROM kohesio_operation_versions
      GROUP BY ALL) v
  ON v.source_key = o.source_key AND v.external_id = o.external_id AND v.occurrence = o.occurrence;

DROP TABLE operations;
DROP TABLE kohesio_operations;
