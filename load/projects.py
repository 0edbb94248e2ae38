"""Merge a run's validated records into the warehouse: new versions, history, child tables, in one transaction."""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from load.links import enrich, page_value, relink
from load.lists import merge_lists
from load.search import refresh_search
from load.summaries import refresh_summaries
from load.sql import transaction
from load.warehouse import Warehouse

from records.problems import ProblemRow
from records.run import RunCounts
from records.project import ANNOTATIONS, ENRICHED, PROJECT_COLUMNS, PROVENANCE

CHILD_TABLES = {"organisations": "project_organisations", "municipalities": "project_municipalities",
                "sections": "project_sections"}
ANNOTATION_UPDATE = ", ".join(f"{c} = i.{c}" for c in ANNOTATIONS)  # refreshed on unchanged rows too
# Columns a later release added to the record: while empty they leave a project's hash as it was, so an upgrade
# makes no new version of the projects whose pages do not write them.
ADDED_LATER = ("intervention_type",)
PROBLEM_COLUMNS = ["run_id", "source_key", "project_id", "stage", "field", "reason", "value", "row_number"]


class DuplicateKeys(ValueError):
    """Two records for one project in a run: caught before writing (DuckDB would keep one silently)."""


def record_hashes(projects: pd.DataFrame, children: dict[str, pd.DataFrame]) -> list[str]:
    """A hash per project of its parsed content and lists, so that unchanged pages write nothing."""
    rows_of: dict[str, list[Any]] = defaultdict(list[Any])
    for kind, df in children.items():
        for row in df.itertuples(index=False):
            rows_of[row.project_id].append([kind, *row])
    content = [c for c in projects.columns if c not in PROVENANCE and c not in ANNOTATIONS]
    hashes = []
    for rec in projects[content].itertuples(index=False):
        values = [v for name, v in zip(content, rec) if not (name in ADDED_LATER and (v is None or v != v))]
        payload = json.dumps([values, sorted(rows_of[rec.project_id], key=str)], default=str, ensure_ascii=False)
        hashes.append(hashlib.sha256(payload.encode()).hexdigest())
    return hashes


def load_run(wh: Warehouse, run_id: int, started: datetime, validated: Any,
             problems: list[ProblemRow], counts: RunCounts, same_bytes: Sequence[str] = ()) -> RunCounts:
    """Write everything for one run and its `runs` row in a single transaction; return the final counts.

    same_bytes: source keys whose page was read again with unchanged bytes (not parsed): seen, unchanged.
    """
    projects = validated.projects.copy()
    dupes = projects["project_id"][projects["project_id"].duplicated()]
    if not dupes.empty:
        raise DuplicateKeys(f"project_id given twice in one run: {', '.join(sorted(set(dupes))[:5])}")
    children = {kind: getattr(validated, kind) for kind in CHILD_TABLES}
    projects["record_hash"] = record_hashes(projects, children)
    con = wh.con
    con.register("inc_df", projects)
    try:
        with transaction(con):
            con.execute("""CREATE OR REPLACE TEMP TABLE inc AS SELECT * REPLACE (
                               start_date::DATE AS start_date, end_date::DATE AS end_date,
                               cofinancing_rate::DECIMAL(5, 4) AS cofinancing_rate) FROM inc_df""")
            con.execute("""CREATE OR REPLACE TEMP TABLE cls AS
                           SELECT i.project_id, p.first_seen,
                                  CASE WHEN p.project_id IS NULL THEN 'new'
                                       WHEN p.record_hash = i.record_hash THEN 'unchanged'
                                       ELSE 'changed' END AS kind
                           FROM inc i LEFT JOIN projects p USING (project_id)""")
            params = {"ts": started, "run": run_id}
            con.execute("""UPDATE project_versions SET valid_to = $ts WHERE valid_to IS NULL
                           AND project_id IN (SELECT project_id FROM cls WHERE kind = 'changed')""", {"ts": started})
            con.execute("""INSERT INTO project_versions BY NAME
                           SELECT i.*, coalesce(v.last_version, 0) + 1 AS version, $ts AS valid_from,
                                  NULL AS valid_to, $run AS run_id
                           FROM inc i JOIN cls USING (project_id)
                           LEFT JOIN (SELECT project_id, max(version) AS last_version FROM project_versions
                                      GROUP BY project_id) v USING (project_id)
                           WHERE cls.kind <> 'unchanged'""", params)
            con.execute("DELETE FROM projects WHERE project_id IN (SELECT project_id FROM cls WHERE kind = 'changed')")
            con.execute("""INSERT INTO projects BY NAME
                           SELECT i.*, coalesce(cls.first_seen, $ts) AS first_seen, $ts AS last_seen, $run AS run_id
                           FROM inc i JOIN cls USING (project_id) WHERE cls.kind <> 'unchanged'""", params)
            con.execute(f"""UPDATE projects SET last_seen = $ts, source_key = i.source_key, source_url = i.source_url,
                                   sha256 = i.sha256, {ANNOTATION_UPDATE}
                           FROM inc i JOIN cls USING (project_id)
                           WHERE projects.project_id = i.project_id AND cls.kind = 'unchanged'""", {"ts": started})
            for kind, table in CHILD_TABLES.items():
                con.register("child_df", children[kind])
                con.execute(f"DELETE FROM {table} WHERE project_id IN (SELECT project_id FROM cls WHERE kind = 'changed')")
                con.execute(f"""INSERT INTO {table} BY NAME SELECT c.*, $run AS run_id FROM child_df c
                                WHERE c.project_id IN (SELECT project_id FROM cls WHERE kind <> 'unchanged')""",
                            {"run": run_id})
                con.unregister("child_df")
            _complete_organisation_names(con)
            _replace_field_problems(con, run_id, getattr(validated, "field_problems", None))
            if same_bytes:
                con.execute("UPDATE projects SET last_seen = $ts WHERE list_contains($keys, source_key)",
                            {"ts": started, "keys": list(same_bytes)})
            # gone when every listed URL that led to the page is gone (an old address may 404 while the page lives)
            con.execute("""UPDATE projects SET gone_since = c.gone_since
                           FROM (SELECT source_key, CASE WHEN bool_and(gone_since IS NOT NULL) THEN min(gone_since) END
                                                    AS gone_since
                                 FROM crawl_state GROUP BY source_key) c
                           WHERE c.source_key = projects.source_key AND projects.gone_since IS DISTINCT FROM c.gone_since""")
            _insert_problems(wh, run_id, problems)
            kinds = dict(con.execute("SELECT kind, count(*) FROM cls GROUP BY kind").fetchall())
            merge_lists(con, run_id, started)  # the official lists staged by this run, if any
            relink(con, run_id)  # every load: projects and lists both change
            filled = enrich(con)
            if kinds.get("new") or kinds.get("changed") or filled:
                refresh_summaries(con, run_id)
            record_fill_rates(con, run_id)
            # every load: the changed pages, and the projects whose English texts a list or a link changed (a file
            # with no index, or one of an older format, is indexed whole)
            changed = [p for (p,) in con.execute("SELECT project_id FROM cls WHERE kind <> 'unchanged'").fetchall()]
            refresh_search(con, run_id, changed)
            final = counts.plus(new=kinds.get("new", 0), changed=kinds.get("changed", 0),
                                unchanged=kinds.get("unchanged", 0) + len(same_bytes))
            wh.finish_run(run_id, final.status, final)
    finally:
        con.unregister("inc_df")
    return final



