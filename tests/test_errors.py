"""Errors that help: `esf query` shows DuckDB's hints under its message (escaped for the terminal), `esf describe`
names the tables and views closest to an unknown name."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from cli import cli
from service import run as service
from service.run import RunSettings


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("errors") / "esf.duckdb"
    service.refresh(RunSettings(db=str(db), sources=(str(SAMPLES),)))
    return db


def esf(db: Path, *args: str):
    return CliRunner().invoke(cli, [*args, "--db", str(db)])


def test_a_misspelt_table_keeps_duckdbs_did_you_mean(published):
    result = esf(published, "query", "select * from project")
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "esf: query failed: Catalog Error: Table with name project does not exist!"
    assert '  Did you mean "projects"?' in lines
    assert "  LINE 1: select * from project" in lines and "Traceback" not in result.stderr


def test_a_misspelt_column_keeps_the_candidates(published):
    result = esf(published, "query", "select titel from projects")
    assert result.exit_code == 2
    hint = next(line for line in result.stderr.splitlines() if "Candidate bindings" in line)
    assert '"title"' in hint


def test_hint_lines_cannot_drive_the_terminal(published):
    result = esf(published, "query", "select 'a\x1b[31mred' + 1")
    assert result.exit_code == 2 and "\x1b" not in result.stderr
    assert "\\x1b[31mred" in result.stderr and "Candidate functions:" in result.stderr


@pytest.mark.parametrize("fmt", ["text", "markdown"])
@pytest.mark.parametrize("name, close", [("project", "projects"), ("funding_by_years", "funding_by_year"),
                                         ("Region_Summary", "region_summary")])
def test_describe_suggests_close_names(published, fmt, name, close):
    result = esf(published, "describe", name, "--format", fmt)
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, (result.output, result.exc_info)
    assert f"no table or view named {name!r}; did you mean {close}" in result.stderr


def test_describe_without_a_close_name_only_lists(published):
    result = esf(published, "describe", "xyzzy")
    assert result.exit_code == 2 and "did you mean" not in result.stderr and "`esf describe` lists them" in result.stderr
