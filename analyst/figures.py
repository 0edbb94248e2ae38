"""The report's figures as data: each one is the SQL it comes from, its parameters and the rows it returned."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from load import sql

# The periods the filter offers (projects of no known period are in "all periods" only).
PERIODS_SQL = "SELECT DISTINCT programme_period FROM projects WHERE programme_period IS NOT NULL ORDER BY 1"

# Every figure's SQL takes $period: NULL for all periods, else one programme period.
# A programme area is of its period (area 2 of 2007-2013 is not area 2 of 2014-2020), so the period is a column.
GRANT_BY_REGION_AREA = """
SELECT region, programme_period, programme_area_code AS area, sum(esf_grant_sek)::BIGINT AS esf_grant_sek
FROM region_programme_matrix
WHERE $period IS NULL OR programme_period = $period
GROUP BY ALL ORDER BY region, programme_period, area"""

GRANT_BY_YEAR = """
SELECT year, programme_period, sum(esf_grant_sek)::BIGINT AS esf_grant_sek
FROM funding_by_year
WHERE $period IS NULL OR programme_period = $period
GROUP BY ALL ORDER BY year, programme_period"""

TOP_ORGANISATIONS = """
WITH o AS (
    SELECT o.role, o.organisation, count(*) AS projects, sum(p.esf_grant_sek)::BIGINT AS esf_grant_sek
    FROM (SELECT DISTINCT project_id, role, organisation FROM project_organisations) o
    JOIN projects p USING (project_id)
    WHERE $period IS NULL OR p.programme_period = $period
    GROUP BY ALL)
SELECT role, organisation, projects, esf_grant_sek FROM o
QUALIFY row_number() OVER (PARTITION BY role ORDER BY projects DESC, esf_grant_sek DESC NULLS LAST, organisation) <= 10
ORDER BY role, projects DESC, esf_grant_sek DESC NULLS LAST, organisation"""

TOP_ORGANISATIONS_BY_GRANT = """
WITH o AS (
    SELECT o.role, o.organisation, count(*) AS projects, sum(p.esf_grant_sek)::BIGINT AS esf_grant_sek
    FROM (SELECT DISTINCT project_id, role, organisation FROM project_organisations) o
    JOIN projects p USING (project_id)
    WHERE $period IS NULL OR p.programme_period = $period
    GROUP BY ALL)
SELECT role, organisation, projects, esf_grant_sek FROM o
WHERE esf_grant_sek IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY role ORDER BY esf_grant_sek DESC, projects DESC, organisation) <= 10
ORDER BY role, esf_grant_sek DESC, projects DESC, organisation"""

MUNICIPALITIES_PER_COUNTY = """
SELECT m.county, count(DISTINCT m.municipality_code) AS municipalities
FROM project_municipalities m JOIN projects p USING (project_id)
WHERE m.municipality_code IS NOT NULL AND ($period IS NULL OR p.programme_period = $period)
GROUP BY ALL ORDER BY municipalities DESC, county"""

TOTALS = """
SELECT count(*) AS projects, sum(esf_grant_sek)::BIGINT AS esf_grant_sek, sum(total_budget_sek)::BIGINT AS total_budget_sek,
       count(esf_grant_sek) AS with_grant, count(esf_grant_sek) FILTER (WHERE start_date IS NOT NULL AND end_date IS NOT NULL)
           AS with_grant_and_dates
FROM projects WHERE $period IS NULL OR programme_period = $period"""

# Not filtered by period: a run is not of one period.
RUN_HISTORY = """
SELECT run_id, status, coalesce(new, 0) AS new, coalesce(changed, 0) AS changed,
       coalesce(rejected, 0) AS rejected, coalesce(failed, 0) AS failed
FROM runs ORDER BY run_id DESC LIMIT 30"""

LATEST_CHANGES = """
SELECT change, project_id, title, previous_esf_grant_sek, esf_grant_sek, previous_end_date, end_date
FROM recent_changes WHERE runs_ago = 0 ORDER BY change, project_id LIMIT 50"""

LATEST_CHANGE_COUNTS = "SELECT change, count(*) AS projects FROM recent_changes WHERE runs_ago = 0 GROUP BY 1 ORDER BY 1"

LATEST_RUN = """
SELECT run_id, status, started_at, finished_at, seen, new, changed, unchanged, rejected, failed, message
FROM runs ORDER BY run_id DESC LIMIT 1"""

REJECT_REASONS = """
SELECT stage, coalesce(field, '') AS field, reason, count(*) AS pages
FROM rejects WHERE run_id = (SELECT max(run_id) FROM runs) GROUP BY ALL ORDER BY pages DESC, reason LIMIT 15"""

WARNING_FIELDS = """
SELECT coalesce(field, '') AS field, count(*) AS warnings
FROM warnings WHERE run_id = (SELECT max(run_id) FROM runs) GROUP BY ALL ORDER BY warnings DESC, field LIMIT 15"""

# The project bank against the official lists (load/links.py, load/views.sql): not filtered by period.
LIST_MATCH_RATES = """
SELECT source, programme_period, list_rows, rows_with_page,
       round(100.0 * rows_with_page / nullif(list_rows, 0), 1) AS rows_with_page_pct,
       pages, pages - pages_without_row AS pages_in_list,
       round(100.0 * (pages - pages_without_row) / nullif(pages, 0), 1) AS pages_in_list_pct
