"""The raw page store: every distinct version of every page, written before any parsing. It is a file of
its own (esf.raw.duckdb) attached to the warehouse's connection as `raw`; only the warehouse is published."""
from __future__ import annotations

from typing import Any

from collections.abc import Iterator

import pandas as pd

from load.sql import scalar, transaction
from load.warehouse import Warehouse
from records import status
from records.memory import memory_bytes
from records.pages import FileStat, Known, RawPage, failed_page

CRAWL_COLUMNS = ["listed_url", "source_key", "url", "lastmod", "listing_entry", "etag", "last_modified", "http_status",
                 "last_checked_at", "run_id"]


# Storing a body takes about this many times its size of DuckDB's memory: a 90 MB list failed under 305MB and was
# stored under 320MB (the body, its copy on the way in, the write's buffers).
STORE_FACTOR = 4


def storable(pages: list[RawPage], memory: str, stored: dict[str, str]) -> list[RawPage]:
    """The pages; but one whose new bytes need more of DuckDB's memory to store than the run has (`memory`, e.g.
    '256MB') becomes a failed page that says how much it needs: one file's size fails that file, where DuckDB would
    fail the night's whole store (a list of operations of 90 MB under the 256MB a small machine gets by default).
    Bytes the store already holds (`stored`: source_key → sha256) are not stored again, and need nothing."""
    limit = memory_bytes(memory)
    return [_too_large(page, memory) if has_body(page) and len(page.body) * STORE_FACTOR > limit
            and stored.get(page.source_key) != page.sha256 else page for page in pages]


