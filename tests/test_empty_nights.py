"""A night that finds nothing, or far less than the last good night, has failed: nothing is published and
the source is named. A redesigned site, an empty folder and a start URL that is gone all look like this."""
from __future__ import annotations

import hashlib
import shutil
import subprocess

import duckdb
import pytest

from conftest import ROOT, SAMPLES, esf_command, esf_env
from demo.site import DemoSite
from extract.files import SourceError
from load import work_path_for
from service.run import RunSettings, SourceShrank, refresh

LISTING = "/resultat/projektbanken/"


def run(db, *sources, **kw):
    return refresh(RunSettings(db=str(db), sources=tuple(str(s) for s in sources),
                               politeness=_fast(), **kw))


def _fast():
    from extract.polite import Politeness
    return Politeness(delay_seconds=0.0, backoff_seconds=0.01, retries=1)


def last_run(db) -> tuple:
    con = duckdb.connect(str(work_path_for(db)), read_only=True)
    try:
        return con.execute("SELECT status, message FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()
    finally:
        con.close()


def digest(path) -> str:
    """The published data: every table's rows but `runs` (a night that publishes nothing still writes its
    `runs` row into the published file, load/runs_log.py)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                                            "AND table_name <> 'runs' ORDER BY 1").fetchall()]
        rows = [sorted(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables]
    finally:
        con.close()
    return hashlib.sha256(repr((tables, rows)).encode()).hexdigest()


def test_an_empty_folder_fails_the_run(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    db = tmp_path / "esf.duckdb"
    with pytest.raises(SourceShrank, match="yielded no project pages"):
        run(db, empty)
    assert not db.exists()
    assert last_run(db)[0] == "failed" and str(empty) in last_run(db)[1]


def test_a_folder_that_lost_most_of_its_pages_fails_unless_allowed(tmp_path):
    pages = tmp_path / "pages"
    shutil.copytree(SAMPLES, pages)
    db = tmp_path / "esf.duckdb"
    run(db, pages)
    published = digest(db)
    for path in sorted(pages.glob("*.txt"))[:7]:
        path.unlink()
    with pytest.raises(SourceShrank, match=r"yielded 6 project pages, fewer than half of the 13"):
        run(db, pages)
    assert digest(db) == published
    report = run(db, pages, allow_shrink=True)
    assert report.status == "succeeded" and report.counts.seen == 6


def test_the_last_good_night_is_the_measure_not_the_last_failed_one(tmp_path):
    pages = tmp_path / "pages"
    shutil.copytree(SAMPLES, pages)
    db = tmp_path / "esf.duckdb"
    run(db, pages)
    moved = tmp_path / "moved"
    moved.mkdir()
    for path in sorted(pages.glob("*"))[:8]:
        shutil.move(str(path), moved / path.name)
    with pytest.raises(SourceShrank):
        run(db, pages)
    with pytest.raises(SourceShrank):  # still measured against 13, not against the failed night's 5
        run(db, pages)


def test_a_redesigned_site_without_project_links_fails(tmp_path):
    db = tmp_path / "esf.duckdb"
    with DemoSite(30, seed=1) as site:
        run(db, site.url + LISTING)
        with pytest.raises(SourceShrank, match=r"/nyheter/ yielded no project pages"):
            run(db, site.url + "/nyheter/")  # a page of the site, but no project in it
        site.faults.unlisted = frozenset(range(20))  # the listing now shows a third of the projects
        with pytest.raises(SourceShrank, match="yielded 10 project pages, fewer than half of the 30"):
            run(db, site.url + LISTING)


@pytest.mark.parametrize("start", ["/finns-inte/", "/sitemap-99.xml"])
def test_a_start_url_that_is_gone_fails_the_run(tmp_path, start):
    db = tmp_path / "esf.duckdb"
    with DemoSite(5, seed=1) as site:
        with pytest.raises(SourceError, match=f"cannot read {site.url}{start}: HTTP 404"):
            run(db, site.url + start)
    assert not db.exists()


def test_the_command_names_the_source_and_exits_1(prefect_api, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = subprocess.run(esf_command() + ["run", "--source", str(empty), "--db", str(tmp_path / "esf.duckdb")],
                            cwd=ROOT, env=esf_env(prefect_api), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"esf: {empty} yielded no project pages (use --allow-shrink if that is expected); nothing new published")
    assert "Traceback" not in result.stderr
