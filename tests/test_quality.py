"""Never lose a project: what is rejected (no identity) and what loads partial; derivations with their source;
lenient readers; the one declaration of the columns; project_quality, run_field_fill and `esf quality`."""
from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import SAMPLES  # noqa: E402

from records.project import COLUMN, NAMES, PROJECT_COLUMNS, WAREHOUSE_COLUMNS  # noqa: E402
from records.run import RunCounts  # noqa: E402
from transform import parse_page  # noqa: E402
from transform.normalize import read_objective, read_participants  # noqa: E402


COFINANCING = "Unionens medfinansieringsgrad"


def c_page(fields: list[tuple[str, str]], heading: str = "2019/00777 - Fyrtornet") -> bytes:
    """A template C page (a 'Label:' line, then the value) with the given fields, ended, as C pages end them, by
    the co-financing rate unless the fields give it."""
    if COFINANCING not in dict(fields):
        fields = fields + [(COFINANCING, "50%")]
    lines = [heading, ""] + [line for label, value in fields for line in (f"{label}:", value)]
    return ("\n".join(lines) + "\n\nEtt påhittat projekt för testerna.\n").encode()


C_2014 = [("Projektnummer", "2019/00777"), ("Projektägare", "Fyrstads kommun"), ("Region", "Sydsverige"),
          ("Planerat antal deltagare", "100"), ("Projektperiod", "2020-01-01 - 2021-12-31"),
          ("Total projektbudget", "2 000 000"), ("Beviljat ESF-stöd", "1 000 000")]


def c_2014(changes: dict[str, str]) -> list[tuple[str, str]]:
    """C_2014 with some values changed in place (the fields keep the template's order)."""
    return [(label, changes.get(label, value)) for label, value in C_2014]


def warnings_of(page) -> list[tuple[str | None, str | None]]:
    """The page's warnings (notes, a lower level, left out)."""
    return [(p.field, p.kind) for p in page.problems if p.severity == "warning"]


# Derivations, each a named rule with its source

def test_area_from_a_written_objective_when_the_page_has_no_area_line():
    page = parse_page(c_page(C_2014 + [("Specifikt mål", "2.2")]), "c")
    assert page.ok and warnings_of(page) == []
    p = page.project
    assert (p["programme_area_code"], p["programme_area_source"], p["specific_objective"]) == ("2", "objective", "2.2")
    assert (p["programme_period"], p["programme_period_source"]) == ("2014-2020", "case_number")
    assert p["programme_area_name"] == "Öka övergångarna till arbete"


def test_a_bare_area_number_as_the_objective_gives_the_area():
    page = parse_page(c_page(C_2014 + [("Specifikt mål", "3")]), "c")
    p = page.project
    assert (p["programme_area_code"], p["programme_area_source"], p["specific_objective"]) == ("3", "objective", None)
    assert warnings_of(page) == [("specific_objective", "lenient")]


def test_esf_plus_area_from_its_objective():
    fields = [("Projektnummer", "24-555-S01"), ("Projektägare", "Fyrstads kommun"), ("Region", "Sydsverige"),
              ("Specifikt mål", "A2A")]
    page = parse_page(c_page(fields, "24-555-S01 - Fyrtornet"), "c")
    p = page.project
    assert (p["programme_area_code"], p["programme_area_source"], p["programme_period"]) == ("A", "objective", "2021-2027")


def test_a_derived_area_that_contradicts_the_written_one_warns_and_the_written_wins():
    page = parse_page(c_page(C_2014 + [("Programområde", "2"), ("Specifikt mål", "1.1")]), "c")
    assert page.ok
    assert (page.project["programme_area_code"], page.project["programme_area_source"]) == ("2", "page")
    assert ("programme_area_code", "conflict") in warnings_of(page)


def test_region_from_the_nuts_code_when_the_page_writes_no_region():
    fields = [f for f in C_2014 if f[0] != "Region"] + [("NUTS-2 kod", "SE23"), ("Programområde", "2"), ("Specifikt mål", "2.1")]
    page = parse_page(c_page(fields), "c")
    assert (page.project["region"], page.project["region_source"]) == ("Västsverige", "nuts_code")
    assert warnings_of(page) == []


