"""Web pages stored before migration 005 are keyed by the URL a listing gave; re-key them by the
canonical URL their latest stored body names, as new fetches are (same rule: extract.discover.page_key)."""
from __future__ import annotations

import duckdb
import pandas as pd

from extract.discover import page_key

TABLES = ("raw_pages", "crawl_state", "projects", "project_versions")  # rejects/warnings keep what they said


def upgrade(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("""SELECT source_key, arg_max(url, fetched_at), arg_max(body, fetched_at) FROM raw_pages
                          WHERE source_key LIKE 'http%' AND http_status = 200 GROUP BY source_key""")
    renamed: dict[str, str] = {}
    while batch := rows.fetchmany(500):
        for old, url, body in batch:
            new = page_key(url or old, bytes(body))
            if new != old:
                renamed[old] = new
    if not renamed:
        return
    con.register("rekey_df", pd.DataFrame({"old": list(renamed), "new": list(renamed.values())}))
    try:
        for table in TABLES:
            con.execute(f"UPDATE {table} SET source_key = k.new FROM rekey_df k WHERE {table}.source_key = k.old")
    finally:
        con.unregister("rekey_df")
