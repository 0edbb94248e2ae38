"""The raw store: page bodies in a file of their own beside the warehouse, never published; an older
warehouse with bodies inside moves them there in place (migration 011)."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from conftest import SAMPLES
from load import Warehouse, work_path_for
from load import migrate as migrate_module
from load.migrate import load_migration as _load_module, migrate, migration_files
from load.warehouse import raw_path_for
from service import run as service
from service.run import RunSettings


def rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def old_warehouse(path: Path, pages: dict[str, bytes], monkeypatch) -> None:
    """A warehouse as release 008 left it: schema up to migration 008, bodies in its own raw_pages."""
    with monkeypatch.context() as m:
        m.setattr(migrate_module, "migration_files",
                  lambda: [p for p in migration_files() if int(p.name.split("_", 1)[0]) <= 8])
        m.setattr(migrate_module, "apply_views_and_comments", lambda con: None)  # today's views need 009+
        con = duckdb.connect(str(path))
        migrate(con)
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    con.execute("INSERT INTO runs (run_id, started_at, status) VALUES (1, ?, 'succeeded')", [start])
    for i, (key, body) in enumerate(pages.items()):  # two versions of the first page: history kept
        con.execute("INSERT INTO raw_pages VALUES (?, NULL, ?, NULL, NULL, NULL, 'text/plain', ?, ?, ?, 1)",
                    [key, start + timedelta(minutes=i), hashlib.sha256(body).hexdigest(), len(body), body])
    con.close()


@pytest.fixture
def samples() -> dict[str, bytes]:
    return {f"pages/{p.name}": p.read_bytes() for p in sorted(SAMPLES.glob("*.txt"))}


def test_an_older_warehouse_moves_its_bodies_to_the_raw_store_and_loses_nothing(tmp_path, samples, monkeypatch):
    db = tmp_path / "esf.duckdb"
    work = work_path_for(db)
    old_warehouse(work, samples, monkeypatch)
    before = sorted(rows(work, "SELECT source_key, fetched_at, sha256, body FROM raw_pages"))
    assert len(before) == len(samples)
    assert "Logotyp på utskrifter".encode() in work.read_bytes()

    report = service.reprocess(RunSettings(db=str(db)))  # migrates, then parses from the raw store

    assert report.status == "succeeded" and report.counts.new == len(samples)
    raw = raw_path_for(db)
    assert sorted(rows(raw, "SELECT source_key, fetched_at, sha256, body FROM raw_pages")) == before
    for table in (work, db):
        assert rows(table, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'raw_pages'") == [(0,)]
        assert rows(table, "SELECT max(version) FROM schema_migrations") >= [(11,)]
    assert "Logotyp på utskrifter".encode() not in db.read_bytes()  # no page text in the analysts' file


def test_a_migration_killed_after_the_copy_completes_without_doubling(tmp_path, samples, monkeypatch):
    """prepare() committed to the raw store, then the process died before the warehouse dropped its table."""
    work = tmp_path / "esf.work.duckdb"
    old_warehouse(work, samples, monkeypatch)
    module = _load_module(next(p for p in migration_files() if p.name.startswith("011_")))
    con = duckdb.connect(str(work))
    con.execute(f"ATTACH '{raw_path_for(work)}' AS raw")
    module.prepare(con)
    con.close()
    with Warehouse(work) as wh:
        assert wh.con.execute("SELECT count(*), count(DISTINCT source_key) FROM raw.raw_pages").fetchall() == \
            [(len(samples), len(samples))]
        assert wh.raw_missing is False


def test_the_published_file_holds_no_bodies_and_the_raw_store_is_not_published(tmp_path):
    corpus = tmp_path / "pages"
    shutil.copytree(SAMPLES, corpus)
    db = tmp_path / "esf.duckdb"
    service.refresh(RunSettings(db=str(db), sources=(str(corpus),)))
    assert sorted(p.name for p in tmp_path.glob("esf*.duckdb")) == ["esf.duckdb", "esf.raw.duckdb", "esf.work.duckdb"]
    body = (corpus / "b-steget-vidare.txt").read_bytes()
    assert rows(raw_path_for(db), "SELECT count(*) FROM raw_pages WHERE body = "
                                  f"from_hex('{body.hex()}')") == [(1,)]
    assert rows(db, "SELECT count(*) FROM duckdb_tables() WHERE table_name IN ('raw_pages', 'file_state')") == [(0,)]
    assert body[:200] not in db.read_bytes()


def test_a_lost_raw_store_is_said_and_made_anew(tmp_path):
    corpus = tmp_path / "pages"
    shutil.copytree(SAMPLES, corpus)
    db = tmp_path / "esf.duckdb"
    service.refresh(RunSettings(db=str(db), sources=(str(corpus),)))
    raw_path_for(db).unlink()
    report = service.refresh(RunSettings(db=str(db), sources=(str(corpus),)))
    assert any("esf.raw.duckdb was missing" in note for note in report.notes)
    assert report.counts.fetched == 13  # no stat to trust: every file read and stored again
    assert rows(raw_path_for(db), "SELECT count(*) FROM raw_pages") == [(13,)]


def openable_elsewhere(path: Path) -> bool:
    """Whether another process can open `path` for writing (nothing here still holds it)."""
    code = f"import duckdb; duckdb.connect({str(path)!r}).close()"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


@pytest.mark.parametrize("ending", [RuntimeError("disk on fire"), service.Interrupted("SIGTERM")])
def test_the_run_closes_the_raw_store_however_it_ends(tmp_path, monkeypatch, ending):
    corpus = tmp_path / "pages"
    shutil.copytree(SAMPLES, corpus)
    db = tmp_path / "esf.duckdb"

    def end(*args, **kwargs):
        raise ending
    monkeypatch.setattr(service, "load_run", end)
    with pytest.raises(type(ending)):
        service.refresh(RunSettings(db=str(db), sources=(str(corpus),)))
    assert openable_elsewhere(raw_path_for(db)) and openable_elsewhere(work_path_for(db))
    assert rows(raw_path_for(db), "SELECT count(*) FROM raw_pages") == [(13,)]  # stored before the load failed
    assert not db.exists()