def test_a_nuts_code_that_contradicts_the_region_warns_and_the_region_wins():
    page = parse_page(c_page(C_2014 + [("NUTS-2 kod", "SE23"), ("Programområde", "2"), ("Specifikt mål", "2.1")]), "c")
    assert (page.project["region"], page.project["region_code"], page.project["region_source"]) == \
        ("Sydsverige", "SE22", "page")
    assert warnings_of(page) == [("region_code", "conflict")]


def test_an_unknown_area_code_is_null_with_a_warning():
    page = parse_page(c_page(C_2014 + [("Programområde", "9")]), "c")
    assert page.ok and page.project["programme_area_code"] is None
    assert ("programme_area_code", "unreadable") in warnings_of(page)


# Lenient readers

def test_a_count_with_words_is_read_with_a_warning():
    page = parse_page(c_page(c_2014({"Planerat antal deltagare": "ca 120 personer"}) + [("Specifikt mål", "2.1")]), "c")
    assert page.project["planned_participants"] == 120
    assert warnings_of(page) == [("planned_participants", "lenient")]


@pytest.mark.parametrize("written", ["saknas", "-", "–", "uppgift saknas", ""])
def test_missing_written_as_a_word_is_null_without_a_warning_for_a_secondary_field(written):
    page = parse_page(c_page(c_2014({"Projektägare": written}) + [("Kontaktperson", written), ("Programområde", "2"),
                                                                ("Specifikt mål", "2.1")]), "c")
    assert page.ok and page.project["contact_name"] is None and page.project["owner"] is None
    assert warnings_of(page) == [("owner", "missing")]  # the owner: a field nearly every C page writes
    # the contact: a field its pages often leave out, a note (in project_quality as `absent`), not a warning
    assert [(p.field, p.severity, p.kind) for p in page.problems if p.field == "contact_name"] == \
        [("contact_name", "note", "absent")]


def test_template_a_glues_saknas_to_its_label():
    text = ("Testlyftet\nProgramområdeProgramområde 2 Ökat arbetskraftsutbud\nProjektfasGenomförande\n"
            "Projektägaresaknas\nBeviljat ESF-stöd100 000 kr\nTotal projektbudget200 000 kr\n"
            "Projektperiod2009-01-01 till 2010-12-31\nRegionVästsverige\n\nSammanfattning\nText.\n")
    page = parse_page(text.encode(), "a")
    assert page.ok and page.project["owner"] is None and page.project["phase"] == "Genomförande"
    assert warnings_of(page) == [("owner", "missing")]
    assert page.project["missing_fields"] == 1


@given(st.integers(0, 1_000_000), st.sampled_from(["ca ", "cirka ", "", "omkring "]),
       st.sampled_from([" personer", " deltagare", ""]))
def test_read_participants_keeps_the_number_whatever_words_stand_around_it(n, before, after):
    value, note = read_participants(f"{before}{n}{after}")
    assert value == n
    assert (note is None) == (not before and not after)


@given(st.sampled_from(["1.1", "2.2", "3.1", "A2A", "C1", "B1"]), st.text("abcdeåäö ", min_size=1, max_size=30))
def test_read_objective_drops_a_name_after_the_code(code, name):
    objective, area, note = read_objective(f"{code} Ö{name}")
    assert (objective, area) == (code, None) and note


def test_a_label_never_seen_before_after_the_last_known_one_is_a_warning_not_the_description():
    page = parse_page(c_page(C_2014 + [("Programområde", "2"), ("Specifikt mål", "2.1"), (COFINANCING, "50%"),
                                       ("Total Kostnader", "2 000 000")]), "c")
    assert page.ok and page.project["total_budget_sek"] == 2_000_000
    assert [(p.field, p.reason, p.value) for p in page.problems if p.severity == "warning"] == \
        [("Total Kostnader", "unknown label or stray line in the field block", "Total Kostnader:\n2 000 000")]
    assert [s["text"] for s in page.sections] == ["Ett påhittat projekt för testerna."]


def test_an_empty_last_field_does_not_take_the_first_paragraph_of_the_description():
    paragraph = "Fyrtornet samlar kommunerna längs kusten kring en gemensam väg till arbete. " * 6
    body = c_page(C_2014 + [("Programområde", "2"), ("Specifikt mål", "2.1"), (COFINANCING, "")]).replace(
        "Ett påhittat projekt för testerna.".encode(), paragraph.strip().encode())
    page = parse_page(body, "c")
    assert page.ok and page.project["cofinancing_rate"] is None
    assert warnings_of(page) == [("cofinancing_rate", "missing")]
    assert [s["text"] for s in page.sections] == [paragraph.strip()]


