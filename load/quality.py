"""What a run tells about the site's pages: fill rates per field (against the previous run), the top warnings,
labels never seen before, rejects by reason. Read-only queries; `esf quality` and the run report show them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from load.sql import scalar

UNKNOWN_LABEL = "unknown label or stray line in the field block"
# A reason without the value it quotes: 'not a date (YYYY-MM-DD): '2011-02-30'' → 'not a date (YYYY-MM-DD)'
REASON_KIND = r"regexp_replace(reason, ':\s.*$', '')"


@dataclass
class Quality:
    run_id: int | None
    previous_run_id: int | None = None
    # (template, period, field, projects, filled %, previous filled % or None)
    fill: list[tuple[Any, ...]] = field(default_factory=list[Any])
    top_warnings: list[tuple[str, str, int]] = field(default_factory=list)  # (field, reason, count)
    new_labels: list[tuple[str, str]] = field(default_factory=list)         # (label, one example page)
    rejects: list[tuple[str, int]] = field(default_factory=list)             # (reason, pages)
    # the official lists against the pages, per list and period: (source, period, list rows, rows with a page,
    # rows without a page, pages, pages without a row): load/views.sql list_coverage
    coverage: list[tuple[Any, ...]] = field(default_factory=list[Any])

    def changed_fill(self, points: float = 5.0) -> list[tuple[Any, ...]]:
        """The fill rates that moved by at least `points` percentage points since the previous run (or are new)."""
        return [row for row in self.fill if row[5] is None and self.previous_run_id is not None
                or row[5] is not None and abs(row[4] - row[5]) >= points]


def has_run(con: duckdb.DuckDBPyConnection, run_id: int) -> bool:
    return bool(scalar(con, "SELECT count(*) FROM runs WHERE run_id = ?", [run_id]))


def latest_run(con: duckdb.DuckDBPyConnection) -> int | None:
    """The last run that recorded fill rates."""
    run_id = scalar(con, "SELECT max(run_id) FROM run_field_fill")
    return None if run_id is None else int(run_id)


def quality_report(con: duckdb.DuckDBPyConnection, run_id: int | None = None, top: int = 10) -> Quality:
    """The quality of run `run_id` (default: the latest that loaded), compared with the successful run before it."""
    run_id = run_id if run_id is not None else latest_run(con)
    if run_id is None:
        return Quality(None)
    previous = scalar(con, """SELECT max(f.run_id) FROM run_field_fill f JOIN runs r USING (run_id)
                              WHERE f.run_id < $run AND r.status IN ('succeeded', 'rejects')""", {"run": run_id})
    fill = con.execute("""
        SELECT c.template, c.programme_period, c.field, c.projects,
               round(100.0 * c.filled / c.projects, 1) AS filled_pct,
               round(100.0 * p.filled / p.projects, 1) AS previous_pct
        FROM run_field_fill c
        LEFT JOIN run_field_fill p ON p.run_id = $prev AND p.template = c.template
             AND p.programme_period IS NOT DISTINCT FROM c.programme_period AND p.field = c.field
        WHERE c.run_id = $run
        ORDER BY c.template, c.programme_period NULLS LAST, c.field""", {"run": run_id, "prev": previous}).fetchall()
    warnings = con.execute(f"""
        SELECT coalesce(field, '(page)'), {REASON_KIND} AS kind, count(*) AS n FROM warnings
        WHERE run_id = $run AND reason <> $unknown GROUP BY ALL ORDER BY n DESC, 1, 2 LIMIT {int(top)}""",
                           {"run": run_id, "unknown": UNKNOWN_LABEL}).fetchall()
    labels = con.execute("""
        SELECT field, min(source_key) FROM warnings w
        WHERE run_id = $run AND reason = $unknown
          AND NOT EXISTS (SELECT 1 FROM warnings o WHERE o.reason = $unknown AND o.field = w.field
                          AND o.run_id < $run)
        GROUP BY field ORDER BY field""", {"run": run_id, "unknown": UNKNOWN_LABEL}).fetchall()
    rejects = con.execute(f"""
        SELECT {REASON_KIND} AS kind, count(DISTINCT coalesce(source_key, '')) AS pages FROM rejects
        WHERE run_id = $run GROUP BY ALL ORDER BY pages DESC, kind""", {"run": run_id}).fetchall()
    return Quality(run_id, previous, fill, warnings, labels, rejects, list_coverage(con))


def list_coverage(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """Per official list and programme period: its rows with and without a page, and the pages without a row."""
    return con.execute("SELECT * FROM list_coverage ORDER BY source DESC, programme_period NULLS LAST").fetchall()
