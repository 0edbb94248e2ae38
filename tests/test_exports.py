"""Exports that open: the plain CSV byte-faithful, `--safe-csv` (export, query, search) with formula-like cells
neutralised, `--excel` for Swedish Excel (BOM, `;`, decimal comma), XLSX within Excel's limits, and the README's
pandas/Polars examples run as written. The hostile page is invented."""
from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from analyst import export as exports
from analyst.formats import neutralise
from cli import cli
from conftest import SAMPLES
from service import run as service
from service.run import RunSettings

ROOT = Path(__file__).resolve().parents[1]
TITLE = '=HYPERLINK("http://exempel.org/x","klicka")'
OWNER = "@Föreningen Formelbo"
SECTION = "+Formler i celler är farliga för kalkylblad."
HOSTILE = f"""{TITLE}

Programområde
2.2 Öka övergångarna till arbete
Region
Östra Mellansverige
Projektägare
{OWNER}
Projektnummer
2018/00904
Projektperiod
2018-09-01-2021-08-31
Total projektbudget
1 000 000 kr
Beviljat ESF-stöd
500 000 kr

Sammanfattning

{SECTION}
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """The bundled samples and one page whose title, owner and summary begin like formulas."""
    root = tmp_path_factory.mktemp("exports")
    pages = root / "pages"
    pages.mkdir()
    for sample in SAMPLES.iterdir():
        if sample.suffix in (".txt", ".html"):
            (pages / sample.name).write_bytes(sample.read_bytes())
    (pages / "formelbo.txt").write_text(HOSTILE, encoding="utf-8")
    path = root / "esf.duckdb"
    service.refresh(RunSettings(db=str(path), sources=(str(pages),)))
    return path


def esf(*args: str):
    return CliRunner().invoke(cli, list(args))


def rows_of(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("text, safe", [
    (TITLE, "'" + TITLE), (OWNER, "'" + OWNER), (SECTION, "'" + SECTION), ("-5 %", "'-5 %"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("Steget vidare", "Steget vidare"), ("a=b", "a=b")])
def test_a_formula_like_cell_is_neutralised(text, safe):
    assert neutralise(text) == safe


def test_plain_csv_export_is_byte_faithful_and_excel_csv_is_safe(db, tmp_path):
    plain, excel = tmp_path / "plain", tmp_path / "excel"
    assert esf("export", "--db", str(db), "--out", str(plain), "--format", "csv").exit_code == 0
    assert esf("export", "--db", str(db), "--out", str(excel), "--format", "csv", "--excel").exit_code == 0
    assert f'"{TITLE.replace(chr(34), 2 * chr(34))}"' in (plain / "projects.csv").read_text(encoding="utf-8")
    raw = (excel / "projects.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # UTF-8 with BOM, CRLF
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    by_id = {r["project_id"]: r for r in table}
    assert by_id["2018/00904"]["title"] == "'" + TITLE and by_id["2018/00904"]["owner"] == "'" + OWNER
    assert len(table) == rows_of(db, "SELECT count(*) FROM projects")[0][0]
    assert "ö" in by_id["2018/00904"]["owner"]  # UTF-8, not mojibake
    sections = (excel / "project_sections.csv").read_text(encoding="utf-8-sig")
    assert "'" + SECTION in sections
    regions = list(csv.DictReader(io.StringIO((excel / "region_summary.csv").read_text(encoding="utf-8-sig")),
                                  delimiter=";"))
    shares = [r["esf_share"] for r in regions if r["esf_share"]]
    assert shares and all(re.fullmatch(r"\d+,\d+", s) for s in shares)  # decimal comma
    assert all(re.fullmatch(r"\d+", r["esf_grant_sek"]) for r in regions if r["esf_grant_sek"])
    runs = list(csv.DictReader(io.StringIO((excel / "runs.csv").read_text(encoding="utf-8-sig")), delimiter=";"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", runs[0]["started_at"])


def test_safe_csv_export_keeps_the_plain_dialect(db, tmp_path):
    out = tmp_path / "safe"
    assert esf("export", "--db", str(db), "--out", str(out), "--format", "csv", "--safe-csv").exit_code == 0
    text = (out / "projects.csv").read_text(encoding="utf-8")
    assert not text.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(text)))
    assert {r["title"] for r in table if r["project_id"] == "2018/00904"} == {"'" + TITLE}


def test_query_csv_is_faithful_and_safe_csv_neutralises(db):
    sql = "SELECT title, esf_grant_sek FROM projects WHERE project_id = '2018/00904'"
    faithful = esf("query", sql, "--db", str(db), "--format", "csv")
    safe = esf("query", sql, "--db", str(db), "--format", "csv", "--safe-csv")
    assert list(csv.reader(io.StringIO(faithful.output)))[1] == [TITLE, "500000"]
    assert list(csv.reader(io.StringIO(safe.output)))[1] == ["'" + TITLE, "500000"]  # a number stays a number


def test_search_safe_csv_neutralises(db):
    result = esf("search", "kalkylblad", "--db", str(db), "--format", "csv", "--safe-csv")
    assert result.exit_code == 0, result.output
    hit = [r for r in csv.DictReader(io.StringIO(result.output)) if r["project_id"] == "2018/00904"]
    assert hit and hit[0]["title"] == "'" + TITLE


@pytest.mark.parametrize("args, says", [
    (("query", "SELECT 1", "--safe-csv"), "--safe-csv changes CSV cells: use it with --format csv"),
    (("search", "kalkylblad", "--safe-csv", "--format", "json"), "--safe-csv changes CSV cells"),
    (("export", "--out", "x", "--excel"), "--excel is a kind of CSV: use it with --format csv"),
    (("export", "--out", "x", "--format", "xlsx", "--safe-csv"), "--safe-csv changes CSV cells")])
def test_a_flag_with_the_wrong_format_is_one_line_exit_2(db, tmp_path, args, says):
    result = CliRunner().invoke(cli, [*args, "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_xlsx_export_is_one_workbook_per_table_with_text_never_a_formula(db, tmp_path):
    from openpyxl import load_workbook
    out = tmp_path / "xlsx"
    result = esf("export", "--db", str(db), "--out", str(out), "--format", "xlsx")
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    names = exports.exported(con)
    counts = {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    con.close()
    assert sorted(p.stem for p in out.glob("*.xlsx")) == sorted(names)
    book = load_workbook(out / "projects.xlsx")  # not read-only: cell types are kept
    sheet = book["projects"]
    assert book.sheetnames == ["projects"] and sheet.max_row == counts["projects"] + 1
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[header.index("project_id")].value == "2018/00904")
    title = row[header.index("title")]
    assert title.value == TITLE and title.data_type == "s"  # the text as it is, stored as text, not a formula
    assert isinstance(row[header.index("esf_grant_sek")].value, int)
    assert load_workbook(out / "runs.xlsx")["runs"].max_row == counts["runs"] + 1  # time stamps with a zone


def test_xlsx_past_excel_s_rows_continues_on_further_sheets(monkeypatch, tmp_path):
    """Excel's 1,048,576 rows a sheet, scaled down to 3: a table of 7 rows fills sheets of 2 rows + heading."""
    from openpyxl import load_workbook
    monkeypatch.setattr(exports, "XLSX_ROWS", 3)
    con = duckdb.connect()
    exports.write_xlsx(con, "SELECT range AS n FROM range(7)", tmp_path / "t.xlsx", "t")
    book = load_workbook(tmp_path / "t.xlsx")
    assert book.sheetnames == ["t", "t (2)", "t (3)", "t (4)"]
    assert [[c.value for c in row] for row in book["t (2)"].iter_rows()] == [["n"], [2], [3]]
    assert sum(s.max_row - 1 for s in book.worksheets) == 7


