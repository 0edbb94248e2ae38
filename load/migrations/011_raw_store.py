"""Raw page bodies move out of the warehouse into the raw store, a file of its own beside it
(esf.work.duckdb → esf.raw.duckdb), attached to the run's connection as `raw`; the published file then
holds the warehouse only. A table of the files' stat (size, mtime, inode) is made beside the bodies, so a
folder's unchanged files are not read again.

DuckDB writes one database per transaction, so the copy into the raw store is `prepare` (its own
transaction, idempotent: a copy interrupted before the drop is completed, never doubled) and `upgrade`
drops the old table in the warehouse's transaction that records the migration.

Frozen: the raw store's tables as they stood when it was made."""
from __future__ import annotations

import duckdb

RAW = "raw"  # the catalog name the warehouse attaches the raw store under

RAW_TABLES = f"""
CREATE TABLE IF NOT EXISTS {RAW}.raw_pages (
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
CREATE TABLE IF NOT EXISTS {RAW}.file_state (
    source_key  VARCHAR NOT NULL,
    size_bytes  BIGINT NOT NULL,
    mtime_ns    BIGINT NOT NULL,
    inode       BIGINT NOT NULL,
    sha256      VARCHAR NOT NULL,
    run_id      BIGINT NOT NULL
);
"""
COLUMNS = "source_key, url, fetched_at, http_status, etag, last_modified, content_type, sha256, size_bytes, body, run_id"


def _has_old_table(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND schema_name = 'main' AND table_name = 'raw_pages'").fetchone()[0])


def _raw_attached(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [RAW]).fetchone()[0])


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Copy every stored version the raw store lacks (all of them, the first time)."""
    if not _raw_attached(con):
        if _has_old_table(con) and con.execute("SELECT count(*) FROM main.raw_pages").fetchone()[0]:
            raise RuntimeError("migration 011 moves stored pages into the raw store, but none is attached")
        return  # a file built afresh (a published copy): no bodies to move, no raw store
    con.execute(RAW_TABLES)
    if _has_old_table(con):
        con.execute(f"""INSERT INTO {RAW}.raw_pages ({COLUMNS})
                        SELECT {COLUMNS} FROM main.raw_pages m
                        WHERE NOT EXISTS (SELECT 1 FROM {RAW}.raw_pages r WHERE r.source_key = m.source_key
                                          AND r.sha256 = m.sha256 AND r.fetched_at = m.fetched_at)
                        ORDER BY m.rowid""")


def upgrade(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the warehouse's copy, once every row of it is in the raw store."""
    if not _has_old_table(con):
        return
    if _raw_attached(con):
        missing = con.execute(f"""SELECT count(*) FROM main.raw_pages m
                                  WHERE NOT EXISTS (SELECT 1 FROM {RAW}.raw_pages r WHERE r.source_key = m.source_key
                                                    AND r.sha256 = m.sha256 AND r.fetched_at = m.fetched_at)
                               """).fetchone()[0]
        if missing:
            raise RuntimeError(f"migration 011: {missing} stored pages did not reach the raw store; nothing dropped")
    con.execute("DROP TABLE main.raw_pages")
