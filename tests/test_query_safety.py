"""`esf query` only reads, prints no raw control characters, and file-system errors end in one line.

Runs `esf` in subprocesses against a small database built here (no Prefect needed).
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT

HOSTILE_TITLE = "Projekt \x1b]0;pwned\x07 \x1b[31mröd\x1b[0m\nrad två \x9b2J \u202egnalf"


def esf(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("ESF_DB", None)
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=60)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A published database, the run's own file and raw store beside it, and a CSV file in a subfolder."""
    root = tmp_path_factory.mktemp("query-safety")
    for name in ("esf.duckdb", "esf.work.duckdb"):
        con = duckdb.connect(str(root / name))
        con.execute("CREATE TABLE projects (project_id VARCHAR, title VARCHAR, esf_grant_sek BIGINT)")
        con.execute("INSERT INTO projects VALUES ('2015/00265', ?, 1250000), ('22-039-S04', 'Vägval', 80000)",
                    [HOSTILE_TITLE])
        con.execute("COMMENT ON TABLE projects IS 'One row per project \x1b[2J cleared'")
        con.close()
    con = duckdb.connect(str(root / "esf.raw.duckdb"))  # the raw store: page bodies, never published
    con.execute("CREATE TABLE raw_pages (source_key VARCHAR, body BLOB)")
    con.execute("INSERT INTO raw_pages VALUES ('pages/a.txt', 'Projekt'::BLOB)")
    con.close()
    (root / "extra").mkdir()
    (root / "extra" / "regions.csv").write_text("region_code,name\nSE11,Stockholm\n", encoding="utf-8")
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Every path under `root` with the SHA-256 of its bytes ('dir' for folders)."""
    return {str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))}


REFUSED = [
    "ATTACH 'esf.work.duckdb' AS w (READ_WRITE)",
    "ATTACH 'new.duckdb' AS n",
    "ATTACH 'esf.raw.duckdb' AS r",
    "SELECT * FROM read_blob('esf.raw.duckdb')",
    "DELETE FROM projects",
    "INSERT INTO projects VALUES ('x', 'y', 1)",
    "UPDATE projects SET title = 'x'",
    "CREATE TABLE t (a INT)",
    "CREATE TEMP TABLE t AS SELECT 1",
    "DROP TABLE projects",
    "WITH x AS (SELECT 1) INSERT INTO projects SELECT 'a', 'b', 1 FROM x",
    "COPY projects TO 'out.csv'",
    "COPY (SELECT * FROM projects) TO 'extra/out.parquet' (FORMAT parquet)",
    "EXPORT DATABASE 'dump'",
    "SELECT 1; SELECT 2",
    "SELECT 1; DELETE FROM projects",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "INSTALL httpfs",
    "LOAD httpfs",
    "CALL enable_logging(storage = 'file', storage_path = 'logs')",
    "SELECT * FROM enable_logging(storage = 'file', storage_path = 'logs')",
    "SELECT * FROM query('SELECT 1')",
    "EXPLAIN ANALYZE COPY projects TO 'explained.csv'",
    "PRAGMA enable_profiling",
    "CHECKPOINT",
    "SELECT * FROM read_csv('extra/regions.csv')",
    "FROM 'extra/regions.csv'",
    "SELECT * FROM read_text('/etc/hostname')",
    "",
]


@pytest.mark.parametrize("sql", REFUSED)
def test_query_refuses_anything_but_one_read(folder, sql):
    before = snapshot(folder)
    result = esf("query", sql, "--db", "esf.duckdb", cwd=folder)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("esf: refused: ") and len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert snapshot(folder) == before


def test_allowed_files_are_read_but_never_written(folder):
    before = snapshot(folder)
    result = esf("query", "SELECT name FROM read_csv('extra/regions.csv')", "--allow-files", "extra",
                 "--db", "esf.duckdb", "--format", "csv", cwd=folder)
    assert (result.returncode, result.stdout) == (0, "name\nStockholm\n"), result.stderr
    for sql in ["COPY projects TO 'extra/out.csv'", "SELECT * FROM enable_logging(storage = 'file', "
                "storage_path = 'extra/logs')", "SELECT * FROM read_blob('esf.work.duckdb')"]:
        result = esf("query", sql, "--allow-files", "extra", "--db", "esf.duckdb", cwd=folder)
        assert result.returncode == 2 and result.stderr.startswith("esf: refused: "), result.stderr
    assert snapshot(folder) == before


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM projects", "WITH p AS (SELECT * FROM projects) SELECT count(*) FROM p",
    "FROM projects SELECT project_id", "DESCRIBE projects", "SHOW TABLES", "SUMMARIZE projects",
    "EXPLAIN SELECT * FROM projects", "EXPLAIN ANALYZE SELECT count(*) FROM projects", "VALUES (1), (2)",
    "TABLE projects", "PIVOT projects ON project_id IN ('22-039-S04') USING sum(esf_grant_sek)",
    "SELECT 1;", "/* a note */ SELECT 1 -- and a comment",
])
def test_query_runs_read_forms(folder, sql):
    result = esf("query", sql, "--db", "esf.duckdb", cwd=folder)
    assert result.returncode == 0, result.stderr


def test_table_output_escapes_control_characters(folder):
    result = esf("query", "SELECT title FROM projects ORDER BY project_id", "--db", "esf.duckdb", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert not any(ch in result.stdout for ch in "\x1b\x07\x9b\u202e")
    assert r"Projekt \x1b]0;pwned\x07 \x1b[31mröd\x1b[0m\nrad två \x9b2J \u202egnalf" in result.stdout
    assert result.stdout.splitlines()[-1] == "(2 rows)" and len(result.stdout.splitlines()) == 5


def test_json_and_piped_csv_stay_faithful(folder):
    sql = "SELECT title FROM projects ORDER BY project_id"
    result = esf("query", sql, "--db", "esf.duckdb", "--format", "json", cwd=folder)
    assert json.loads(result.stdout)[0]["title"] == HOSTILE_TITLE
    assert not any(ch in result.stdout for ch in "\x1b\x07\x9b\u202e")
    result = esf("query", sql, "--db", "esf.duckdb", "--format", "csv", cwd=folder)  # a pipe, not a terminal
    assert HOSTILE_TITLE in result.stdout


def test_describe_escapes_comments(folder):
    result = esf("describe", "projects", "--db", "esf.duckdb", cwd=folder)
    assert result.returncode == 0 and "\x1b" not in result.stdout
    assert r"One row per project \x1b[2J cleared" in result.stdout


def test_export_into_a_path_under_a_file_is_one_line_exit_2(folder, tmp_path):
    (tmp_path / "somefile").write_text("x")
    result = esf("export", "--out", str(tmp_path / "somefile" / "out"), "--db", str(folder / "esf.duckdb"),
                 cwd=folder)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"esf: cannot write {tmp_path / 'somefile' / 'out'}: Not a directory\n"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into a 0o500 folder anyway")
def test_export_into_a_read_only_folder_is_one_line_exit_2(folder, tmp_path):
    out = tmp_path / "locked"
    out.mkdir(mode=0o500)
    try:
        result = esf("export", "--out", str(out), "--db", str(folder / "esf.duckdb"), cwd=folder)
    finally:
        out.chmod(0o700)
    assert result.returncode == 2 and result.stderr == f"esf: cannot write {out}: Permission denied\n"
    assert list(out.iterdir()) == []


def test_export_write_failing_part_way_is_one_line_exit_1(folder, tmp_path):
    out = tmp_path / "export"
    (out / "projects.csv").mkdir(parents=True)  # a folder where the file must go: the COPY itself fails
    result = esf("export", "--out", str(out), "--format", "csv", "--db", str(folder / "esf.duckdb"), cwd=folder)
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"esf: cannot write {out / 'projects.csv'}: Is a directory\n"


def test_main_turns_unhandled_os_errors_into_one_line(monkeypatch, capsys):
    import cli
    def full_disk(**_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "/srv/esf/esf.duckdb")
    monkeypatch.setattr(cli.cli, "main", full_disk)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 1
    assert capsys.readouterr().err == "esf: cannot write /srv/esf/esf.duckdb: No space left on device\n"


def test_error_lines_escape_control_characters(folder):
    result = esf("query", "SELECT 'a\x1b[2J'::INT", "--db", "esf.duckdb", cwd=folder)
    assert result.returncode == 2 and result.stderr.startswith("esf: query failed: Conversion Error")
    assert "\x1b" not in result.stderr and r"\x1b[2J" in result.stderr


def test_readme_recipes_pass_the_read_check(folder):
    from analyst.readonly import open_published, read_statement
    from test_cookbook import recipes
    con = open_published(folder / "esf.duckdb")
    try:
        for recipe in recipes((ROOT / "README.md").read_text(encoding="utf-8")):
            read_statement(con, recipe["sql"])
    finally:
        con.close()