FROM list_coverage ORDER BY source DESC, programme_period NULLS LAST"""

LIST_LINK_METHODS = """
SELECT source, method, count(*) AS rows_linked FROM project_links GROUP BY ALL ORDER BY source DESC, method"""

LIST_AMBIGUITIES = "SELECT source, reason, count(*) AS rows FROM link_ambiguities GROUP BY ALL ORDER BY rows DESC, 1, 2"

LIST_STATUS = """
SELECT field, status, count(*) AS comparisons FROM reconciliation GROUP BY ALL ORDER BY field, status"""

LIST_LARGEST_DIFFERENCES = """
SELECT project_id, source, field, bank_value, bank_value_source, source_value, difference
FROM reconciliation
WHERE status = 'differs' AND field IN ('esf_grant_sek', 'total_budget_sek')
ORDER BY abs(difference) DESC, project_id, source, field LIMIT 20"""

GRANT_BY_SOURCE = """
SELECT programme_period, coalesce(esf_grant_sek_source, 'none') AS source, count(*) AS projects,
       coalesce(sum(esf_grant_sek), 0)::BIGINT AS esf_grant_sek
FROM projects GROUP BY ALL ORDER BY programme_period NULLS LAST, source"""

LIST_VIEWS = ("reconciliation", "list_coverage")
QUALITY_VIEW = "project_quality"  # arrives with the data-quality work; shown when present


@dataclass
class Result:
    """One query's columns and rows, with the SQL and parameters that made them."""
    sql: str
    params: dict[str, Any]
    columns: list[str]
    rows: list[tuple]

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]


@dataclass
class Section:
    """What the report shows for one period (None: all periods)."""
    period: str | None
    totals: Result
    charts: dict[str, Result] = field(default_factory=dict)


def run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> Result:
    """Run one query and keep its text with its answer."""
    params = params or {}
    cur = con.execute(sql, params) if params else con.execute(sql)
    return Result(sql.strip(), params, [d[0] for d in cur.description], cur.fetchall())


def period_section(con: duckdb.DuckDBPyConnection, period: str | None) -> Section:
    """The figures of one period (or of all)."""
    p = {"period": period}
    return Section(period, run(con, TOTALS, p), {
        "grant_by_region_area": run(con, GRANT_BY_REGION_AREA, p),
        "grant_by_year": run(con, GRANT_BY_YEAR, p),
        "top_organisations": run(con, TOP_ORGANISATIONS, p),
        "top_organisations_by_grant": run(con, TOP_ORGANISATIONS_BY_GRANT, p),
        "municipalities_per_county": run(con, MUNICIPALITIES_PER_COUNTY, p),
    })


def has_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return sql.has_view(con, name)


def run_section(con: duckdb.DuckDBPyConnection) -> dict[str, Result | None]:
    """The latest run, what it changed, and data quality (the quality view only where it exists)."""
    return {
        "latest_run": run(con, LATEST_RUN),
        "change_counts": run(con, LATEST_CHANGE_COUNTS),
        "changes": run(con, LATEST_CHANGES),
        "run_history": run(con, RUN_HISTORY),
        "reject_reasons": run(con, REJECT_REASONS),
        "warning_fields": run(con, WARNING_FIELDS),
        "quality": run(con, f"FROM {QUALITY_VIEW} LIMIT 20") if has_view(con, QUALITY_VIEW) else None,
    }


def lists_section(con: duckdb.DuckDBPyConnection) -> dict[str, Result] | None:
    """The project bank against the official lists: match rates, how rows were linked, agreement per field, the
    largest differences, and where each period's ESF grant comes from. None for a file from before the lists."""
    if not all(has_view(con, name) for name in LIST_VIEWS):
        return None
    return {
        "match_rates": run(con, LIST_MATCH_RATES),
        "link_methods": run(con, LIST_LINK_METHODS),
        "ambiguities": run(con, LIST_AMBIGUITIES),
        "status": run(con, LIST_STATUS),
        "largest_differences": run(con, LIST_LARGEST_DIFFERENCES),
        "grant_by_source": run(con, GRANT_BY_SOURCE),
    }


def periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [p for (p,) in con.execute(PERIODS_SQL).fetchall()]
