"""Summary tables (summaries.sql): rebuilt from projects and their lists by a load that changed them."""
from __future__ import annotations

from pathlib import Path

import duckdb

SUMMARIES = Path(__file__).resolve().parent / "summaries.sql"
SUMMARY_TABLES = ("organisation_activity", "municipality_coverage")


def refresh_summaries(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Rebuild every summary table inside the caller's transaction, rows stamped with `run_id`."""
    con.execute(f"SET VARIABLE esf_run_id = {int(run_id)}")
    con.execute(SUMMARIES.read_text(encoding="utf-8"))
