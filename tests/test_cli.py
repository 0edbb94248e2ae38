"""The `esf` command end to end, in subprocesses against the session's Prefect API."""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, SAMPLES, esf_command, esf_env
from cli import cli

COMMANDS = sorted(cli.commands)


def esf(prefect_api, *args, cwd=None, timeout=180):
    return subprocess.run(esf_command() + list(args), capture_output=True, text=True, cwd=cwd or ROOT,
                          env=esf_env(prefect_api), timeout=timeout)


@pytest.fixture(scope="module")
def loaded_db(prefect_api, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("cli") / "esf.duckdb"
    result = esf(prefect_api, "run", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "Projects per programme area" in result.stdout and "Projects per region" in result.stdout
    assert re.search(r"^\s+13\s+62 008 165$", result.stdout, re.M), result.stdout
    return db


def test_run_loads_one_row_per_sample_page(loaded_db):
    con = duckdb.connect(str(loaded_db), read_only=True)
    pages = [p for p in SAMPLES.iterdir() if p.suffix in (".txt", ".html")]
    assert con.execute("SELECT count(*) FROM projects").fetchone()[0] == len(pages)
    con.close()


def test_query_prints_a_table(prefect_api, loaded_db):
    result = esf(prefect_api, "query", "select region, count(*) as n from projects group by 1 order by 1",
                 "--db", str(loaded_db))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["region", "n"]
    assert "Västsverige" in result.stdout and lines[-1] == "(9 rows)"


def test_query_csv_and_json(prefect_api, loaded_db):
    sql = "select region_code, projects from region_summary order by region_code"
    rows = list(csv.reader(io.StringIO(esf(prefect_api, "query", sql, "--db", str(loaded_db), "--format", "csv").stdout)))
    assert rows[0] == ["region_code", "projects"] and rows[1] == ["SE", "2"]
    data = json.loads(esf(prefect_api, "query", sql, "--db", str(loaded_db), "--format", "json").stdout)
    assert data[0] == {"region_code": "SE", "projects": 2} and len(data) == 9


@pytest.mark.parametrize("sql", ["DELETE FROM projects", "DROP TABLE projects",
                                 "UPDATE projects SET title = 'x'", "CREATE TABLE t (a INT)"])
def test_query_refuses_writes(prefect_api, loaded_db, sql):
    result = esf(prefect_api, "query", sql, "--db", str(loaded_db))
    assert result.returncode == 2
    assert result.stderr.startswith(f"esf: refused: {sql.split()[0]} is not a read query")
    assert len(result.stderr.strip().splitlines()) == 1
    con = duckdb.connect(str(loaded_db), read_only=True)
    assert con.execute("SELECT count(*) FROM projects").fetchone()[0] == 13
    con.close()


def test_query_syntax_error_is_one_line(prefect_api, loaded_db):
    result = esf(prefect_api, "query", "selec nothing", "--db", str(loaded_db))
    assert result.returncode == 2 and result.stderr.startswith("esf: query failed: Parser Error")
    assert "Traceback" not in result.stderr


def test_missing_source_is_one_line_and_exit_2(prefect_api, tmp_path):
    result = esf(prefect_api, "run", "--source", "/no/such/dir", "--db", str(tmp_path / "x.duckdb"))
    assert (result.returncode, result.stderr) == (2, "esf: source not found: /no/such/dir\n")
    assert not (tmp_path / "x.duckdb").exists()


def test_bad_option_is_exit_2(prefect_api):
    result = esf(prefect_api, "run", "--delay", "-1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_query_without_database(prefect_api, tmp_path):
    result = esf(prefect_api, "query", "select 1", "--db", str(tmp_path / "none.duckdb"))
    assert result.returncode == 2 and "run `esf run` first" in result.stderr


def test_rejected_pages_give_exit_3(prefect_api, tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "ok.txt").write_bytes((SAMPLES / "b-steget-vidare.txt").read_bytes())
    (pages / "junk.bin").write_bytes(bytes(range(256)) * 8)
    result = esf(prefect_api, "run", "--source", str(pages), "--db", str(tmp_path / "e.duckdb"), "--no-summary")
    assert result.returncode == 3, result.stderr
    assert "rejected 1" in result.stdout and "top reject reasons" in result.stdout


def test_parse_prints_one_json_object(prefect_api):
    result = esf(prefect_api, "parse", str(SAMPLES / "c-24-118-s02-vagval-umea.txt"))
    assert result.returncode == 0
    record = json.loads(result.stdout)
    assert record["case_number"] == "24-118-S02" and record["template"] == "C"
    assert record["start_date"] == "2024-09-01" and record["esf_grant_sek"] is None
    assert {"organisations", "municipalities", "sections", "problems"} <= set(record)


def test_parse_reports_the_problem_that_rejects_a_page(prefect_api, tmp_path):
    page = tmp_path / "p.txt"
    page.write_text("Region\nVästsverige\nProjektägare\nRegion Halland\n", encoding="utf-8")
    result = esf(prefect_api, "parse", str(page), "--format", "text")
    assert result.returncode == 3
    assert "error                  (page): no identity: neither a case number nor a title on the page" \
        in result.stdout


def test_parse_shows_a_field_it_could_not_read_as_a_warning(prefect_api, tmp_path):
    page = tmp_path / "p.txt"
    page.write_text((SAMPLES / "b-steget-vidare.txt").read_text(encoding="utf-8")
                    .replace("2018-09-01-2021-08-31", "2021-08-31-2018-09-01"), encoding="utf-8")
    result = esf(prefect_api, "parse", str(page), "--format", "text")
    assert result.returncode == 0
    assert "warning                period: end date 2018-09-01 is before start date 2021-08-31" in result.stdout
    assert re.search(r"^start_date\s*$", result.stdout, re.M)


def test_describe_and_export(prefect_api, loaded_db, tmp_path):
    result = esf(prefect_api, "describe", "region_summary", "--db", str(loaded_db))
    assert result.returncode == 0 and "esf_share" in result.stdout and "NUTS 2" in result.stdout
    out = tmp_path / "export"
    result = esf(prefect_api, "export", "--format", "parquet", "--out", str(out), "--db", str(loaded_db),
                 "--without-contacts")
    assert result.returncode == 0, result.stderr
    con = duckdb.connect()
    projects = f"read_parquet('{out}/projects/*/*.parquet', hive_partitioning = true)"
    assert con.execute(f"SELECT count(*), count(DISTINCT programme_period) FROM {projects}").fetchone() == (13, 3)
    assert sorted(p.name for p in (out / "projects").iterdir()) == [
        "programme_period=2007-2013", "programme_period=2014-2020", "programme_period=2021-2027"]
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {projects}").fetchall()]
    assert "contact_email" in columns  # the column stays, empty: one schema with or without contacts
    assert con.execute(f"SELECT count(contact_name), count(contact_email), count(contact_phone) FROM {projects}"
                       ).fetchone() == (0, 0, 0)
    assert (out / "region_programme_matrix.parquet").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself_with_an_example(command):
    from click.testing import CliRunner
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert re.search(r"Examples?:", result.output) and f"esf {command}" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"esf {command}" in readme, f"README.md does not document `esf {command}`"


def test_a_data_folder_that_lacks_a_reference_file_is_one_line_before_any_work(tmp_path):
    """An $ESF_DATA_DIR copied for an older release (before the English search files) is refused up front, naming
    what it lacks; the bundled folder lacks nothing."""
    import shutil
    from records.data import BUNDLED_DATA, missing_files
    assert missing_files() == []
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data" / "reference", data / "reference")
    (data / "reference" / "stopwords_en.txt").unlink()
    (data / "reference" / "suffixes_en.csv").unlink()
    db = tmp_path / "out" / "esf.duckdb"
    db.parent.mkdir()
    env = {**esf_env(""), "ESF_DATA_DIR": str(data)}
    for command in (["run", "--source", str(SAMPLES)], ["serve", "--source", str(SAMPLES)]):
        result = subprocess.run(esf_command() + [*command, "--db", str(db)], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert result.stderr == (f"esf: the data folder {data} (ESF_DATA_DIR) lacks reference/stopwords_en.txt, "
                                 f"reference/suffixes_en.csv: copy them from {BUNDLED_DATA}\n")
    assert list(db.parent.iterdir()) == []  # nothing was started


def test_the_data_folder_is_looked_up_when_used_not_at_import(monkeypatch, tmp_path):
    from transform.reference import BUNDLED_DATA, data_dir
    monkeypatch.delenv("ESF_DATA_DIR", raising=False)
    assert data_dir() == BUNDLED_DATA and (BUNDLED_DATA / "reference" / "labels.csv").exists()
    monkeypatch.setenv("ESF_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