# Only a page without identity is rejected

def test_a_page_with_neither_case_number_nor_title_is_rejected():
    text = "Programområde\n2.1 Öka övergångarna till arbete\nRegion\nVästsverige\nProjektägare\nRegion Halland\n"
    page = parse_page(text.encode(), "anon")
    assert not page.ok and page.project is None
    assert [(p.field, p.reason) for p in page.problems if p.severity == "error"] == \
        [(None, "no identity: neither a case number nor a title on the page")]


def test_a_page_with_only_a_case_number_loads_partial():
    text = "Projektnummer\n2017/00345\nProjektägare\nRegion Halland\n"
    page = parse_page(text.encode(), "case-only")
    assert page.ok and page.project["project_id"] == "2017/00345" and page.project["title"] is None
    missing = {p.field for p in page.problems if p.kind == "missing"}
    assert {"title", "region", "esf_grant_sek", "start_date", "programme_area_code"} <= missing
    assert page.project["missing_fields"] == len(missing)


# One declaration of the columns

def test_the_record_builder_gives_exactly_the_declared_columns():
    page = parse_page((SAMPLES / "b-steget-vidare.txt").read_bytes(), "b")
    assert tuple(page.project) == NAMES


def test_the_sql_table_has_exactly_the_declared_columns():
    from load.migrate import migrate
    con = duckdb.connect()
    migrate(con)
    got = {name: (dtype, nullable == "YES") for name, dtype, nullable in con.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'projects'"
    ).fetchall()}
    declared = {c.name: (c.sql_type, not c.required) for c in (*PROJECT_COLUMNS, *WAREHOUSE_COLUMNS)}
    assert got == declared
    versions = {name for (name,) in con.execute("SELECT column_name FROM information_schema.columns "
                                                "WHERE table_name = 'project_versions'").fetchall()}
    assert set(NAMES) <= versions


def test_every_rule_is_on_a_declared_column_and_identity_rules_only_on_identity_columns():
    from schemas.models import IDENTITY_SCHEMA, REPORT_SCHEMA, column_checks
    assert set(column_checks()) <= set(COLUMN)
    assert set(IDENTITY_SCHEMA.columns) == set(REPORT_SCHEMA.columns) == set(NAMES)
    assert {n for n, col in IDENTITY_SCHEMA.columns.items() if col.checks} == \
        {c.name for c in PROJECT_COLUMNS if c.identity and column_checks().get(c.name)}
    ruled = {n for n, col in REPORT_SCHEMA.columns.items() if col.checks}
    assert ruled == {n for n in column_checks() if not COLUMN[n].identity}


# The warehouse: partial projects load and can be found; the quality report

