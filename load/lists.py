"""The official lists' rows into the warehouse: a run stages each list file's rows chunk by chunk (a temporary
table: memory stays bounded however long the file), and its load merges them into `operations` /
`kohesio_operations` with history, in the load's one transaction.

A row is known by its file (`source_key`), its external id and its occurrence (1 for the first row of the file
with that id, 2 for a duplicate …). A new or changed row (another sha256 of its normalised values) gets a new
version in `<list>_versions`, its values' only copy; `<list>_current` holds which version is current and the row's
place in the file. A row that a newer version of the same file no longer has is closed (valid_to) and leaves
`<list>_current`; an unchanged row only gets `last_seen` and its row number there.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from datetime import datetime

import duckdb

from load.sql import has_table
from records.lists import COLUMNS, KOHESIO, OPERATIONS
from records.staging import LINES, MAX_STAGED_LINE, SEPARATOR, STAGED_TYPES, TEXTS

# kind → (every version of its rows, the current rows' version and place); the views operations and
# kohesio_operations join the two (load/views.sql)
TABLES = {OPERATIONS: ("operation_versions", "operations_current"),
          KOHESIO: ("kohesio_operation_versions", "kohesio_operations_current")}
STAGE_COLUMNS = """kind VARCHAR, source_key VARCHAR, row_number INTEGER, external_id VARCHAR, case_number VARCHAR,
    name VARCHAR, name_en VARCHAR, beneficiary VARCHAR, beneficiary_org_number VARCHAR, beneficiary_city VARCHAR,
    country VARCHAR, programme_area_code VARCHAR, specific_objective VARCHAR, intervention_type VARCHAR,
    total_budget DECIMAL(18, 2), eu_grant DECIMAL(18, 2), currency VARCHAR, cofinancing_rate DECIMAL(9, 6),
    start_date DATE, end_date DATE, summary VARCHAR, summary_en VARCHAR, fund VARCHAR, programme_cci VARCHAR,
    programme_period VARCHAR, sha256 VARCHAR, duplicate_of INTEGER, occurrence INTEGER"""


@dataclass
class ListLoaded:
    """What became of one list file in a run (the run report's lines)."""
    source_key: str
    kind: str
    rows: int = 0
    rejected: int = 0
    warnings: int = 0
    missing_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0


def start_staging(con: duckdb.DuckDBPyConnection) -> None:
    """The run's empty staging tables (temporary: they live as long as the run's connection)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE list_in ({STAGE_COLUMNS})")
    con.execute("CREATE OR REPLACE TEMP TABLE list_files_in (source_key VARCHAR, kind VARCHAR, sha256 VARCHAR, "
                "rows_read INTEGER, rows_rejected INTEGER, warnings INTEGER, missing_columns VARCHAR)")


def has_staging(con: duckdb.DuckDBPyConnection) -> bool:
    return _has_temp(con, "list_files_in")


def _has_temp(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return has_table(con, table, database="temp")


def stage_encoded(con: duckdb.DuckDBPyConnection, source_key: str, kind: str, files: Sequence[Path]) -> None:
    """Add a file's rows, in files as encode_for_staging wrote them, to the staging table (one read of them all)."""
    if not files:
        return
    # (read_csv takes a list of paths, which its type stubs do not say)
    paths: Any = [str(path) for path in files]
    rows = con.read_csv(paths, header=False, sep=SEPARATOR.decode(), quotechar="", escapechar="", dtype=dict(STAGED_TYPES),
                        names=list(COLUMNS), auto_detect=False, na_values=[""], max_line_size=MAX_STAGED_LINE,
                        lineterminator=duckdb.CSVLineTerminator.LINE_FEED)
    texts = ", ".join(f"""CASE WHEN starts_with({name}, chr(2)) THEN decode(from_base64({name}[2:]))
                              ELSE {f"replace({name}, chr(30), chr(10))" if name in LINES else name} END AS {name}"""
                      for name in TEXTS)
    con.register("list_chunk", rows)
    try:
        con.execute(f"""INSERT INTO list_in BY NAME
                        SELECT * REPLACE ({texts}), $kind AS kind, $key AS source_key FROM list_chunk""",
                    {"kind": kind, "key": source_key})
    finally:
        con.unregister("list_chunk")


def number_occurrences(con: duckdb.DuckDBPyConnection, source_key: str) -> None:
    """Once a file's rows are all staged: each row's occurrence of its external id in the file (1, 2 …, in row
    order) and, for the second and later, duplicate_of (the first row's number)."""
    con.execute("""UPDATE list_in SET occurrence = w.occurrence,
                          duplicate_of = CASE WHEN w.occurrence > 1 THEN w.first_row END
                   FROM (SELECT rowid AS r, min(row_number) OVER (PARTITION BY external_id) AS first_row,
                                row_number() OVER (PARTITION BY external_id ORDER BY row_number) AS occurrence
                         FROM list_in WHERE source_key = $key) w
                   WHERE list_in.rowid = w.r""", {"key": source_key})


def stage_file(con: duckdb.DuckDBPyConnection, loaded: ListLoaded, sha256: str) -> None:
    """Record that a file was read this run (with its rows staged): the merge replaces that file's rows."""
    number_occurrences(con, loaded.source_key)
    con.execute("INSERT INTO list_files_in VALUES (?, ?, ?, ?, ?, ?, ?)",
                [loaded.source_key, loaded.kind, sha256, loaded.rows, loaded.rejected, loaded.warnings,
                 ", ".join(loaded.missing_columns) or None])


def loaded_list_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """source_key → sha256 of the list file's bytes its rows were last loaded from."""
    return dict(con.execute("SELECT source_key, arg_max(sha256, run_id) FROM list_files GROUP BY 1").fetchall())


def merge_lists(con: duckdb.DuckDBPyConnection, run_id: int, started: datetime) -> dict[str, dict[str, int]]:
    """Merge the staged files into the list tables (inside the caller's transaction): → per kind, how many rows
    were new, changed, unchanged and removed. A file that gave no rows keeps its earlier rows (an empty or
    truncated export must not empty the warehouse)."""
    if not has_staging(con):
        return {}
    con.execute("""CREATE OR REPLACE TEMP TABLE list_replaced AS
                   SELECT source_key FROM list_files_in WHERE rows_read > 0""")
    con.execute("CREATE OR REPLACE TEMP TABLE list_merged (source_key VARCHAR, change VARCHAR, n BIGINT)")
    result = {}
    for kind, (versions, current) in TABLES.items():
        result[kind] = _merge_kind(con, kind, versions, current, run_id, started)
    con.execute("INSERT INTO list_files BY NAME SELECT *, $run AS run_id FROM list_files_in", {"run": run_id})
    con.execute("DELETE FROM list_in")
    con.execute("DELETE FROM list_files_in")
    return result


def _merge_kind(con: duckdb.DuckDBPyConnection, kind: str, versions: str, current: str, run_id: int,
                started: datetime) -> dict[str, int]:
    params = {"kind": kind, "ts": started, "run": run_id}
    key = "source_key, external_id, occurrence"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE list_cls AS
        SELECT i.source_key, i.external_id, i.occurrence,
               CASE WHEN o.sha256 IS NULL THEN 'new' WHEN o.sha256 = i.sha256 THEN 'unchanged' ELSE 'changed' END
                   AS change,
               coalesce(h.last_version, 0) + 1 AS next_version
        FROM list_in i
        LEFT JOIN (SELECT {key}, sha256 FROM {versions} WHERE valid_to IS NULL) o USING ({key})  -- the current
        LEFT JOIN (SELECT {key}, max(version) AS last_version FROM {versions} GROUP BY ALL) h USING ({key})
        WHERE i.kind = $kind
        UNION ALL
        SELECT c.source_key, c.external_id, c.occurrence, 'removed', NULL FROM {current} c
        WHERE c.source_key IN (SELECT source_key FROM list_replaced)
          AND NOT EXISTS (SELECT 1 FROM list_in i WHERE i.kind = $kind AND i.source_key = c.source_key
                          AND i.external_id = c.external_id AND i.occurrence = c.occurrence)""", {"kind": kind})
    gone = f"SELECT {key} FROM list_cls WHERE change IN ('changed', 'removed')"
    con.execute(f"""UPDATE {versions} v SET valid_to = $ts FROM ({gone}) g
                    WHERE v.valid_to IS NULL AND v.source_key = g.source_key AND v.external_id = g.external_id
                      AND v.occurrence = g.occurrence""", {"ts": started})
    arrived = f"""FROM list_in i JOIN list_cls c USING ({key})
                  WHERE i.kind = $kind AND c.change IN ('new', 'changed')"""
    con.execute(f"""INSERT INTO {versions} BY NAME
        SELECT i.* EXCLUDE (kind), c.next_version AS version, $ts AS valid_from, NULL AS valid_to, $run AS run_id
        {arrived}""", params)
    # the row's place and sightings: a changed row keeps its first_seen, a new one (or one back) starts it
    con.execute(f"""CREATE OR REPLACE TEMP TABLE list_first_seen AS
        SELECT t.source_key, t.external_id, t.occurrence, t.first_seen FROM {current} t
        JOIN list_cls c USING ({key}) WHERE c.change = 'changed'""")
    con.execute(f"""DELETE FROM {current} t USING ({gone}) g
                    WHERE t.source_key = g.source_key AND t.external_id = g.external_id
                      AND t.occurrence = g.occurrence""")
    con.execute(f"""INSERT INTO {current} BY NAME
        SELECT i.source_key, i.external_id, i.occurrence, c.next_version AS version, i.row_number, i.duplicate_of,
               coalesce(f.first_seen, $ts) AS first_seen, $ts AS last_seen
        FROM list_in i JOIN list_cls c USING ({key}) LEFT JOIN list_first_seen f USING ({key})
        WHERE i.kind = $kind AND c.change IN ('new', 'changed')""", {"kind": kind, "ts": started})
    con.execute(f"""UPDATE {current} t SET last_seen = $ts, row_number = i.row_number, duplicate_of = i.duplicate_of
        FROM list_in i JOIN list_cls c USING ({key})
        WHERE i.kind = $kind AND c.change = 'unchanged' AND t.source_key = i.source_key
          AND t.external_id = i.external_id AND t.occurrence = i.occurrence""", {"kind": kind, "ts": started})
    con.execute("INSERT INTO list_merged SELECT source_key, change, count(*) FROM list_cls GROUP BY ALL")
    counts = dict(con.execute("SELECT change, count(*) FROM list_cls GROUP BY 1").fetchall())
    return {k: counts.get(k, 0) for k in ("new", "changed", "unchanged", "removed")}


def merged_counts(con: duckdb.DuckDBPyConnection, loaded: list[ListLoaded]) -> None:
    """After the load: how many of each file's rows were new, changed, unchanged or removed (set on `loaded`)."""
    if not loaded or not _has_temp(con, "list_merged"):
        return
    counts: dict[tuple[str, str], int] = {(k, c): n for k, c, n in con.execute(
        "SELECT source_key, change, n FROM list_merged").fetchall()}
    for item in loaded:
        for change in ("new", "changed", "unchanged", "removed"):
            setattr(item, change, counts.get((item.source_key, change), 0))