def _too_large(page: RawPage, memory: str) -> RawPage:
    needed = -(-len(page.body) * STORE_FACTOR // 10**8) * 100  # MB, rounded up to a hundred
    return failed_page(page.source_key, f"{len(page.body) / 1e6:,.0f} MB is more than the run's DuckDB memory "
                                        f"({memory}) can store (about {STORE_FACTOR}x a file's size): not stored "
                                        f"nor read; run with --memory {needed}MB or more (or ESF_DUCKDB_MEMORY)",
                       url=page.url)


def has_body(page: RawPage) -> bool:
    """A page with content to store and parse (not failed, not 304, not 404/410)."""
    return not page.failed and status.has_body(page.http_status)


def latest_hashes(wh: Warehouse) -> dict[str, str]:
    """source_key → sha256 of its latest stored version (one scan, for a whole run)."""
    return dict(wh.con.execute("SELECT source_key, arg_max(sha256, fetched_at) FROM raw.raw_pages GROUP BY 1").fetchall())


def file_stats(wh: Warehouse) -> dict[str, FileStat]:
    """source_key → the stat a saved file had when its stored bytes were read."""
    return {k: FileStat(size, mtime, inode) for k, size, mtime, inode in wh.con.execute(
        "SELECT source_key, size_bytes, mtime_ns, inode FROM raw.file_state").fetchall()}


def store_raw(wh: Warehouse, pages: list[RawPage], run_id: int, crawl_rows: list[dict[str, Any]] | None = None,
              stored: dict[str, str] | None = None) -> int:
    """Insert the pages whose bytes differ from the latest stored version of their key (with the stat of
    saved files) in one commit to the raw store, then what the crawler saw of them in the warehouse (so an
    interrupted crawl resumes after the last batch). DuckDB commits one file at a time; the bodies go
    first, so crawl state never remembers a page whose bytes were not stored.

    Two listed URLs may lead to one canonical page: a key is stored once per batch (its last fetch).
    Returns how many new versions were stored.
    """
    read = list({p.source_key: p for p in pages if has_body(p)}.values())
    good = read
    if good:  # only bytes the store does not already hold travel into DuckDB
        held = stored if stored is not None else latest_hashes(wh)
        good = [p for p in good if held.get(p.source_key) != p.sha256]
    stats = [p for p in read if p.file_stat is not None]
    if good or stats:
        with transaction(wh.con):
            count = _insert_raw(wh, good, run_id) if good else 0
            if stats:
                _upsert_file_state(wh, stats, run_id)
    else:
        count = 0
    if crawl_rows:
        with transaction(wh.con):
            _upsert_crawl_state(wh, crawl_rows)
    if stored is not None:
        stored.update((p.source_key, p.sha256) for p in good)
    return count


def _upsert_file_state(wh: Warehouse, pages: list[RawPage], run_id: int) -> None:
    stats = [(p, p.file_stat) for p in pages if p.file_stat is not None]
    df = pd.DataFrame({"source_key": [p.source_key for p, _ in stats],
                       "size_bytes": [s.size for _, s in stats],
                       "mtime_ns": [s.mtime_ns for _, s in stats],
                       "inode": [s.inode for _, s in stats],
                       "sha256": [p.sha256 for p, _ in stats], "run_id": run_id})
    con = wh.con
    con.register("file_df", df)
    try:
        con.execute("DELETE FROM raw.file_state WHERE source_key IN (SELECT source_key FROM file_df)")
        con.execute("INSERT INTO raw.file_state BY NAME SELECT * FROM file_df")
    finally:
        con.unregister("file_df")


def _upsert_crawl_state(wh: Warehouse, rows: list[dict[str, Any]]) -> None:
    df = pd.DataFrame(rows, columns=CRAWL_COLUMNS).astype(object)
    df["http_status"] = pd.Series([r["http_status"] for r in rows], dtype="Int32")
    con = wh.con
    con.register("crawl_df", df)
    try:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE crawl_in AS
                       SELECT c.*, CASE WHEN c.http_status IN {status.sql_in(status.GONE)}
                                        THEN coalesce(s.gone_since, c.last_checked_at::TIMESTAMPTZ) END AS gone_since
                       FROM crawl_df c LEFT JOIN crawl_state s USING (listed_url)""")
        con.execute("DELETE FROM crawl_state WHERE listed_url IN (SELECT listed_url FROM crawl_in)")
        con.execute("INSERT INTO crawl_state BY NAME SELECT * FROM crawl_in")
    finally:
        con.unregister("crawl_df")


def loaded_hashes(wh: Warehouse) -> dict[str, str]:
    """source_key → sha256 of the page each current project was parsed from: same bytes, nothing to parse."""
    return dict(wh.con.execute("SELECT source_key, sha256 FROM projects WHERE sha256 IS NOT NULL").fetchall())


def known_pages(wh: Warehouse) -> dict[str, Known]:
    """What the crawler saw of each listed URL last time (and the key it led to), for planning the next run."""
    rows = wh.con.execute("SELECT listed_url, source_key, lastmod, listing_entry, etag, last_modified, http_status "
                          "FROM crawl_state").fetchall()
    return {r[0]: Known(*r[1:]) for r in rows}


def _insert_raw(wh: Warehouse, good: list[RawPage], run_id: int) -> int:
    df = pd.DataFrame({
        "source_key": [p.source_key for p in good],
        "url": pd.Series([p.url for p in good], dtype=object),
        "fetched_at": [p.fetched_at for p in good],
        "http_status": pd.Series([p.http_status for p in good], dtype="Int32"),
        "etag": pd.Series([p.etag for p in good], dtype=object),
        "last_modified": pd.Series([p.last_modified for p in good], dtype=object),
        "content_type": pd.Series([p.content_type for p in good], dtype=object),
        "sha256": [p.sha256 for p in good],
        "size_bytes": [len(p.body) for p in good],
        "body": pd.Series([p.body for p in good], dtype=object),
        "run_id": run_id,
    })
    con = wh.con
    con.register("incoming_raw", df)
    try:
        before = int(scalar(con, "SELECT count(*) FROM raw.raw_pages"))
        con.execute("""
            INSERT INTO raw.raw_pages BY NAME
            SELECT i.* REPLACE (i.body::BLOB AS body)
            FROM incoming_raw i
            LEFT JOIN (SELECT source_key, arg_max(sha256, fetched_at) AS sha256
                       FROM raw.raw_pages WHERE source_key IN (SELECT source_key FROM incoming_raw)
                       GROUP BY source_key) latest USING (source_key)
            WHERE latest.sha256 IS DISTINCT FROM i.sha256
        """)
        return int(scalar(con, "SELECT count(*) FROM raw.raw_pages")) - before
    finally:
        con.unregister("incoming_raw")


def unloaded_keys(wh: Warehouse) -> set[str]:
    """Pages whose latest stored version came from a run that did not load it (failed, interrupted, died)."""
    return {k for (k,) in wh.con.execute("""
        WITH latest AS (
            SELECT source_key, arg_max(sha256, fetched_at) AS sha256, arg_max(run_id, fetched_at) AS run_id
            FROM raw.raw_pages GROUP BY source_key)
        SELECT l.source_key FROM latest l
        WHERE l.run_id IN (SELECT run_id FROM runs WHERE status NOT IN ('succeeded', 'rejects'))
          AND NOT EXISTS (SELECT 1 FROM projects p WHERE p.source_key = l.source_key AND p.sha256 = l.sha256)
        """).fetchall()}


def stored_pages(wh: Warehouse, keys: list[str], batch_size: int = 500,
                 batch_bytes: int = 64 << 20) -> Iterator[list[RawPage]]:
    """The latest stored version of each of `keys`, to parse without fetching again, in batches of at most
    `batch_size` pages and about `batch_bytes` of bodies: row ids and sizes first (no body is read to choose
    the versions), then each batch's bodies by row id."""
    if not keys:
        return
    rows = wh.con.execute("""
        SELECT arg_max(rowid, fetched_at), coalesce(arg_max(size_bytes, fetched_at), 0) FROM raw.raw_pages
        WHERE source_key IN (SELECT unnest($keys)) GROUP BY source_key ORDER BY 1""", {"keys": keys}).fetchall()
    yield from _bodies(wh, rows, batch_size, batch_bytes)


def _raw_page(r: tuple[Any, ...]) -> RawPage:
    return RawPage(source_key=r[0], url=r[1], fetched_at=r[2], body=bytes(r[3]), http_status=r[4],
                   etag=r[5], last_modified=r[6], content_type=r[7])


def _chunks(rows: list[tuple[int, int]], count: int, size: int) -> Iterator[list[int]]:
    """Row ids in runs of at most `count` rows and (past the first row) `size` bytes."""
    chunk: list[int] = []
    total = 0
    for rowid, nbytes in rows:
        if chunk and (len(chunk) >= count or total + nbytes > size):
            yield chunk
            chunk, total = [], 0
        chunk.append(rowid)
        total += nbytes
    if chunk:
        yield chunk


def latest_raw_pages(wh: Warehouse, batch_size: int = 500, batch_bytes: int = 64 << 20) -> Iterator[list[RawPage]]:
    """The latest stored version of every page, in batches, for re-parsing without the network.

    Row ids first (small), then each batch's bodies by a range of row ids: memory holds one batch of
    bodies (at most `batch_size` pages and about `batch_bytes`), whatever the size of the store. In the
    order stored, so of two keys that give one project the one stored last wins
    (transform.batch.resolve_duplicates)."""
    rows = wh.con.execute("""
        SELECT r.rowid, r.size_bytes FROM raw.raw_pages r
        JOIN (SELECT source_key, max(fetched_at) AS fetched_at FROM raw.raw_pages GROUP BY source_key) latest
          USING (source_key, fetched_at)
        ORDER BY r.rowid""").fetchall()
    yield from _bodies(wh, rows, batch_size, batch_bytes)


def _bodies(wh: Warehouse, rows: list[tuple[int, int]], batch_size: int,
            batch_bytes: int) -> Iterator[list[RawPage]]:
    """The pages of (row id, size) rows, one batch of bodies in memory at a time."""
    for chunk in _chunks(rows, batch_size, batch_bytes):
        found = wh.con.execute("""
            SELECT source_key, url, fetched_at, body, http_status, etag, last_modified, content_type
            FROM raw.raw_pages WHERE rowid BETWEEN $lo AND $hi AND list_contains($ids, rowid)
            ORDER BY rowid""",
            {"lo": chunk[0], "hi": chunk[-1], "ids": chunk}).fetchall()
        yield [_raw_page(r) for r in found]
