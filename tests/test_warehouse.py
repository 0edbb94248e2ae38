"""The warehouse through the run service (no Prefect): loads, history, idempotency, failures, locks, publishing.
One test goes through the Prefect flow, for its artifact."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from conftest import SAMPLES
from flows import pipeline
from service import run as service
from records.run import RUNS_COLUMNS, RunCounts
from service.run import RunSettings
from load import Warehouse, WarehouseBusy, work_path_for
from load.migrate import MIGRATIONS, migrate, migration_files
from load.warehouse import raw_path_for

TABLES = ["projects", "project_versions", "project_organisations", "project_municipalities",
          "project_sections", "runs", "rejects", "warnings", "organisation_activity", "municipality_coverage"]
VIEWS = ["programme_area_summary", "region_summary", "region_programme_matrix", "funding_by_year",
         "recent_changes"]


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A private copy of the bundled samples, free to change."""
    target = tmp_path / "pages"
    shutil.copytree(SAMPLES, target)
    return target


def run(corpus: Path, db: Path, **kw):
    return service.refresh(RunSettings(db=str(db), sources=(str(corpus),), **kw))


def raw_query(db: Path, sql: str, *params):
    """A query on the raw store beside the published file."""
    return query(raw_path_for(db), sql, *params)


def query(db: Path, sql: str, *params):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_first_run_loads_every_sample(corpus, tmp_path):
    db = tmp_path / "esf.duckdb"
    report = run(corpus, db)
    assert report.status == "succeeded"
    assert report.counts == RunCounts(seen=13, new=13, changed=0, unchanged=0, duplicates=0, rejected=0, failed=0,
                                      warnings=0, skipped=0, not_modified=0, gone=0, fetched=13)
    assert query(db, "SELECT count(*), count(DISTINCT project_id) FROM projects") == [(13, 13)]
    assert query(db, "SELECT count(*) FROM project_versions WHERE valid_to IS NULL") == [(13,)]
    assert raw_query(db, "SELECT count(*) FROM raw_pages") == [(13,)]
    assert query(db, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'raw_pages'") == [(0,)]
    assert query(db, "SELECT status, seen, new FROM runs") == [("succeeded", 13, 13)]


def test_the_runs_row_holds_the_run_counts(corpus, tmp_path):
    """Every count of the typed record has its `runs` column, written as the run counted it."""
    db = tmp_path / "esf.duckdb"
    (corpus / "not-a-project.html").write_text("<html><body><p>Om webbplatsen</p></body></html>", encoding="utf-8")
    report = run(corpus, db)
    (row,) = query(db, f"SELECT {', '.join(RUNS_COLUMNS)} FROM runs")
    assert dict(zip(RUNS_COLUMNS, row)) == {name: getattr(report.counts, name) for name in RUNS_COLUMNS}
    assert report.counts.rejected == 1 and report.status == report.counts.status == "rejects"
    assert report.counts.accounted == report.counts.seen == 14


def content(db: Path) -> dict[str, list]:
    """Every table's rows, less what a run is expected to touch (its own `runs` row, last_seen)."""
    out = {}
    for table in TABLES:
        if table == "runs":
            continue
        cols = [c for (c,) in query(db, "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                                        "AND column_name NOT IN ('last_seen', 'fetched_at') ORDER BY column_index", table)]
        out[table] = sorted(map(str, query(db, f"SELECT {', '.join(cols)} FROM {table}")))
    return out


def test_second_run_changes_nothing(corpus, tmp_path):
    db = tmp_path / "esf.duckdb"
    run(corpus, db)
    before = content(db)
    report = run(corpus, db)  # every file's stat is what it was: none is read
    assert (report.counts.new, report.counts.changed, report.counts.skipped, report.counts.fetched) == \
        (0, 0, 13, 0)
    assert content(db) == before
    report = run(corpus, db, rehash=True)  # every file read and hashed: same bytes
    assert (report.counts.new, report.counts.changed, report.counts.unchanged) == (0, 0, 13)
    assert query(db, "SELECT run_id, status FROM runs ORDER BY run_id") == \
        [(1, "succeeded"), (2, "succeeded"), (3, "succeeded")]


def test_changed_page_gives_a_new_version_and_keeps_the_old(corpus, tmp_path):
    db = tmp_path / "esf.duckdb"
    run(corpus, db)
    page = corpus / "b-steget-vidare.txt"
    page.write_text(page.read_text(encoding="utf-8").replace("2018-09-01-2021-08-31", "2018-09-01-2022-06-30"),
                    encoding="utf-8")
    report = run(corpus, db)
    assert (report.counts.changed, report.counts.skipped, report.counts.fetched) == (1, 12, 1)
    versions = query(db, """SELECT version, end_date::VARCHAR, valid_from = (SELECT started_at FROM runs WHERE run_id = 1),
                                   valid_to = (SELECT started_at FROM runs WHERE run_id = 2), valid_to IS NULL
                            FROM project_versions WHERE project_id = '2018/00074' ORDER BY version""")
    assert versions == [(1, "2021-08-31", True, True, False), (2, "2022-06-30", False, None, True)]
    assert query(db, "SELECT end_date::VARCHAR, run_id FROM projects WHERE project_id = '2018/00074'") == [("2022-06-30", 2)]
    assert raw_query(db, "SELECT count(*) FROM raw_pages WHERE source_key LIKE '%steget-vidare.txt'") == [(2,)]
    assert query(db, "SELECT change, previous_end_date::VARCHAR, end_date::VARCHAR FROM recent_changes "
                     "WHERE runs_ago = 0") == [("changed", "2021-08-31", "2022-06-30")]
    # the summary tables were rebuilt by the run that changed a project, and agree with the base tables
    assert query(db, "SELECT DISTINCT run_id FROM organisation_activity UNION SELECT DISTINCT run_id "
                     "FROM municipality_coverage") == [(2,)]
    assert query(db, FRESH_SUMMARIES) == []


FRESH_SUMMARIES = """
WITH fresh_org AS (SELECT organisation, role, count(*) AS projects, sum(esf_grant_sek) AS esf_grant_sek,
                          max(end_date) AS last_end
                   FROM (SELECT DISTINCT o.organisation, o.role, p.project_id, p.esf_grant_sek, p.end_date
                         FROM project_organisations o JOIN projects p USING (project_id)) GROUP BY ALL),
     fresh_muni AS (SELECT municipality_code, count(DISTINCT project_id) AS projects
                    FROM project_municipalities WHERE municipality_code IS NOT NULL GROUP BY ALL),
     org AS (SELECT organisation, role, projects, esf_grant_sek, last_end FROM organisation_activity),
     muni AS (SELECT municipality_code, projects FROM municipality_coverage)
SELECT 'org', * FROM ((FROM fresh_org EXCEPT FROM org) UNION ALL (FROM org EXCEPT FROM fresh_org))
UNION ALL
SELECT 'muni', *, NULL, NULL, NULL FROM ((FROM fresh_muni EXCEPT FROM muni) UNION ALL (FROM muni EXCEPT FROM fresh_muni))
"""


def test_junk_files_become_rejects_and_the_rest_loads(corpus, tmp_path):
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    (corpus / "news.html").write_text("<html><body><h1>Nyheter</h1><p>Inget projekt.</p></body></html>")
    db = tmp_path / "esf.duckdb"
    report = run(corpus, db)
    assert report.status == "rejects"
    c = report.counts.as_dict()
    assert (c["seen"], c["new"], c["rejected"]) == (16, 13, 3)
    assert c["seen"] == c["new"] + c["changed"] + c["unchanged"] + c["duplicates"] + c["rejected"] + c["failed"]
    rejects = query(db, "SELECT source_key, stage, reason FROM rejects ORDER BY source_key")
    assert [(k.split("/")[-1], s, r.split(":")[0]) for k, s, r in rejects] == [
        ("empty.txt", "parse", "empty page"), ("image.png", "parse", "not a text page"),
        ("news.html", "parse", "not a project page")]


def test_same_project_on_two_templates_keeps_the_newer_page(corpus, tmp_path):
    older = (corpus / "b-steget-vidare.txt").read_text(encoding="utf-8")
    newer = ("2018/00074 - Steget vidare\n\nProjektnummer:\n2018/00074\nProjektägare:\nStiftelsen Brobyggarna i "
             "Östergötland\nRegion:\nÖstra Mellansverige\nPlanerat antal deltagare:\n240\n"
             "Projektperiod:\n2018-09-01 - 2022-12-31\nTotal projektbudget:\n12 000 000\nBeviljat ESF-stöd:\n"
             "5 900 000\nProgramområde:\n2\nSpecifikt mål:\n2.2\nUnionens medfinansieringsgrad:\n50%\n\n"
             "Samma projekt på den nyare webbplatsen.\n")
    assert "2018/00074" in older
    (corpus / "z-steget-vidare-c.txt").write_text(newer, encoding="utf-8")
    db = tmp_path / "esf.duckdb"
    report = run(corpus, db)
    assert (report.counts.new, report.counts.duplicates, report.status) == (13, 1, "succeeded")
    assert query(db, "SELECT template, esf_grant_sek FROM projects WHERE project_id = '2018/00074'") == [("C", 5900000)]
    (warning,) = query(db, "SELECT source_key, stage FROM warnings")
    assert warning[0].endswith("b-steget-vidare.txt") and warning[1] == "dedupe"


def test_failed_run_publishes_nothing_and_says_so(corpus, tmp_path, monkeypatch):
    db = tmp_path / "esf.duckdb"
    run(corpus, db)
    published = hashlib.sha256(db.read_bytes()).hexdigest()

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(service, "load_run", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run(corpus, db)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == published
    con = duckdb.connect(str(work_path_for(db)), read_only=True)
    assert con.execute("SELECT status, message FROM runs WHERE run_id = 2").fetchall() == \
        [("failed", "RuntimeError: disk on fire")]
    assert con.execute("SELECT count(*) FROM projects").fetchall() == [(13,)]
    con.close()


def test_second_writer_stops_at_once(corpus, tmp_path):
    db = tmp_path / "esf.duckdb"
    with Warehouse(work_path_for(db)):
        started = time.monotonic()
        with pytest.raises(WarehouseBusy, match="another esf run"):
            run(corpus, db)
        assert time.monotonic() - started < 10


def test_killed_run_is_marked_aborted_by_the_next(corpus, tmp_path):
    db = tmp_path / "esf.duckdb"
    with Warehouse(work_path_for(db)) as wh:
        wh.start_run(["a run that was killed"])
    run(corpus, db)
    assert query(db, "SELECT run_id, status FROM runs ORDER BY run_id") == [(1, "aborted"), (2, "succeeded")]


def test_analyst_holding_the_database_open_does_not_block_the_run(corpus, tmp_path):
    db = tmp_path / "esf.duckdb"
    run(corpus, db)
    ready, results = tmp_path / "ready", tmp_path / "results"
    analyst = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, pathlib, time
        con = duckdb.connect({str(db)!r}, read_only=True)
        pathlib.Path({str(ready)!r}).touch()
        counts = [con.execute("SELECT count(*) FROM projects").fetchone()[0] for _ in range(3)]
        deadline = time.time() + 60
        while not pathlib.Path({str(results)!r} + ".go").exists() and time.time() < deadline:
            time.sleep(0.05)
        counts.append(con.execute("SELECT count(*) FROM projects").fetchone()[0])
        pathlib.Path({str(results)!r}).write_text(" ".join(map(str, counts)))
    """)])
    try:
        deadline = time.time() + 60
        while not ready.exists() and time.time() < deadline:
            time.sleep(0.05)
        (corpus / "a-hamnlyftet-blekinge.txt").unlink()
        extra = (corpus / "b-steget-vidare.txt").read_text(encoding="utf-8").replace("2018/00074", "2018/00075")
        (corpus / "b-extra.txt").write_text(extra, encoding="utf-8")
        report = run(corpus, db)
        assert report.status == "succeeded"
        Path(str(results) + ".go").touch()
        assert analyst.wait(timeout=60) == 0
    finally:
        analyst.kill()
    assert results.read_text() == "13 13 13 13"  # the analyst's view stayed consistent
    assert query(db, "SELECT count(*) FROM projects") == [(14,)]  # new readers see the new data


def test_older_warehouse_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER, name VARCHAR, applied_at TIMESTAMPTZ)")
    first = sorted(MIGRATIONS.glob("*.sql"))[0]
    con.execute(first.read_text(encoding="utf-8"))
    con.execute("INSERT INTO schema_migrations VALUES (1, ?, now())", [first.name])
    con.execute("INSERT INTO runs (run_id, started_at, status) VALUES (7, now(), 'succeeded')")
    con.close()
    with Warehouse(path) as wh:
        versions = [v for (v,) in wh.con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
        assert versions == [int(p.name.split("_", 1)[0]) for p in migration_files()]  # numbers may skip one
        assert wh.con.execute("SELECT run_id, warnings FROM runs").fetchall() == [(7, None)]
        assert wh.con.execute("SELECT count(*) FROM warnings").fetchall() == [(0,)]
    with Warehouse(path) as wh:  # opening again applies nothing twice
        assert migrate(wh.con) == []


def test_migration_rekeys_stored_web_pages_by_their_canonical_url(tmp_path):
    path = tmp_path / "v4.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER, name VARCHAR, applied_at TIMESTAMPTZ)")
    for version, file in enumerate(migration_files()[:4], 1):
        con.execute(file.read_text(encoding="utf-8"))
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, file.name])
    listed = "https://www.esf.se/gammal/Projektbanken-2014-2020/Alla-Projekt/Bron-7/"
    canonical = "https://www.esf.se/Projektbanken-2014-2020/Alla-Projekt/Bron-7/"
    pages = {listed: b"<html><head><link href='/Projektbanken-2014-2020/Alla-Projekt/Bron-7/' rel='canonical'>"
                     b"</head><body>Bron</body></html>",
             "https://www.esf.se/resultat/projektbanken/projekt/?dnr=2016/00001": b"<html><body>no link</body></html>",
             "pages/a.html": b"<link rel='canonical' href='https://www.esf.se/Projektbanken-2014-2020/Alla-Projekt/A/'>"}
    for key, body in pages.items():
        con.execute("INSERT INTO raw_pages VALUES (?, ?, now(), ?, NULL, NULL, NULL, ?, ?, ?, 1)",
                    [key, key.replace("/gammal", "") if key.startswith("http") else None,
                     200 if key.startswith("http") else None, hashlib.sha256(body).hexdigest(), len(body), body])
    con.execute("INSERT INTO crawl_state (source_key, url, http_status, last_checked_at, run_id) "
                "VALUES (?, ?, 200, now(), 1)", [listed, canonical])
    con.close()
    with Warehouse(path) as wh:
        keys = sorted(k for (k,) in wh.con.execute("SELECT source_key FROM raw.raw_pages").fetchall())
        state = wh.con.execute("SELECT listed_url, source_key FROM crawl_state").fetchall()
    # saved files keep their path key; a page without a canonical link keeps the URL it was fetched from
    assert keys == sorted([canonical, "https://www.esf.se/resultat/projektbanken/projekt/?dnr=2016/00001",
                           "pages/a.html"])
    assert state == [(listed, canonical)]


def test_every_table_view_and_column_has_a_comment(corpus, tmp_path):
    db = tmp_path / "esf.duckdb"
    run(corpus, db)
    objects = dict(query(db, "SELECT table_name, comment FROM duckdb_tables() UNION ALL "
                             "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal"))
    assert set(TABLES + VIEWS) <= set(objects)
    assert [name for name, comment in objects.items() if not comment] == []
    missing = query(db, "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal "
                        "AND (comment IS NULL OR comment = '')")
    assert missing == []
    raw = raw_query(db, "SELECT table_name, column_name, coalesce(comment, '') FROM duckdb_columns() "
                        "WHERE NOT internal")
    assert {t for t, _, _ in raw} == {"raw_pages", "file_state"}
    assert [(t, c) for t, c, comment in raw if not comment] == []


def test_views_do_not_double_count(corpus, tmp_path):
    db = tmp_path / "esf.duckdb"
    run(corpus, db)
    projects, grant = query(db, "SELECT count(*), sum(esf_grant_sek) FROM projects")[0]
    for view in ("programme_area_summary", "region_summary", "region_programme_matrix"):
        assert query(db, f"SELECT sum(projects), sum(esf_grant_sek) FROM {view}") == [(projects, grant)]
    (by_year,) = query(db, "SELECT sum(esf_grant_sek) FROM funding_by_year")[0]
    assert abs(by_year - grant) <= 20  # rounding per year and group only
    owners = query(db, "SELECT sum(projects) FROM organisation_activity WHERE role = 'owner'")[0][0]
    assert owners == projects


def test_without_contacts_leaves_no_trace_in_the_published_file(corpus, tmp_path):
    db = tmp_path / "esf.duckdb"
    run(corpus, db, without_contacts=True)
    assert query(db, "SELECT count(contact_name), count(contact_email), count(contact_phone) FROM projects") == [(0, 0, 0)]
    assert query(db, "SELECT count(*) FROM projects") == [(13,)]
    assert b"exempel.se" not in db.read_bytes()
    assert b"exempel.se" in work_path_for(db).read_bytes()  # the run's own file keeps them


def test_reprocess_rebuilds_from_the_raw_store_without_sources(corpus, tmp_path):
    db = tmp_path / "esf.duckdb"
    run(corpus, db)
    shutil.rmtree(corpus)  # no files, no network: only raw_pages
    report = service.reprocess(RunSettings(db=str(db)))
    assert report.status == "succeeded"
    assert (report.counts.seen, report.counts.unchanged, report.counts.fetched) == (13, 13, 0)
    assert query(db, "SELECT count(*) FROM projects") == [(13,)]


def test_truncated_names_are_completed_from_another_page(corpus, tmp_path):
    assert " • Socialförvaltningen, Ekonomisk\n" in (corpus / "a-framtidsvagen-alvdalen.txt").read_text(encoding="utf-8")
    page = (corpus / "a-hamnlyftet-blekinge.txt").read_text(encoding="utf-8")
    extra = page.replace("Hamnlyftet Blekinge", "Hamnlyftet Väst").replace("Samarbetspartners\n",
                         "Samarbetspartners\n\n • Socialförvaltningen, Ekonomiskt bistånd Alingsås\n", 1)
    (corpus / "a-extra.txt").write_text(extra, encoding="utf-8")
    db = tmp_path / "esf.duckdb"
    run(corpus, db)
    truncated = query(db, "SELECT name FROM project_organisations WHERE name = 'Socialförvaltningen, Ekonomisk'")
    assert truncated and query(db, "SELECT truncated FROM project_organisations "
                                   "WHERE name = 'Socialförvaltningen, Ekonomisk' LIMIT 1") == [(True,)]
    grouped = query(db, "SELECT organisation, projects FROM organisation_activity "
                        "WHERE role = 'partner' AND organisation LIKE 'Socialförvaltningen, Ekonomisk%'")
    assert grouped == [("Socialförvaltningen, Ekonomiskt bistånd Alingsås", 2)]


def test_run_report_is_filed_as_a_prefect_artifact(prefect_api, corpus, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    report = pipeline.refresh(sources=[str(corpus)], db=str(tmp_path / "esf.duckdb"))
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["esf-run-report"])))
    assert artifacts, "no esf-run-report artifact"
    latest = max(artifacts, key=lambda a: a.created)
    assert f"Run {report.run_id}: succeeded" in latest.data
    assert "pages seen 13 = new 13" in latest.data


def test_when_the_rollback_fails_too_the_first_error_is_raised():
    from load.sql import transaction

    class Con:  # a connection whose transaction a full disk already ended
        def execute(self, sql):
            if sql == "ROLLBACK":
                raise duckdb.TransactionException("cannot rollback - no transaction is active")
    with pytest.raises(duckdb.IOException, match="No space left on device"):
        with transaction(Con()):
            raise duckdb.IOException("could not write file: No space left on device")


def test_a_full_disk_is_named_as_such(tmp_path):
    """A 3 MB file system for the warehouse and 300 pages to store: the run fails naming the full disk."""
    from demo.generator import page
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root): the full-disk case is not tried")
    try:
        pages = tmp_path / "pages"
        pages.mkdir()
        for i in range(300):
            (pages / f"p{i:03d}.html").write_text(page(i, seed=3).html, encoding="utf-8")
        with pytest.raises(Exception) as failure:
            service.refresh(RunSettings(db=str(disk / "esf.duckdb"), sources=(str(pages),), batch_size=50))
        assert "No space left on device" in str(failure.value)
        assert "no transaction is active" not in str(failure.value)
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_migrations_are_frozen_they_import_no_living_code():
    """A migration carries its own copy of what it runs: an old file must upgrade the same way whatever
    later releases change in extract/, transform/, load/ or schemas/."""
    import ast
    for path in migration_files():
        if path.suffix != ".py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | \
            {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not imported & {"extract", "transform", "load", "schemas", "service", "flows"}, path.name
        assert "read_text" not in path.read_text(encoding="utf-8"), f"{path.name} reads a living file"


def test_the_memory_limit_is_the_runs_setting_not_the_environment(tmp_path, monkeypatch):
    """The CLI resolves --memory / $ESF_DUCKDB_MEMORY into the run's settings; the warehouse reads no environment."""
    from load.warehouse import memory_limit
    monkeypatch.setenv("ESF_DUCKDB_MEMORY", "300MB")
    with Warehouse(tmp_path / "a.duckdb", memory="600MB") as wh:
        given = wh.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    with Warehouse(tmp_path / "b.duckdb") as wh:
        default = wh.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert given == "572.2 MiB"  # 600 MB, as DuckDB shows it
    assert wh.memory == memory_limit() != "300MB" and default != "286.1 MiB"  # the machine's default, not $ESF_…