def _complete_organisation_names(con: duckdb.DuckDBPyConnection) -> None:
    """Group names: a name the site cut at 30 characters takes the whole name where exactly one other
    page gives one with the same first 30 characters. Recomputed each run: a new page may complete it."""
    con.execute("UPDATE project_organisations SET organisation = name_normalized "
                "WHERE organisation IS DISTINCT FROM name_normalized AND (NOT truncated OR organisation IS NULL)")
    con.execute("""CREATE OR REPLACE TEMP TABLE completions AS
                   SELECT left(name, 30) AS cut, min(name_normalized) AS whole
                   FROM project_organisations WHERE NOT truncated AND length(name) > 30
                   GROUP BY 1 HAVING count(DISTINCT name_normalized) = 1""")
    con.execute("""UPDATE project_organisations SET organisation = coalesce(
                       (SELECT whole FROM completions c WHERE c.cut = project_organisations.name), name_normalized)
                   WHERE truncated""")


def _replace_field_problems(con: duckdb.DuckDBPyConnection, run_id: int, df: pd.DataFrame | None) -> None:
    """Each project parsed this run gets its missing and unreadable fields anew (unchanged projects too: a newer
    parser may read more of the same page)."""
    con.execute("DELETE FROM project_field_problems WHERE project_id IN (SELECT project_id FROM inc)")
    if df is None or df.empty:
        return
    con.register("fp_df", df.astype(object))
    try:
        con.execute("""INSERT INTO project_field_problems BY NAME
                       SELECT f.*, $run AS run_id FROM fp_df f WHERE f.project_id IN (SELECT project_id FROM inc)""",
                    {"run": run_id})
    finally:
        con.unregister("fp_df")


# The columns whose fill rate a run records: what the page gives (provenance and the count itself left out).
FILL_COLUMNS = tuple(c.name for c in PROJECT_COLUMNS if c.origin in ("page", "derived") and c.name not in ("project_id", "template"))


def record_fill_rates(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Per template and programme period: how many current projects have each column filled by their page (a
    value the official lists filled is not the page's)."""
    counts = ", ".join(f'count({page_value(c) if c in ENRICHED else c}) AS "{c}"' for c in FILL_COLUMNS)
    rows = con.execute(f"SELECT template, programme_period, count(*) AS n, {counts} FROM projects p "
                       "WHERE gone_since IS NULL GROUP BY ALL").fetchall()
    fill = [(run_id, t, p, column, n, filled) for t, p, n, *values in rows
            for column, filled in zip(FILL_COLUMNS, values)]
    if fill:
        con.executemany("INSERT INTO run_field_fill VALUES (?, ?, ?, ?, ?, ?)", fill)


def problem_frame(run_id: int, problems: Iterable[ProblemRow]) -> pd.DataFrame:
    """Problem records as rows of `rejects` or `warnings`, in PROBLEM_COLUMNS: the one place a record becomes a row."""
    rows = [{"run_id": run_id, "source_key": p.source_key, "project_id": p.project_id, "stage": p.stage,
             "field": p.field, "reason": p.reason, "value": p.value, "row_number": p.row_number} for p in problems]
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS).astype(object)


def _insert_problems(wh: Warehouse, run_id: int, problems: list[ProblemRow]) -> None:
    for table, wanted in (("rejects", "error"), ("warnings", "warning")):
        picked = [p for p in problems if p.severity == wanted]
        if picked:
            df = problem_frame(run_id, picked)
            wh.con.register("problem_df", df)
            wh.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM problem_df")
            wh.con.unregister("problem_df")