def _page_dir(tmp_path: Path, name: str, pages: dict[str, bytes]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file, body in pages.items():
        (folder / file).write_bytes(body)
    return folder


@pytest.fixture(scope="module")
def quality_db(tmp_path_factory) -> Path:
    """Two runs: the samples, then the samples with one partial page, one page with a new label and one page
    without identity."""
    from service.run import RunSettings, refresh
    tmp = tmp_path_factory.mktemp("quality")
    db = tmp / "esf.duckdb"
    first = {p.name: p.read_bytes() for p in SAMPLES.iterdir() if p.suffix in (".txt", ".html")}
    refresh(RunSettings(db=str(db), sources=(str(_page_dir(tmp, "night1", first)),)))
    second = dict(first)
    second["partial.txt"] = c_page(C_2014[:1] + [("Specifikt mål", "2.2"), ("Beviljat ESF-stöd", "ca 5 milj kr"),
                                                  ("Planerat antal deltagare", "omkring 80 personer")])
    second["new-label.txt"] = c_page([("Projektnummer", "2019/00778")] + C_2014[1:]
                                     + [("Total Kostnader", "2 000 000"), ("Programområde", "2"),
                                        ("Specifikt mål", "2.1")],
                                     "2019/00778 - Nyckeln")
    second["anonymous.txt"] = b"Programomr\xc3\xa5de\n2.1\nRegion\nV\xc3\xa4stsverige\nProjekt\xc3\xa4gare\nX\n"
    report = refresh(RunSettings(db=str(db), sources=(str(_page_dir(tmp, "night2", second)),)))
    assert report.counts.new == 2 and report.counts.rejected == 1
    return db


def test_partial_project_loads_and_project_quality_says_why(quality_db):
    con = duckdb.connect(str(quality_db), read_only=True)
    row = con.execute("SELECT esf_grant_sek, planned_participants, programme_area_code, programme_area_source, "
                      "missing_fields FROM projects WHERE project_id = '2019/00777'").fetchone()
    assert row == (None, 80, "2", "objective", row[4]) and row[4] >= 5
    fields = dict(con.execute("SELECT field, status FROM project_quality WHERE project_id = '2019/00777'").fetchall())
    assert fields["esf_grant_sek"] == "unreadable" and fields["planned_participants"] == "lenient"
    assert fields["region"] == "missing" and fields["owner"] == "missing" and "title" not in fields
    assert con.execute("SELECT count(*) FROM projects WHERE missing_fields = 0").fetchone()[0] == 14
    con.close()


def test_esf_quality_compares_with_the_previous_run(quality_db):
    from cli import cli
    result = CliRunner().invoke(cli, ["quality", "--db", str(quality_db)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "quality of run 2 (compared with run 1):" in out
    line = next(x for x in out.splitlines() if x.split()[:3] == ["C", "2014-2020", "esf_grant_sek"])
    assert line.split()[3:] == ["4", "75.0", "%", "100.0", "%", "-25.0"]  # 3 of 4 now, 2 of 2 before
    assert "Total Kostnader  (e.g. " in out and "new-label.txt" in out
    assert "1 × no identity" in out
    assert "esf_grant_sek: not an exact amount in kronor" in out


def test_esf_quality_user_mistakes_are_one_line_and_exit_2(quality_db, tmp_path):
    from cli import cli
    for args in (["--db", str(tmp_path / "none.duckdb")], ["--db", str(quality_db), "--run", "99"]):
        result = CliRunner().invoke(cli, ["quality", *args])
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output


def test_run_report_has_a_quality_section(quality_db):
    from analyst.run_report import run_report
    from load.quality import quality_report
    from service.run import RunReport
    con = duckdb.connect(str(quality_db), read_only=True)
    report = RunReport(run_id=2, status="rejects", counts=RunCounts(seen=16), quality=quality_report(con))
    con.close()
    text = run_report(report)
    assert "quality of run 2 (compared with run 1):" in text and "labels never seen before:" in text
    assert "fill rates that moved 5 points or more:" in text
    markdown = run_report(report, markdown=True)
    assert "Total Kostnader" in markdown and "\\_" in markdown  # page text made inert in the artifact
    from load.quality import Quality
    moved = Quality(3, 2, fill=[("C", "2014-2020", "esf_grant_sek", 4, 50.0, 100.0)])
    text = run_report(RunReport(run_id=3, status="succeeded", quality=moved), markdown=True)
    assert "```\n" in text and "esf_grant_sek" in text and "-50.0" in text


def test_migration_009_opens_a_loaded_warehouse_of_the_version_before(tmp_path):
    """A warehouse at migration 008, with a project and the views of the time, upgrades in place."""
    from load.migrate import MIGRATIONS, load_migration as _load_module, migrate, migration_files
    con = duckdb.connect(str(tmp_path / "v8.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER, name VARCHAR, applied_at TIMESTAMPTZ)")
    for version, path in enumerate(migration_files()[:8], 1):
        if path.suffix == ".py":
            _load_module(path).upgrade(con)
        else:
            con.execute(path.read_text(encoding="utf-8"))
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, path.name])
    con.execute("CREATE VIEW old_view AS SELECT region, count(*) AS n FROM projects GROUP BY 1")
    con.execute("""INSERT INTO projects (project_id, title, programme_period, programme_area_code, region, region_code,
                   source_key, template, record_hash, first_seen, last_seen, run_id)
                   VALUES ('2015/00265', 'Gammalt', '2014-2020', '2', 'Stockholm', 'SE11', 'k', 'B', 'h', now(), now(), 1)""")
    later = [int(p.name.split("_", 1)[0]) for p in migration_files()[8:]]
    assert migrate(con) == later and later[0] == 9 and (MIGRATIONS / "009_field_quality.sql").is_file()
    assert con.execute("SELECT missing_fields, programme_area_source FROM projects").fetchall() == [(0, None)]
    con.execute("""INSERT INTO projects (project_id, source_key, template, record_hash, first_seen, last_seen, run_id)
                   VALUES ('2015/00266', 'k2', 'C', 'h', now(), now(), 2)""")  # a partial project fits now
    assert con.execute("SELECT count(*) FROM project_quality").fetchone() == (0,)
    con.close()


def test_annotations_are_refreshed_in_place_and_make_no_new_version(tmp_path):
    """A warehouse loaded before the source columns existed gets them on the next parse, without a new version."""
    from service.run import RunSettings, reprocess
    from service.run import refresh as run
    db = tmp_path / "esf.duckdb"
    pages = _page_dir(tmp_path, "pages", {"b.txt": (SAMPLES / "b-steget-vidare.txt").read_bytes()})
    run(RunSettings(db=str(db), sources=(str(pages),)))
    con = duckdb.connect(str(tmp_path / "esf.work.duckdb"))
    con.execute("UPDATE projects SET programme_area_source = NULL, region_source = NULL")
    con.close()
    report = reprocess(RunSettings(db=str(db)))
    assert (report.counts.changed, report.counts.unchanged) == (0, 1)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT programme_area_source, region_source FROM projects").fetchall() == [("page", "page")]
    assert con.execute("SELECT count(*) FROM project_versions").fetchone() == (1,)
    con.close()


def test_a_fault_in_the_quality_section_does_not_fail_the_night(tmp_path, monkeypatch, caplog):
    """The section is made after the load: if it cannot be made, the night still publishes, with a warning."""
    import service.run as run_module
    from service.run import RunSettings, refresh

    def broken(con, run_id=None, top=10):
        raise duckdb.CatalogException("Table with name run_field_fill does not exist!")

    monkeypatch.setattr(run_module, "quality_report", broken)
    db = tmp_path / "esf.duckdb"
    report = refresh(RunSettings(db=str(db), sources=(str(SAMPLES),)))
    assert report.status == "succeeded" and report.published and report.quality is None
    assert duckdb.connect(str(db), read_only=True).execute("SELECT count(*) FROM projects").fetchone()[0] == 13
    assert "quality section could not be made: CatalogException" in caplog.text


def test_migration_012_rekeys_text_pages_by_title_start_and_region(tmp_path):
    """A project keyed the old way (title + owner + start date) gets the key a parse gives it now, in every table
    that names it and in the search index, so the next load finds it instead of loading it anew."""
    from load.migrate import load_migration as _load_module, migrate, migration_files
    from service.run import RunSettings, refresh
    from transform.record import project_key
    db = tmp_path / "esf.duckdb"
    page = (SAMPLES / "a-hamnlyftet-blekinge.txt").read_bytes()
    refresh(RunSettings(db=str(db), sources=(str(_page_dir(tmp_path, "a", {"a.txt": page})),)))
    con = duckdb.connect(str(tmp_path / "esf.work.duckdb"))
    (new,) = con.execute("SELECT project_id FROM projects").fetchone()
    old = "k-0123456789abcdef"  # as a file from before 012 has it
    tables = ["projects", "project_versions", "project_organisations", "project_sections", "search_documents"]
    for table in tables:
        con.execute(f"UPDATE {table} SET project_id = ?", [old])
    con.execute("UPDATE fts_main_search_documents.docs SET name = ?", [old])
    con.execute("DELETE FROM schema_migrations WHERE version = 12")
    row = dict(zip(("title", "start_date", "region_code", "case_number", "source_url"), con.execute(
        "SELECT title, start_date, region_code, case_number, source_url FROM projects").fetchone()))
    assert migrate(con) == [12]
    for table in tables:
        assert con.execute(f"SELECT DISTINCT project_id FROM {table}").fetchall() == [(new,)], table
    assert con.execute("SELECT DISTINCT name FROM fts_main_search_documents.docs").fetchall() == [(new,)]
    assert new == project_key(row)  # the frozen rule gives the living one's key
    con.close()
    (tmp_path / "a" / "a.txt").write_bytes(page + b"\n")  # new bytes, parsed again: the same project
    report = refresh(RunSettings(db=str(db), sources=(str(tmp_path / "a"),), rehash=True))
    assert report.counts.new == 0
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT project_id, gone_since FROM projects").fetchall() == [(new, None)]
    con.close()
    frozen = _load_module(next(p for p in migration_files() if p.name.startswith("012")))
    assert frozen.text_key(row["title"], row["start_date"], row["region_code"]) == new
