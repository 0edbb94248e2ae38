"""The official lists in the warehouse (issue #18), through the run service (no Prefect): storage and history,
replay, unchanged files skipped, each link method, ambiguities listed, every reconciliation status, enrichment with
its source, coverage, problem rows with their row numbers. Pages and lists are small synthetic texts in the real
formats, written per test."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT
from service import run as service
from service.run import RunSettings

OPS_HEADINGS = ["Diarienummer / Operation ID", "Stödmottagare / Beneficiary",
                "Projektägare organisationsnummer / Beneficiary ID", "Projektägare ort / Beneficiary city",
                "Stödmottagarens land / Beneficiary country", "Namn på insatsen / Operation Name",
                "Programområde / Priority", "Specifikt mål / Specific objective concerned",
                "Interventionsområde / Intervention field", "Total projektbudget / Total budget SEK",
                "Unionens medfinansieringsgrad / Union co-financing rate", "EU-stöd i SEK / EU contribution SEK",
                "Sammanfattning / Summary", "Sammanfattning engelsk / Summary in english", "Startdatum / Start date",
                "Slutdatum / End date", "EU-fond / EU fund", "Program CCI / Program CCI"]
KOHESIO_HEADINGS = ["Operation_Unique_Identifier", "Operation_Local_Identifier", "Operation_Name_Programme_Language",
                    "Operation_Start_Date", "Operation_End_Date", "Total_Eligible_Expenditure_amount",
                    "Total_Eligible_Expenditure_Currency", "Project_EU_Budget", "Cofinancing_Rate", "Programme_Code",
                    "Programming_Period", "Category_Of_Intervention", "Beneficiary_Name",
                    "Beneficiary_Local_Identifier"]


def esf_plus_page(case: str, title: str, org: str, start: str = "2024-01-01", end: str = "2026-12-31") -> str:
    """An ESF+ page (template C): no amounts, as the site shows them."""
    return (f"{case} - {title}\n\nDiarienummer:\n{case}\nNamn:\n{title}\nStartdatum:\n{start}\nSlutdatum:\n{end}\n"
            f"Berörd fond:\nESF+\nProgram CCI:\n2021SE05SFPR\nProjektägare organisationsnummer:\n{org}\n"
            f"Projektägare:\nExempelkommunen\nUnionens medfinansieringsgrad:\n60%\nProgramområde:\nC\n"
            f"Specifikt mål:\nC1\nRegion:\nÖvre Norrland\nNUTS-2 kod:\nSE33\nInterventionstyp:\n163\n\n"
            f"Ett påhittat projekt för prov.\n")


def bank_page(case: str, title: str, grant: str, budget: str, start: str = "2016-01-01",
              end: str = "2018-12-31") -> str:
    """A 2014-2020 page (template C) with its amounts."""
    return (f"{case} - {title}\n\nProjektnummer:\n{case}\nProjektägare:\nExempelförbundet\nNamn:\n{title}\n"
            f"Region:\nStockholm\nProjektperiod:\n{start} - {end}\nTotal projektbudget:\n{budget}\n"
            f"Beviljat ESF-stöd:\n{grant}\nProgramområde:\n2\nSpecifikt mål:\n2.1\n"
            f"Unionens medfinansieringsgrad:\n50%\n\nEtt påhittat projekt för prov.\n")


def operations_csv(rows: list[dict[str, str]]) -> str:
    """The list of operations as ESF-rådet exports it: ';', bilingual headings, decimal commas."""
    lines = [";".join(OPS_HEADINGS)]
    for row in rows:
        values = {"Stödmottagarens land / Beneficiary country": "Sverige", "EU-fond / EU fund": "ESF+",
                  "Program CCI / Program CCI": "2021SE05SFPR001", "Programområde / Priority": "C", **row}
        lines.append(";".join(values.get(h, "") for h in OPS_HEADINGS))
    return "\n".join(lines) + "\n"


def ops_row(case: str, name: str, org: str, total: str, grant: str, start: str = "2024-01-01",
            end: str = "2026-12-31", **more: str) -> dict[str, str]:
    return {"Diarienummer / Operation ID": case, "Namn på insatsen / Operation Name": name,
            "Projektägare organisationsnummer / Beneficiary ID": org, "Total projektbudget / Total budget SEK": total,
            "EU-stöd i SEK / EU contribution SEK": grant, "Startdatum / Start date": start,
            "Slutdatum / End date": end, "Unionens medfinansieringsgrad / Union co-financing rate": "60 %",
            "Interventionsområde / Intervention field": "163", **more}


def kohesio_csv(rows: list[dict[str, str]]) -> str:
    lines = [",".join(KOHESIO_HEADINGS)]
    lines += [",".join(row.get(h, "") for h in KOHESIO_HEADINGS) for row in rows]
    return "\n".join(lines) + "\n"


def kohesio_row(item: str, local: str, name: str, org: str, total: str, grant: str, currency: str = "SEK",
                start: str = "2024-01-01", end: str = "2026-12-31", cci: str = "2021SE05SFPR001") -> dict[str, str]:
    return {"Operation_Unique_Identifier": f"https://linkedopendata.eu/entity/{item}",
            "Operation_Local_Identifier": local, "Operation_Name_Programme_Language": name,
            "Operation_Start_Date": start, "Operation_End_Date": end, "Total_Eligible_Expenditure_amount": total,
            "Total_Eligible_Expenditure_Currency": currency, "Project_EU_Budget": grant, "Cofinancing_Rate": "60.0",
            "Programme_Code": cci, "Category_Of_Intervention": "163.0", "Beneficiary_Local_Identifier": org}


@pytest.fixture
def site(tmp_path) -> Path:
    """Two ESF+ pages and one 2014-2020 page with amounts."""
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.txt").write_text(esf_plus_page("24-100-S01", "Första steget", "2120000001"), encoding="utf-8")
    (pages / "b.txt").write_text(esf_plus_page("24-200-S02", "Andra steget", "2120000002"), encoding="utf-8")
    (pages / "c.txt").write_text(bank_page("2016/00100", "Gamla bron", "1 000 000", "2 000 000"), encoding="utf-8")
    return pages


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def run(db: Path, *sources: Path, **kw):
    return service.refresh(RunSettings(db=str(db), sources=tuple(str(s) for s in sources), allow_shrink=True, **kw))


def query(db: Path, sql: str, *params):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def status_of(db: Path, project_id: str | None, source: str, field: str) -> tuple:
    where = "project_id IS NULL" if project_id is None else "project_id = ?"
    rows = query(db, f"SELECT bank_value, bank_value_source, source_value, difference, status FROM reconciliation "
                     f"WHERE {where} AND source = ? AND field = ?", *([project_id] if project_id else []), source, field)
    assert len(rows) == 1, rows
    return rows[0]


# --- storage and history -----------------------------------------------------------------------------------------

def test_a_list_is_stored_raw_and_its_rows_loaded_with_file_row_and_run(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00"),
        ops_row("24-200-S02", "Andra steget", "212000-0002", "2 000 000,00", "1 200 000,00")]))
    db = tmp_path / "esf.duckdb"
    report = run(db, site, ops)
    assert report.counts.lists == 1 and report.counts.accounted == report.counts.seen == 4
    assert query(db, "SELECT source_key, external_id, row_number, run_id, eu_grant FROM operations ORDER BY 3") == [
        ("ops.csv", "24-100-S01", 2, 1, 600000), ("ops.csv", "24-200-S02", 3, 1, 1200000)]
    raw = duckdb.connect(str(tmp_path / "esf.raw.duckdb"), read_only=True)
    assert raw.execute("SELECT count(*) FROM raw_pages WHERE source_key = 'ops.csv'").fetchone() == (1,)
    raw.close()
    assert query(db, "SELECT kind, rows_read FROM list_files") == [("operations", 2)]


def test_a_changed_row_gives_a_new_version_and_a_removed_row_is_closed(site, tmp_path):
    ops = tmp_path / "ops.csv"
    write(ops, operations_csv([ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00"),
                               ops_row("24-200-S02", "Andra steget", "212000-0002", "2 000 000,00", "1 200 000,00")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops)
    write(ops, operations_csv([ops_row("24-100-S01", "Första steget", "212000-0001", "1 100 000,00", "660 000,00")]))
    report = run(db, site, ops, rehash=True)
    (loaded,) = report.lists
    assert (loaded.new, loaded.changed, loaded.unchanged, loaded.removed) == (0, 1, 0, 1)
    assert query(db, "SELECT external_id, eu_grant FROM operations") == [("24-100-S01", 660000)]
    versions = query(db, "SELECT external_id, version, eu_grant, valid_to IS NULL FROM operation_versions ORDER BY 1, 2")
    assert versions == [("24-100-S01", 1, 600000, False), ("24-100-S01", 2, 660000, True),
                        ("24-200-S02", 1, 1200000, False)]
    # the project whose row left the list loses the values it had from it
    assert query(db, "SELECT esf_grant_sek, esf_grant_sek_source FROM projects WHERE project_id = '24-200-S02'") == [
        (None, None)]


def test_a_row_keeps_its_first_sighting_through_changes_and_follows_its_place_in_the_file(site, tmp_path):
    first = ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00")
    second = ops_row("24-200-S02", "Andra steget", "212000-0002", "2 000 000,00", "1 200 000,00")
    ops, db = tmp_path / "ops.csv", tmp_path / "esf.duckdb"
    write(ops, operations_csv([first, second]))
    run(db, site, ops)
    seen = "SELECT external_id, row_number, first_seen, last_seen, run_id FROM operations ORDER BY 1"
    (one, two) = query(db, seen)
    # night 2: the rows swap places and the second one's grant changes
    write(ops, operations_csv([{**second, "EU-stöd i SEK / EU contribution SEK": "1 250 000,00"}, first]))
    run(db, site, ops, rehash=True)
    (one2, two2) = query(db, seen)
    assert one2[:3] == ("24-100-S01", 3, one[2]) and one2[3] > one[3] and one2[4] == 1  # unchanged: no new version
    assert two2[:3] == ("24-200-S02", 2, two[2]) and two2[4] == 2  # changed: a new version, still first seen then
    # night 3: the second row leaves the file; night 4 it is back, as a new row with a new first sighting
    write(ops, operations_csv([first]))
    run(db, site, ops, rehash=True)
    assert [r[0] for r in query(db, seen)] == ["24-100-S01"]
    write(ops, operations_csv([first, second]))
    run(db, site, ops, rehash=True)
    back = query(db, seen)[1]
    assert back[0] == "24-200-S02" and back[2] > two[2] and back[4] == 4
    assert query(db, "SELECT version, valid_to IS NULL FROM operation_versions WHERE external_id = '24-200-S02' "
                     "ORDER BY 1") == [(1, False), (2, False), (3, True)]
    assert query(db, "SELECT count(*) FROM operations_current") == [(2,)]


def read(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[tuple], list[str]]:
    """A table's rows and its column names, in order."""
    got = con.execute(f"SELECT * FROM {table} ORDER BY occurrence")
    names = [d[0] for d in got.description]
    return got.fetchall(), names


