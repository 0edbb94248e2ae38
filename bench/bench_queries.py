"""Cross-project query speed on a synthetic warehouse of 100,000 projects (median of 5 runs per query).

    python bench/bench_queries.py [--projects 100000]

The warehouse is built with the real schema (migrations, views) and filled by SQL with plausible
values (30 nightly runs, 1 % of the projects changing each night), so the measurement is of DuckDB
and the views, not of parsing. Then the summary tables are rebuilt as a load does, and timed.
A query's time is from execute to every row fetched into Python (`fetchall`).
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench import machine  # noqa: E402
from load.summaries import refresh_summaries  # noqa: E402
from load.migrate import migrate  # noqa: E402

# Where a value came from when an official list filled it: columns of the current row only (load/links.py), not of
# its versions.
FILLED = ", ".join(f"{c}_source" for c in ("esf_grant_sek", "total_budget_sek", "cofinancing_rate", "owner_org_number",
                                           "intervention_type"))
FILL = """
INSERT INTO projects BY NAME
SELECT 'P' || i AS project_id, 'Projekt ' || i AS title, NULL AS case_number,
       ['2007-2013', '2014-2020', '2021-2027'][1 + i % 3] AS programme_period,
       CASE WHEN i % 3 = 2 THEN ['A', 'B', 'C'][1 + i % 3] ELSE CAST(1 + i % 2 AS VARCHAR) END AS programme_area_code,
       'Område' AS programme_area_name,
       'Ägare ' || (i % 5000) AS owner, 'Ägare ' || (i % 5000) AS owner_org,
       (100000 + hash(i) % 20000000)::BIGINT AS esf_grant_sek, (300000 + hash(i) % 40000000)::BIGINT AS total_budget_sek,
       DATE '2008-01-01' + CAST(i % 5000 AS INTEGER) AS start_date,
       DATE '2008-01-01' + CAST(i % 5000 + 365 + i % 900 AS INTEGER) AS end_date,
       r.region, r.code AS region_code, 'k' || i AS source_key, 'A' AS template, 'h' || i AS record_hash,
       TIMESTAMPTZ '2026-01-01' AS first_seen, TIMESTAMPTZ '2026-01-30' AS last_seen, 1 AS run_id
FROM range(?) t(i)
JOIN (VALUES (0, 'Stockholm', 'SE11'), (1, 'Östra Mellansverige', 'SE12'), (2, 'Småland och Öarna', 'SE21'),
             (3, 'Sydsverige', 'SE22'), (4, 'Västsverige', 'SE23'), (5, 'Norra Mellansverige', 'SE31'),
             (6, 'Mellersta Norrland', 'SE32'), (7, 'Övre Norrland', 'SE33'), (8, 'Nationellt', 'SE')) r(k, region, code)
  ON r.k = i % 9;
INSERT INTO project_versions BY NAME SELECT * EXCLUDE (first_seen, last_seen, gone_since, {FILLED}), 1 AS version, first_seen AS valid_from FROM projects;
INSERT INTO project_organisations (project_id, role, name, name_normalized, truncated, run_id, organisation)
SELECT project_id, ['owner', 'co_financier', 'partner', 'partner', 'partner'][1 + j], 'Org ' || (hash(project_id || j) % 20000),
       'Org ' || (hash(project_id || j) % 20000), false, 1, 'Org ' || (hash(project_id || j) % 20000)
FROM projects, range(5) s(j);
INSERT INTO project_municipalities (project_id, name_as_written, municipality_code, municipality, county, region_code, run_id)
SELECT project_id, m.name, m.code, m.name, 'Län', 'SE23', 1
FROM projects, range(3) s(j), (SELECT row_number() OVER () AS n, * FROM (VALUES ('1480', 'Göteborg'), ('1490', 'Borås'),
      ('1463', 'Mark'), ('1462', 'Lilla Edet'), ('1401', 'Härryda')) v(code, name)) m
WHERE m.n = 1 + (hash(project_id) + j) % 5;
INSERT INTO runs (run_id, started_at, status)
SELECT r, TIMESTAMPTZ '2026-01-01' + to_days(CAST(r - 1 AS INTEGER)), 'succeeded' FROM range(1, 31) t(r);
-- history: thirty nightly runs; from the second on, 1 % of the projects change each night (a larger grant)
CREATE TEMP TABLE changes AS
SELECT project_id, 2 + CAST(substr(project_id, 2) AS INTEGER) % 100 AS run_id
FROM projects WHERE CAST(substr(project_id, 2) AS INTEGER) % 100 < 29;
UPDATE project_versions SET valid_to = r.started_at
FROM changes c JOIN runs r USING (run_id) WHERE project_versions.project_id = c.project_id;
INSERT INTO project_versions BY NAME
SELECT p.* EXCLUDE (first_seen, last_seen, gone_since, run_id, esf_grant_sek, {FILLED}), p.esf_grant_sek + 100000 AS esf_grant_sek,
       c.run_id, 2 AS version, r.started_at AS valid_from
FROM projects p JOIN changes c USING (project_id) JOIN runs r ON r.run_id = c.run_id;
UPDATE projects SET esf_grant_sek = esf_grant_sek + 100000, run_id = c.run_id
FROM changes c WHERE projects.project_id = c.project_id;
""".replace("{FILLED}", FILLED)


def cookbook() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [m.strip() for m in re.findall(r"```sql\n(.*?)```", text, re.S)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--projects", type=int, default=100_000)
    a = ap.parse_args()
    path = Path(tempfile.mkdtemp(prefix="esf-q-")) / "q.duckdb"
    con = duckdb.connect(str(path))
    migrate(con)
    started = time.perf_counter()
    con.execute(FILL.replace("range(?)", f"range({a.projects})"))
    con.execute("CHECKPOINT")
    built = time.perf_counter() - started
    started = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    refresh_summaries(con, 30)
    con.execute("COMMIT")
    summaries = time.perf_counter() - started
    con.close()
    con = duckdb.connect(str(path), read_only=True)
    queries = [f"SELECT * FROM {v}" for v in ("programme_area_summary", "region_summary", "region_programme_matrix",
                                               "funding_by_year", "organisation_activity", "municipality_coverage",
                                               "recent_changes WHERE runs_ago < 5")] + cookbook()
    print(f"{a.projects:,} projects, built in {built:.1f} s; summary tables rebuilt in {summaries:.2f} s "
          f"(a load's cost). {machine()}\n")
    print("| query | rows | median ms |\n|---|---|---|")
    for sql in queries:
        times = []
        for _ in range(5):
            t = time.perf_counter()
            rows = con.execute(sql).fetchall()
            times.append((time.perf_counter() - t) * 1000)
        label = " ".join(sql.split())[:70]
        print(f"| `{label}` | {len(rows)} | {statistics.median(times):.1f} |")


if __name__ == "__main__":
    main()