def test_xlsx_cuts_names_and_long_text_and_escapes_control_characters(tmp_path):
    from openpyxl import load_workbook
    assert exports.sheet_name("x" * 40, 1) == "x" * 31 and exports.sheet_name("x" * 40, 12) == "x" * 26 + " (12)"
    con = duckdb.connect()
    exports.write_xlsx(con, "SELECT repeat('å', 40000) AS long, chr(1) || 'a' AS control, "
                            "TIMESTAMPTZ '2026-12-07 02:00:03+01' AS at", tmp_path / "t.xlsx", "y" * 40)
    sheet = load_workbook(tmp_path / "t.xlsx").worksheets[0]
    long, control, at = (c.value for c in sheet[2])
    assert sheet.title == "y" * 31
    assert len(long) == exports.XLSX_CELL and long.endswith(exports.CUT_MARK)
    assert control == "\\x01a"
    assert at.isoformat() == "2026-12-07T01:00:03"  # UTC, without a zone


def readme_block(heading: str) -> str:
    """The first ```python block after a README heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_pandas_and_polars_export_examples_run_as_written(db, tmp_path):
    pytest.importorskip("pyarrow", reason="the analysis extra (pip install -e '.[analysis]') is not installed")
    pytest.importorskip("polars", reason="the analysis extra (pip install -e '.[analysis]') is not installed")
    assert esf("export", "--db", str(db), "--out", str(tmp_path / "export")).exit_code == 0
    result = subprocess.run([sys.executable, "-W", "error", "-c", readme_block("### Exports")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 0, result.stderr
    projects = rows_of(db, "SELECT count(*) FROM projects")[0][0]
    assert result.stdout.split()[:2] == [str(projects), str(projects)]


def test_the_readme_open_current_example_runs_without_a_warning(db, tmp_path):
    pytest.importorskip("pyarrow", reason="the analysis extra (pip install -e '.[analysis]') is not installed")
    code = readme_block("### From pandas or Polars") + "\nprint(len(df))\n"
    (tmp_path / "esf.duckdb").write_bytes(db.read_bytes())
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.strip() == str(rows_of(db, "SELECT count(*) FROM runs")[0][0])


def test_the_example_script_runs_pandas_and_polars_without_a_warning(db):
    pytest.importorskip("polars", reason="the analysis extra (pip install -e '.[analysis]') is not installed")
    result = subprocess.run([sys.executable, "-W", "error", str(ROOT / "examples" / "pandas_polars.py"), str(db)],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 0 and "Warning" not in result.stderr, result.stderr
    assert "Programme areas (Polars):" in result.stdout and "Runs: 1," in result.stdout