def test_migration_015_keeps_the_current_rows_of_a_loaded_warehouse(tmp_path):
    """A warehouse of migration 014, whose operations and kohesio_operations were tables holding a copy of each
    current row, reads the same rows, column for column, from the views that replace them."""
    from load.migrate import load_migration, migrate, migration_files
    con = duckdb.connect(str(tmp_path / "v14.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER, name VARCHAR, applied_at TIMESTAMPTZ)")
    for path in migration_files():
        version = int(path.name.split("_", 1)[0])
        if version > 14:
            break
        if path.suffix == ".py":
            load_migration(path).upgrade(con)
        else:
            con.execute(path.read_text(encoding="utf-8"))
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, path.name])
    for table, versions in (("operations", "operation_versions"), ("kohesio_operations", "kohesio_operation_versions")):
        # a row on its second version (the first closed), and a duplicate of it further down the file
        con.execute(f"""INSERT INTO {versions} (source_key, external_id, occurrence, row_number, name, eu_grant,
                        sha256, run_id, version, valid_from, valid_to) VALUES
                        ('a.csv', 'X1', 1, 2, 'Förr', 10, 'h1', 1, 1, '2026-01-01', '2026-02-01'),
                        ('a.csv', 'X1', 1, 4, 'Nu', 12.5, 'h2', 2, 2, '2026-02-01', NULL),
                        ('a.csv', 'X1', 2, 9, 'Dubblett', NULL, 'h3', 1, 1, '2026-01-01', NULL)""")
        con.execute(f"""INSERT INTO {table} (source_key, external_id, occurrence, row_number, duplicate_of, name,
                        eu_grant, sha256, first_seen, last_seen, run_id) VALUES
                        ('a.csv', 'X1', 1, 3, NULL, 'Nu', 12.5, 'h2', '2026-01-01', '2026-03-01', 2),
                        ('a.csv', 'X1', 2, 7, 3, 'Dubblett', NULL, 'h3', '2026-01-01', '2026-03-01', 1)""")
    before = {table: read(con, table) for table in ("operations", "kohesio_operations")}
    assert 15 in migrate(con)
    for table, (rows, names) in before.items():
        assert read(con, table) == (rows, names) and len(rows) == 2
    assert con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'operations'"
                       ).fetchall() == [("VIEW",)]
    con.close()


