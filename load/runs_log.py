"""A night that publishes nothing still tells the analysts' file how it ended: the published file's `runs`
table gets the work file's rows (a failed or interrupted night included), and nothing else of the night.

Like publishing, this never writes the published file in place (analysts may hold it open, and DuckDB's
lock would stop us anyway): the published file is copied beside itself, its `runs` rows replaced in the
copy, and the copy renamed over it. Readers with the old file open keep their view."""
from __future__ import annotations

from typing import Any

import os
import shutil
from pathlib import Path

import duckdb

from load.publish import swapped_in
from load import sql


def runs_rows(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every row of the run's own `runs` table, with its column names."""
    cur = con.execute("SELECT * FROM runs ORDER BY run_id")
    return [d[0] for d in cur.description], cur.fetchall()


def publish_runs(target: str | os.PathLike[str], columns: list[str], rows: list[tuple[Any, ...]]) -> bool:
    """Replace the `runs` rows of the published file with `rows` (all of the work file's), by copy and atomic
    rename; → False when there is no published file yet (nothing to tell it to). The columns both files
    have are copied, so a published file of an older schema takes what it can hold."""
    target = Path(target)
    if not target.is_file():
        return False
    with swapped_in(target, "publishing") as tmp:
        shutil.copyfile(target, tmp)
        con = duckdb.connect(str(tmp))
        try:
            have = {name for name, _, _ in sql.columns(con, "runs")}
            keep = [i for i, c in enumerate(columns) if c in have]
            names = ", ".join(columns[i] for i in keep)
            con.execute("BEGIN")
            con.execute("DELETE FROM runs")
            if rows:
                con.executemany(f"INSERT INTO runs ({names}) VALUES ({', '.join('?' * len(keep))})",
                                [[row[i] for i in keep] for row in rows])
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
    return True
