"""A problem as a row of `rejects` (severity 'error') or `warnings` (severity 'warning'): one record whatever left
it behind — a page's parse, a page that could not be read, validation, an official list's row. load/projects.py
writes it; the run counts and reports it."""
from __future__ import annotations

from records.severity import Severity

from dataclasses import dataclass

from records.lists import LIST_STAGE, ListProblem
from records.project import Problem


@dataclass(frozen=True, slots=True)
class ProblemRow:
    """One problem row; `severity` picks the table and is not written."""
    source_key: str | None
    project_id: str | None
    stage: str
    field: str | None
    reason: str
    value: str | None = None
    severity: Severity = "error"
    row_number: int | None = None  # an official list's row (the heading is row 1); None for a page

    @classmethod
    def of_page_problem(cls, source_key: str, project_id: str | None, problem: Problem) -> ProblemRow:
        return cls(source_key, project_id, problem.stage, problem.field, problem.reason, problem.value,
                   problem.severity)

    @classmethod
    def fetch_failure(cls, source_key: str, reason: str) -> ProblemRow:
        """A page that could not be read: a reject of stage 'fetch'."""
        return cls(source_key, None, "fetch", None, reason)

    @classmethod
    def of_validation(cls, source_key: str | None, project_id: str | None, field: str, reason: str,
                      value: str | None, severity: Severity) -> ProblemRow:
        return cls(source_key, project_id, "validate", field, reason, value, severity)

    @classmethod
    def of_list_problem(cls, source_key: str, problem: ListProblem) -> ProblemRow:
        """A list's problem: the file, its row number, the field (a list's row names no project)."""
        return cls(source_key, None, LIST_STAGE, problem.field, problem.reason, problem.value,
                   "error" if problem.severity == "error" else "warning", problem.row_number)