def test_reprocess_replays_the_list_from_the_raw_store(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops)
    ops.unlink()
    report = service.reprocess(RunSettings(db=str(db)))
    assert report.counts.lists == 1 and report.lists[0].unchanged == 1
    assert query(db, "SELECT count(*) FROM operation_versions") == [(1,)]
    assert query(db, "SELECT esf_grant_sek, esf_grant_sek_source FROM projects WHERE project_id = '24-100-S01'") == [
        (600000, "operations")]


def test_an_unchanged_list_file_is_skipped_unread_and_nothing_changes(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops)
    before = query(db, "SELECT * FROM operations")
    import os
    import time
    old = time.time() - 10  # older than the racy window (a file written just now is read again), as downloads are
    for path in [ops, *site.iterdir()]:
        os.utime(path, (old, old))
    run(db, site, ops)  # stores the stats
    report = run(db, site, ops)
    assert report.counts.lists == 0 and report.counts.skipped == 4 and report.lists == []
    assert query(db, "SELECT * FROM operations") == before


def test_the_same_bytes_read_again_are_not_merged_again(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops)
    report = run(db, site, ops, rehash=True)
    assert report.counts.lists == 0 and report.counts.unchanged == 4


# --- matching ----------------------------------------------------------------------------------------------------

