"""Every summary view and table adds up to `projects` to the krona: the totals of the views grouped by project
columns equal the sums over `projects`; each row of the two summary tables equals its sum over the base tables."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from conftest import SAMPLES
from service import run as service
from service.run import RunSettings


@pytest.fixture(scope="module")
def con(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    db = tmp_path_factory.mktemp("summaries") / "esf.duckdb"
    service.refresh(RunSettings(db=str(db), sources=(str(SAMPLES),)))
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def one(con, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchone()


@pytest.mark.parametrize("view", ["programme_area_summary", "region_summary", "region_programme_matrix"])
def test_a_grouped_view_adds_up_to_projects(con, view):
    assert one(con, f"SELECT sum(projects), sum(esf_grant_sek), sum(total_budget_sek) FROM {view}") == \
        one(con, "SELECT count(*), sum(esf_grant_sek), sum(total_budget_sek) FROM projects")


def test_funding_by_year_adds_up_to_projects_to_the_krona(con):
    total = one(con, "SELECT sum(esf_grant_sek) FROM projects")[0]
    assert total and one(con, "SELECT sum(esf_grant_sek) FROM funding_by_year")[0] == total


def test_funding_by_year_gives_each_project_its_grant_in_whole_kronor(con):
    """Per project (the view's own rule, one project at a time): the years add up to its grant, and no year is
    more than one krona from its exact pro-rata share."""
    for (project_id,) in con.execute("SELECT project_id FROM projects WHERE esf_grant_sek IS NOT NULL").fetchall():
        rows = con.execute("""
            WITH p AS (SELECT * FROM projects WHERE project_id = ?),
                 y AS (SELECT unnest(range(year(start_date), year(end_date) + 1)) AS year FROM p)
            SELECT y.year, p.esf_grant_sek * (least(p.end_date, make_date(y.year, 12, 31))
                       - greatest(p.start_date, make_date(y.year, 1, 1)) + 1) / (p.end_date - p.start_date + 1)
            FROM p, y""", [project_id]).fetchall()
        view = dict(con.execute("""SELECT f.year, f.esf_grant_sek FROM funding_by_year f
                                   JOIN projects p USING (region, programme_period, programme_area_code)
                                   WHERE p.project_id = ? AND f.projects_running = 1""", [project_id]).fetchall())
        exact = dict(rows)
        for year, share in exact.items():
            if year in view:  # a year this project shares with no other project of its region and period
                assert abs(view[year] - share) < 1, (project_id, year)


def test_an_undated_project_is_one_row_with_no_year(con, tmp_path):
    db = Path(con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0])
    copy = tmp_path / "esf.duckdb"
    copy.write_bytes(db.read_bytes())
    w = duckdb.connect(str(copy))
    try:
        pid, grant = one(w, "SELECT project_id, esf_grant_sek FROM projects WHERE esf_grant_sek IS NOT NULL LIMIT 1")
        w.execute("UPDATE projects SET start_date = NULL WHERE project_id = ?", [pid])
        assert one(w, "SELECT sum(esf_grant_sek) FROM funding_by_year")[0] == one(w, "SELECT sum(esf_grant_sek) FROM projects")[0]
        assert one(w, "SELECT sum(esf_grant_sek) FROM funding_by_year WHERE year IS NULL")[0] == grant
    finally:
        w.close()


def test_organisation_activity_rows_are_their_projects_sums(con):
    differs = con.execute("""
        WITH expected AS (
            SELECT o.organisation, o.role, count(*) AS projects, sum(p.esf_grant_sek) AS esf_grant_sek,
                   sum(p.total_budget_sek) AS total_budget_sek
            FROM (SELECT DISTINCT project_id, role, organisation FROM project_organisations) o JOIN projects p USING (project_id)
            GROUP BY ALL)
        SELECT * FROM expected FULL JOIN organisation_activity a USING (organisation, role)
        WHERE a.projects IS DISTINCT FROM expected.projects OR a.esf_grant_sek IS DISTINCT FROM expected.esf_grant_sek
           OR a.total_budget_sek IS DISTINCT FROM expected.total_budget_sek""").fetchall()
    assert one(con, "SELECT count(*) FROM organisation_activity")[0] > 0 and differs == []
    # the owners: one a project, so their total is the total of the projects that name an owner organisation
    assert one(con, "SELECT sum(esf_grant_sek) FROM organisation_activity WHERE role = 'owner'") == \
        one(con, "SELECT sum(esf_grant_sek) FROM projects WHERE project_id IN "
                 "(SELECT project_id FROM project_organisations WHERE role = 'owner')")


def test_municipality_coverage_rows_are_their_projects_sums(con):
    differs = con.execute("""
        WITH expected AS (
            SELECT m.municipality_code, count(DISTINCT m.project_id) AS projects,
                   sum(p.esf_grant_sek) AS esf_grant_sek_of_projects
            FROM (SELECT DISTINCT project_id, municipality_code FROM project_municipalities
                  WHERE municipality_code IS NOT NULL) m JOIN projects p USING (project_id)
            GROUP BY ALL)
        SELECT * FROM expected FULL JOIN municipality_coverage c USING (municipality_code)
        WHERE c.projects IS DISTINCT FROM expected.projects
           OR c.esf_grant_sek_of_projects IS DISTINCT FROM expected.esf_grant_sek_of_projects""").fetchall()
    assert one(con, "SELECT count(*) FROM municipality_coverage")[0] > 0 and differs == []
