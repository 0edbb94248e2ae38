"""The problem record (records/problems.py) and the `rejects` / `warnings` tables it is written to: the same columns,
one place that turns a record into a row, every kind of problem in the table its severity names."""
from __future__ import annotations

from dataclasses import fields

from load import Warehouse
from load.projects import PROBLEM_COLUMNS, _insert_problems, problem_frame
from records.lists import ListProblem
from records.problems import ProblemRow
from records.project import ParsedPage, Problem
from transform.batch import problem_rows

WRITTEN = [f.name for f in fields(ProblemRow) if f.name != "severity"]  # severity picks the table


def test_the_writer_writes_every_field_of_the_record_but_its_severity():
    assert PROBLEM_COLUMNS == ["run_id", *WRITTEN]
    row = ProblemRow("a.csv", None, "list", "Namn", "too long", "x" * 3, "warning", 7)
    assert problem_frame(4, [row]).values.tolist() == [[4, "a.csv", None, "list", "Namn", "too long", "xxx", 7]]


def test_the_tables_have_the_columns_the_writer_writes(tmp_path):
    with Warehouse(tmp_path / "esf.work.duckdb") as wh:
        for table in ("rejects", "warnings"):
            assert [c for (c, *_) in wh.con.execute(f"DESCRIBE {table}").fetchall()] == PROBLEM_COLUMNS


def test_each_kind_of_problem_lands_in_the_table_its_severity_names(tmp_path):
    page = ParsedPage("p.txt", "B", {"project_id": "2017/00345"},
                      problems=[Problem("contact_email", "not an e-mail address", "x(at)y", "warning")])
    problems = [*problem_rows(page), ProblemRow.fetch_failure("gone.txt", "cannot read file"),
                ProblemRow.of_validation("p.txt", "2017/00345", "projects.template", "isin", "Z", "error"),
                ProblemRow.of_list_problem("ops.csv", ListProblem(5, None, "no identity", severity="error")),
                ProblemRow.of_list_problem("ops.csv", ListProblem(None, "Namn", "expected column missing"))]
    with Warehouse(tmp_path / "esf.work.duckdb") as wh:
        _insert_problems(wh, 1, problems)
        tables = {t: wh.con.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in ("rejects", "warnings")}
    assert tables == {
        "rejects": [(1, "gone.txt", None, "fetch", None, "cannot read file", None, None),
                    (1, "p.txt", "2017/00345", "validate", "projects.template", "isin", "Z", None),
                    (1, "ops.csv", None, "list", None, "no identity", None, 5)],
        "warnings": [(1, "p.txt", "2017/00345", "parse", "contact_email", "not an e-mail address", "x(at)y", None),
                     (1, "ops.csv", None, "list", "Namn", "expected column missing", None, None)]}