def test_rows_link_by_case_number_and_by_the_stated_fallback(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00")]))
    koh = write(tmp_path / "koh.csv", kohesio_csv([
        kohesio_row("Q1", "2021SE05SFPR001_24-100-S01", "Första steget", "2120000001", "1000000.00", "600000.00"),
        # no case number in the local identifier: organisation number + name (other case, punctuation) + start
        kohesio_row("Q2", "LOCAL-0002", "ANDRA  steget.", "2120000002", "2000000.00", "1200000.00")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops, koh)
    assert query(db, "SELECT project_id, source, external_id, method FROM project_links ORDER BY 1, 2") == [
        ("24-100-S01", "kohesio", "Q1", "case_number"), ("24-100-S01", "operations", "24-100-S01", "case_number"),
        ("24-200-S02", "kohesio", "Q2", "org_name_start")]


def test_the_fallback_needs_all_three_and_nothing_looser(site, tmp_path):
    koh = write(tmp_path / "koh.csv", kohesio_csv([
        kohesio_row("Q2", "LOCAL-0002", "Andra steget", "2120000002", "1", "1", start="2024-01-02")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, koh)
    assert query(db, "SELECT count(*) FROM project_links") == [(0,)]
    assert status_of(db, None, "kohesio", "start_date")[4] == "only in source"


def test_a_row_that_matches_two_projects_is_listed_not_linked(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    for name, case in (("x.txt", "24-300-S01"), ("y.txt", "24-300-S02")):  # same name, owner and start
        write(pages / name, esf_plus_page(case, "Tvillingen", "2120000003"))
    koh = write(tmp_path / "koh.csv", kohesio_csv([
        kohesio_row("Q3", "LOCAL-3", "Tvillingen", "2120000003", "1000.00", "500.00")]))
    db = tmp_path / "esf.duckdb"
    run(db, pages, koh)
    assert query(db, "SELECT count(*) FROM project_links") == [(0,)]
    assert query(db, "SELECT external_id, project_id, method FROM link_ambiguities ORDER BY 2") == [
        ("Q3", "24-300-S01", "org_name_start"), ("Q3", "24-300-S02", "org_name_start")]
    assert query(db, "SELECT count(esf_grant_sek) FROM projects") == [(0,)]


def test_a_case_number_twice_links_both_rows_uses_the_first_and_lists_the_second(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00"),
        ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "700 000,00")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops)
    assert query(db, "SELECT row_number, is_primary FROM project_links ORDER BY 1") == [(2, True), (3, False)]
    assert query(db, "SELECT row_number FROM link_ambiguities") == [(3,)]
    assert query(db, "SELECT esf_grant_sek FROM projects WHERE project_id = '24-100-S01'") == [(600000,)]


# --- reconciliation ----------------------------------------------------------------------------------------------

def test_each_reconciliation_status(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("2016/00100", "Gamla bron", "", "2 000 000,90", "1 000 500,00", start="2016-01-01", end="2018-12-31",
                **{"Programområde / Priority": "", "Program CCI / Program CCI": "2014SE05M9OP001"}),
        ops_row("24-900-S09", "Utan sida", "212000-0009", "5 000,00", "2 500,00")]))
    koh = write(tmp_path / "koh.csv", kohesio_csv([
        kohesio_row("Q9", "2014SE05M9OP001_2016/00100", "Gamla bron", "", "90000.00", "45000.00", currency="EUR",
                    start="2016-01-01", end="2018-12-31", cci="2014SE05M9OP001")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops, koh)
    assert status_of(db, "2016/00100", "operations", "total_budget_sek") == ("2000000", "page", "2000000.9", 0.9,
                                                                             "agrees")  # within 1 SEK
    assert status_of(db, "2016/00100", "operations", "esf_grant_sek") == ("1000000", "page", "1000500", 500.0,
                                                                          "differs")
    assert status_of(db, "2016/00100", "operations", "programme_area_code")[4] == "only in bank"
    assert status_of(db, "2016/00100", "kohesio", "esf_grant_sek") == ("1000000", "page", "45000", None,
                                                                       "not comparable")
    assert status_of(db, "2016/00100", "operations", "start_date")[4] == "agrees"
    assert status_of(db, None, "operations", "esf_grant_sek") == (None, None, "2500", None, "only in source")


def test_more_than_one_sek_apart_differs(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("2016/00100", "Gamla bron", "", "2 000 001,01", "999 999,00", start="2016-01-01", end="2018-12-31",
                **{"Program CCI / Program CCI": "2014SE05M9OP001"})]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops)
    assert status_of(db, "2016/00100", "operations", "total_budget_sek")[3:] == (1.01, "differs")
    assert status_of(db, "2016/00100", "operations", "esf_grant_sek")[3:] == (-1.0, "agrees")


# --- enrichment --------------------------------------------------------------------------------------------------

def test_esf_plus_amounts_are_filled_from_the_list_else_kohesio_in_sek_and_the_page_wins(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00"),
        ops_row("2016/00100", "Gamla bron", "", "9 999 999,00", "9 999 999,00", start="2016-01-01",
                end="2018-12-31", **{"Program CCI / Program CCI": "2014SE05M9OP001"})]))
    koh = write(tmp_path / "koh.csv", kohesio_csv([
        kohesio_row("Q1", "2021SE05SFPR001_24-100-S01", "Första steget", "2120000001", "1.00", "1.00"),
        kohesio_row("Q2", "2021SE05SFPR001_24-200-S02", "Andra steget", "2120000002", "2000000.00", "1200000.00")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops, koh)
    got = query(db, "SELECT project_id, esf_grant_sek, esf_grant_sek_source, total_budget_sek, total_budget_sek_source,"
                    " intervention_type, intervention_type_source FROM projects ORDER BY 1")
    assert got == [("2016/00100", 1000000, "page", 2000000, "page", "163", "operations"),
                   ("24-100-S01", 600000, "operations", 1000000, "operations", "163", "page"),
                   ("24-200-S02", 1200000, "kohesio", 2000000, "kohesio", "163", "page")]
    assert status_of(db, "2016/00100", "operations", "esf_grant_sek")[4] == "differs"
    assert status_of(db, "24-100-S01", "operations", "esf_grant_sek")[:2] == ("600000", "operations")
    assert status_of(db, "24-100-S01", "kohesio", "esf_grant_sek")[4] == "differs"
    # the summaries include the filled money
    assert query(db, "SELECT sum(esf_grant_sek) FROM region_summary") == [(2800000,)]
    assert query(db, "SELECT sum(esf_grant_sek) FROM organisation_activity WHERE role = 'owner'") == [(2800000,)]


def test_kohesio_in_eur_fills_nothing(site, tmp_path):
    koh = write(tmp_path / "koh.csv", kohesio_csv([
        kohesio_row("Q1", "2021SE05SFPR001_24-100-S01", "Första steget", "2120000001", "1000.00", "600.00",
                    currency="EUR")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, koh)
    assert query(db, "SELECT esf_grant_sek, esf_grant_sek_source FROM projects WHERE project_id = '24-100-S01'") == [
        (None, None)]


def test_filled_values_make_no_new_project_version_night_after_night(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops)
    for _ in range(2):
        report = run(db, site, ops, rehash=True)
        assert report.counts.changed == 0
    assert query(db, "SELECT count(*), max(version) FROM project_versions WHERE project_id = '24-100-S01'") == [(1, 1)]
    assert query(db, "SELECT esf_grant_sek FROM project_versions WHERE project_id = '24-100-S01'") == [(None,)]
    assert query(db, "SELECT esf_grant_sek_source FROM projects WHERE project_id = '24-100-S01'") == [("operations",)]


def test_fill_rates_count_what_the_page_gives_not_what_a_list_filled(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops)
    assert query(db, "SELECT filled FROM run_field_fill WHERE programme_period = '2021-2027' "
                     "AND field = 'esf_grant_sek'") == [(0,)]


# --- coverage and problems ---------------------------------------------------------------------------------------

def test_coverage_counts_rows_without_page_and_pages_without_row_per_period(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00"),
        ops_row("24-900-S09", "Utan sida", "212000-0009", "5 000,00", "2 500,00")]))
    db = tmp_path / "esf.duckdb"
    report = run(db, site, ops)
    assert query(db, "SELECT * FROM list_coverage") == [("operations", "2021-2027", 2, 1, 1, 2, 1)]
    assert report.quality.coverage == [("operations", "2021-2027", 2, 1, 1, 2, 1)]


def test_a_bad_row_is_a_reject_with_its_row_number_and_the_rest_loads(site, tmp_path):
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("", "Utan nummer", "212000-0001", "1,00", "1,00"),
        ops_row("24-100-S01", "Första steget", "212000-0001", "10^22", "600 000,00")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops)
    assert query(db, "SELECT stage, row_number FROM rejects WHERE source_key = 'ops.csv'") == [("list", 2)]
    assert query(db, "SELECT stage, field, row_number FROM warnings WHERE source_key = 'ops.csv'") == [
        ("list", "total_budget", 3)]
    assert query(db, "SELECT external_id FROM operations") == [("24-100-S01",)]


def test_a_missing_column_is_named_in_the_run_report(site, tmp_path):
    text = operations_csv([ops_row("24-100-S01", "Första steget", "212000-0001", "1,00", "1,00")])
    lines = [";".join(cells[:-1]) for cells in (line.split(";") for line in text.splitlines())]  # no CCI column
    ops = write(tmp_path / "ops.csv", "\n".join(lines) + "\n")
    db = tmp_path / "esf.duckdb"
    report = run(db, site, ops)
    assert report.lists[0].missing_columns == ["Program CCI / Program CCI"]
    assert query(db, "SELECT field, row_number FROM warnings WHERE source_key = 'ops.csv'") == [
        ("Program CCI / Program CCI", None)]
    from analyst.run_report import run_report
    assert "missing columns: Program CCI / Program CCI" in run_report(report)


def test_a_table_that_is_neither_list_fails_esf_run_up_front(tmp_path):
    table = write(tmp_path / "kommuner.csv", "Kommun;Län;Invånare\nKiruna;Norrbottens län;22 000\n")
    result = subprocess.run([sys.executable, "-m", "cli", "run", "--source", str(table), "--db",
                             str(tmp_path / "esf.duckdb")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") <= 2 and "kommuner.csv" in result.stderr and "Kommun" in result.stderr
    assert not (tmp_path / "esf.duckdb").exists()


def test_the_new_intervention_column_makes_no_version_of_a_page_without_it():
    import pandas as pd
    from load.projects import record_hashes
    old = pd.DataFrame([{"project_id": "2016/00100", "title": "Gamla bron", "esf_grant_sek": 1}])
    new = old.assign(intervention_type=[None])
    written = old.assign(intervention_type=["109"])
    assert record_hashes(new, {}) == record_hashes(old, {}) != record_hashes(written, {})


def test_the_samples_with_the_fixture_lists_in_both_formats(tmp_path):
    """The bundled samples, the 2015/00738 page and the lists-read fixtures (XLSX list of operations, CSV
    Kohesio): ESF+ amounts filled with their source, and 2015/00738's grant differs against Kohesio."""
    from conftest import FIXTURES, SAMPLES
    lists = FIXTURES / "lists"
    db = tmp_path / "esf.duckdb"
    report = run(db, SAMPLES, lists / "pages", lists / "operations.xlsx", lists / "kohesio.csv")
    assert report.counts.lists == 2 and report.status == "succeeded"
    assert query(db, "SELECT count(*) FROM projects WHERE programme_period = '2021-2027' "
                     "AND esf_grant_sek_source = 'operations'") == [(3,)]
    assert status_of(db, "2015/00738", "kohesio", "esf_grant_sek") == ("7623638", "page", "7657289.97", 33651.97,
                                                                       "differs")
    assert status_of(db, "2015/00738", "operations", "esf_grant_sek")[4] == "agrees"
    assert ("25-007-S01", "kohesio", "org_name_start") in query(db, "SELECT project_id, source, method FROM project_links")
    assert status_of(db, "2019/00512", "kohesio", "total_budget_sek")[4] == "not comparable"
    from analyst.report import write
    page = write(db, tmp_path / "report.html").read_text(encoding="utf-8")
    section = page[page.index("Project bank against the official lists"):page.index('<section class="runs">')]
    assert "7657289.97" in section and "7623638" in section  # the largest difference, both values
    assert "org_name_start" in section and 'id="lists-grant-source"' in section


def test_a_damaged_workbook_in_a_run_is_that_files_reject_and_the_pages_load(site, tmp_path):
    from conftest import FIXTURES
    db = tmp_path / "esf.duckdb"
    report = run(db, site, FIXTURES / "lists" / "truncated.xlsx")
    assert report.counts.rejected == 1 and report.counts.new == 3 and report.counts.accounted == report.counts.seen
    ((stage, reason),) = query(db, "SELECT stage, reason FROM rejects WHERE source_key = 'truncated.xlsx'")
    assert stage == "list" and "not a list of operations or a Kohesio export" in reason
    assert query(db, "SELECT count(*) FROM operations") == [(0,)]


def test_a_large_list_read_in_the_parse_pool_loads_as_one_read_here(site, tmp_path, monkeypatch):
    """Blocks of a large file go to the run's worker processes (here every file is 'large'): same rows, same
    problem rows, same links as a run that reads the file in its own process."""
    import service.lists
    rows = [ops_row(f"24-{i:03d}-S01", f"Steg {i}", f"212000-{i:04d}", f"{i} 000,00", "-" if i % 5 else "x")
            for i in range(1, 40)] + [ops_row("24-007-S01", "Steg 7 igen", "212000-0007", "1,00", "1,00")]
    ops = write(tmp_path / "ops.csv", operations_csv(rows))
    tables = "SELECT * EXCLUDE (run_id, first_seen, last_seen) FROM operations ORDER BY row_number"
    problems = "SELECT stage, field, row_number, reason FROM warnings ORDER BY ALL"
    got = {}
    for workers in (1, 2):
        monkeypatch.setattr(service.lists, "CHUNK_ROWS", 7)
        monkeypatch.setattr(service.lists, "IN_POOL_BYTES", 0)
        db = tmp_path / f"w{workers}" / "esf.duckdb"
        run(db, site, ops, parse_workers=workers)
        got[workers] = query(db, tables), query(db, problems), query(db, "SELECT * FROM project_links ORDER BY ALL")
    assert got[2] == got[1]
    assert len(got[1][0]) == 40 and any("also row" in reason for _, _, _, reason in got[1][1])


def test_the_pool_warms_up_for_a_large_new_list_only(site, tmp_path, monkeypatch):
    """A list the run will read in its pool starts the workers before the file is stored; the same bytes again
    (skipped unread) start none."""
    import service.lists
    from service.pool import ParsePool
    warmed: list[int] = []
    monkeypatch.setattr(service.lists, "IN_POOL_BYTES", 0)
    monkeypatch.setattr(ParsePool, "warm", lambda pool: warmed.append(pool.workers))
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00")]))
    db = tmp_path / "esf.duckdb"
    run(db, site, ops, parse_workers=2)
    assert warmed == [2]
    run(db, site, ops, parse_workers=2, rehash=True)
    assert warmed == [2]
    monkeypatch.setattr(service.lists, "IN_POOL_BYTES", 1 << 30)
    write(ops, operations_csv([ops_row("24-100-S01", "Första steget", "212000-0001", "1 000 000,00", "1,00")]))
    run(db, site, ops, parse_workers=2, rehash=True)
    assert warmed == [2]  # a small list is read in the run's process


def test_a_file_too_large_for_the_runs_memory_fails_alone_and_says_what_it_needs(site, tmp_path, monkeypatch):
    """DuckDB would fail the whole store (and the night) on a body its memory limit cannot hold: the file fails,
    saying which --memory it needs, and the pages publish."""
    import load.raw
    from load.raw import STORE_FACTOR, storable
    from records.pages import RawPage, now
    small = RawPage(source_key="ops.csv", url=None, fetched_at=now(), body=b"x" * 1000, http_status=None)
    assert storable([small], "256MB", {}) == [small]
    monkeypatch.setattr(load.raw, "STORE_FACTOR", 400_000)  # a 1 KB file then needs 400 MB
    (refused,) = storable([small], "256MB", {})
    assert storable([small], "256MB", {"ops.csv": small.sha256}) == [small]  # bytes held already: not stored again
    assert refused.failed and refused.source_key == "ops.csv" and refused.error == (
        "0 MB is more than the run's DuckDB memory (256MB) can store (about 400000x a file's size): not stored nor "
        "read; run with --memory 400MB or more (or ESF_DUCKDB_MEMORY)")
    assert STORE_FACTOR == 4
    ops = write(tmp_path / "ops.csv", operations_csv([
        ops_row(f"24-{i:03d}-S01", "Första steget", "212000-0001", "1 000 000,00", "600 000,00") for i in range(20)]))
    size = ops.stat().st_size
    assert all(page.stat().st_size < size // 2 for page in site.iterdir())
    monkeypatch.setattr(load.raw, "STORE_FACTOR", 256 * 10**6 // (size - 1))  # the list, not the pages, too large
    db = tmp_path / "esf.duckdb"
    report = run(db, site, ops, memory="256MB")
    assert report.counts.failed == 1 and report.counts.new == 3 and report.lists == [] and report.status == "rejects"
    assert query(db, "SELECT count(*) FROM operations") == [(0,)]
    (reason,) = query(db, "SELECT reason FROM rejects WHERE source_key = 'ops.csv'")[0]
    assert reason.startswith(f"{size / 1e6:,.0f} MB is more than the run's DuckDB memory (256MB) can store")
    raw = duckdb.connect(str(tmp_path / "esf.raw.duckdb"), read_only=True)
    assert raw.execute("SELECT count(*) FROM raw_pages WHERE source_key = 'ops.csv'").fetchone() == (0,)
    raw.close()
    # with the memory it asked for the file is stored and read; a later night under less memory reads it again
    # (--rehash) without storing it, and fails nothing
    assert run(db, site, ops, memory="1GB").lists[0].rows == 20
    again = run(db, site, ops, memory="256MB", rehash=True)
    assert again.counts.failed == 0 and again.status == "succeeded"
