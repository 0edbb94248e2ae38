"""A start that just works for analysts: `esf --version`, one schema for contact-free exports, the documented
read_parquet call, the data dictionary page, and the pandas/Polars example with its same-process cache."""
from __future__ import annotations

import html
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from conftest import ROOT, SAMPLES
from cli import cli
from service import run as service
from service.run import RunSettings

CONTACTS = ("contact_name", "contact_email", "contact_phone")


@pytest.fixture(scope="module")
def dbs(tmp_path_factory) -> dict[str, Path]:
    """The samples published twice: with contacts, and by `run --without-contacts`."""
    base = tmp_path_factory.mktemp("start")
    out = {}
    for name, without in (("full", False), ("no-contacts", True)):
        db = base / name / "esf.duckdb"
        service.refresh(RunSettings(db=str(db), sources=(str(SAMPLES),), without_contacts=without))
        out[name] = db
    return out


def export(db: Path, out: Path, *extra: str) -> Path:
    result = CliRunner().invoke(cli, ["export", "--db", str(db), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


def columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    from importlib.metadata import version
    assert result.output.strip() == f"esf {version('esf-projektbanken')}"


def test_contact_free_exports_have_one_schema(dbs, tmp_path):
    """export --without-contacts and an export of a `run --without-contacts` file: same columns, no contacts."""
    a = export(dbs["full"], tmp_path / "a", "--without-contacts")
    b = export(dbs["no-contacts"], tmp_path / "b")
    c = export(dbs["full"], tmp_path / "c")
    con = duckdb.connect()
    for table in ("projects", "project_versions"):
        read = {k: f"read_parquet('{d}/{table}/**/*.parquet', hive_partitioning = true)" for k, d in
                (("a", a), ("b", b), ("c", c))}
        assert columns(con, read["a"]) == columns(con, read["b"]) == columns(con, read["c"])
        assert {c for c, _ in columns(con, read["a"])} >= set(CONTACTS)
        for k in ("a", "b"):
            assert con.execute(f"SELECT count(contact_name) + count(contact_email) + count(contact_phone) "
                               f"FROM {read[k]}").fetchone() == (0,)
        assert con.execute(f"SELECT count(contact_email) FROM {read['c']}").fetchone()[0] > 0
    assert b"exempel.se" not in b"".join(p.read_bytes() for p in a.rglob("*.parquet"))


def test_the_readme_read_parquet_call_reads_the_export(dbs, tmp_path, monkeypatch):
    """The exact call the README gives, run in a folder holding `export/`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    calls = re.findall(r"read_parquet\('export/[^']+', hive_partitioning ?= ?true\)", readme)
    assert calls, "the README gives no read_parquet call for the export"
    export(dbs["full"], tmp_path / "export")
    monkeypatch.chdir(tmp_path)
    con = duckdb.connect()
    (projects,) = duckdb.connect(str(dbs["full"]), read_only=True).execute("SELECT count(*) FROM projects").fetchone()
    for call in calls:
        count, periods = con.execute(f"SELECT count(*), count(DISTINCT programme_period) FROM {call}").fetchone()
        assert periods == 3 and count >= projects


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_describe_writes_the_data_dictionary_page(dbs, tmp_path, fmt):
    out = tmp_path / f"dictionary.{fmt}"
    result = CliRunner().invoke(cli, ["describe", "--db", str(dbs["full"]), "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    con = duckdb.connect(str(dbs["full"]), read_only=True)
    tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()
    views = [v for (v,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
    for (name,) in tables:
        (rows,) = con.execute(f"SELECT count(*) FROM {name}").fetchone()
        heading = f"## {name}" if fmt == "markdown" else f'<h2>{name}</h2>'
        assert heading in text
        assert f"{rows:,} rows" in text
    assert all(v in text for v in views)
    (title,) = con.execute("SELECT title FROM projects ORDER BY rowid LIMIT 1").fetchone()
    assert title in text  # the example row
    (described,) = con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = 'projects' "
                               "AND column_name = 'esf_grant_sek'").fetchone()
    assert (html.escape(described) if fmt == "html" else described) in text.replace("\\", "")
    emails = [e for (e,) in con.execute("SELECT contact_email FROM projects WHERE contact_email IS NOT NULL").fetchall()]
    con.close()
    assert emails and not any(e in text for e in emails)  # personal data is never an example
    assert "(personal data, not shown)" in text


def test_the_pandas_example_runs_and_opens_the_current_file(dbs, tmp_path):
    script = ROOT / "examples" / "pandas_polars.py"
    result = subprocess.run([sys.executable, str(script), str(dbs["full"])], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 0, result.stderr
    assert "ESF grant by region (pandas):" in result.stdout and "Nationellt" in result.stdout
    # What the example warns about, shown: a held connection makes duckdb.connect() hand back the old file.
    db = tmp_path / "esf.duckdb"
    shutil.copyfile(dbs["full"], db)
    held = duckdb.connect(str(db), read_only=True)
    (before,) = held.execute("SELECT count(*) FROM projects").fetchone()
    newer = tmp_path / "newer.duckdb"
    con = duckdb.connect(str(newer))
    con.execute("CREATE TABLE projects AS SELECT 1 AS project_id")
    con.close()
    os.replace(newer, db)  # what publishing does
    again = duckdb.connect(str(db), read_only=True)
    assert again.execute("SELECT count(*) FROM projects").fetchone() == (before,)  # stale, silently
    helper = runpy.run_path(str(script))["open_current"]
    current = helper(str(db))
    assert current.execute("SELECT count(*) FROM projects").fetchone() == (1,)
    for c in (held, again, current):
        c.close()


def test_describe_out_without_a_page_format_is_one_line(dbs, tmp_path):
    result = CliRunner().invoke(cli, ["describe", "--db", str(dbs["full"]), "--out", str(tmp_path / "d.txt")])
    assert result.exit_code == 2 and "--format markdown" in result.output
    assert not (tmp_path / "d.txt").exists()
