"""Apply the Pandera models to a run's parsed pages: good rows go on, failing pages become rejects."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
import pandera.pandas as pa

from records.problems import ProblemRow
from records.severity import Severity
from records.project import NAMES, names_of
from schemas.models import CHECK_COLUMNS, IDENTITY_SCHEMA, REPORT_SCHEMA, Organisation, ProjectMunicipality, Section
from records.project import ParsedPage
from transform.record import QUALITY_KINDS, problem_columns

PROJECT_COLUMNS = list(NAMES)
INT_COLUMNS = names_of("int")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
DATE_COLUMNS = names_of("date")
RATE_COLUMNS = names_of("rate")
CHILD_COLUMNS = {
    "organisations": ["project_id", "role", "name", "name_normalized", "truncated"],
    "municipalities": ["project_id", "name_as_written", "municipality_code", "municipality", "county",
                       "region_code"],
    "sections": ["project_id", "section", "heading", "text"],
}
CHILD_MODELS = {"organisations": Organisation, "municipalities": ProjectMunicipality, "sections": Section}
QUALITY_COLUMNS = ["project_id", "field", "status", "reason", "value", "stage"]


@dataclass
class Validated:
    projects: pd.DataFrame
    organisations: pd.DataFrame
    municipalities: pd.DataFrame
    sections: pd.DataFrame
    rejects: list[ProblemRow] = field(default_factory=list)   # rows for the `rejects` table
    warnings: list[ProblemRow] = field(default_factory=list)  # validation's own rows for `warnings`
    field_problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=QUALITY_COLUMNS))


def projects_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    data = {}
    for col in PROJECT_COLUMNS:
        values = [r.get(col) for r in rows]
        if col in INT_COLUMNS:
            data[col] = pd.Series(values, dtype="Int64")
        elif col in DATE_COLUMNS:
            data[col] = pd.to_datetime(pd.Series(values, dtype="object"))
        elif col in RATE_COLUMNS:
            data[col] = pd.Series(values, dtype="float64")
        else:
            data[col] = pd.Series(values, dtype=str)
    return pd.DataFrame(data)


def child_frame(kind: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    cols = CHILD_COLUMNS[kind]
    return pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=bool if c == "truncated" else str)
                         for c in cols})


def _failures(schema: Any, df: pd.DataFrame) -> list[dict[str, Any]]:
    if df.empty:
        return []
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        if cases["index"].isna().any():  # a whole column failed: a bug in the parser, not a bad page
            raise
        failed: list[dict[str, Any]] = cases.to_dict("records")
        return failed
    return []


def validate(pages: list[ParsedPage]) -> Validated:
    """Validate lazily. A failing identity rule turns its page into a reject naming field, check and value;
    any other failing rule is a warning: a failing value becomes NULL, and the project loads."""
    pages = [p for p in pages if p.ok]
    rejects: list[ProblemRow] = []
    warnings: list[ProblemRow] = []
    quality = [{"project_id": p.project_id, "field": column, "status": prob.kind, "reason": prob.reason,
                "value": prob.value, "stage": prob.stage}
               for p in pages for prob in p.problems if prob.kind in QUALITY_KINDS for column in problem_columns(prob)]
    rows = [_holdable(p.project, warnings) for p in pages if p.project is not None]
    projects = projects_frame(rows)
    children = {kind: child_frame(kind, [row for p in pages for row in getattr(p, kind)]) for kind in CHILD_COLUMNS}
    source_of = dict(zip(projects["project_id"], projects["source_key"]))
    bad_ids: set[str] = set()
    for case in _failures(IDENTITY_SCHEMA, projects):
        row = projects.loc[case["index"]]
        bad_ids.add(row["project_id"])
        rejects.append(_problem(row["source_key"], row, case, "projects", "error"))
    emptied: list[tuple[int, str]] = []
    for case in _failures(REPORT_SCHEMA, projects):
        row = projects.loc[case["index"]]
        warnings.append(_problem(row["source_key"], row, case, "projects", "warning"))
        if case.get("schema_context") == "Column":
            emptied.append((case["index"], case["column"]))
    warnings = _distinct(warnings)  # a row-wise check fails once per column of the frame
    for index, column in emptied:  # after every rule has seen the values as written
        projects.loc[index, column] = None
    for w in warnings:
        column = ",".join(f.removeprefix("projects.") for f in (w.field or "").split(","))
        status = "unreadable" if column in PROJECT_COLUMNS else "conflict"
        quality.append({"project_id": w.project_id, "field": column, "status": status, "reason": w.reason,
                        "value": w.value, "stage": "validate"})
    for kind, model in CHILD_MODELS.items():
        df = children[kind]
        dropped = set()
        for case in _failures(model, df):
            row = df.loc[case["index"]]
            warnings.append(_problem(source_of.get(row["project_id"]), row, case, kind, "warning"))
            dropped.add(case["index"])
        children[kind] = df.drop(index=list(dropped)).reset_index(drop=True)
    _recount(projects, quality)
    keep = ~projects["project_id"].isin(bad_ids)
    rejects = _distinct(rejects)
    warnings = _distinct(warnings)
    field_problems = pd.DataFrame(quality, columns=QUALITY_COLUMNS).drop_duplicates(["project_id", "field", "reason"])
    return Validated(
        projects=projects[keep].reset_index(drop=True),
        organisations=_keep(children["organisations"], bad_ids),
        municipalities=_keep(children["municipalities"], bad_ids),
        sections=_keep(children["sections"], bad_ids),
        rejects=rejects,
        warnings=warnings,
        field_problems=field_problems[~field_problems["project_id"].isin(bad_ids)].reset_index(drop=True),
    )


def _distinct(rows: list[ProblemRow]) -> list[ProblemRow]:
    return list({(r.source_key, r.project_id, r.field, r.reason, r.value): r for r in rows}.values())


def _recount(projects: pd.DataFrame, quality: list[dict[str, Any]]) -> None:
    """missing_fields: the columns each project lacks or could not read, parse and validation together."""
    lacking: dict[str, set[str]] = {}
    for q in quality:
        if q["status"] in ("missing", "unreadable") and q["field"] in PROJECT_COLUMNS:
            lacking.setdefault(q["project_id"], set()).add(q["field"])
    projects["missing_fields"] = pd.array([len(lacking.get(pid, ())) for pid in projects["project_id"]],
                                          dtype="Int64")


def _holdable(project: dict[str, Any], warnings: list[ProblemRow]) -> dict[str, Any]:
    """The project with every value its column's type cannot hold (pandas would raise) NULL, with a warning."""
    row = dict(project)
    for col in (*INT_COLUMNS, *DATE_COLUMNS, *RATE_COLUMNS):
        value = row.get(col)
        if not _fits(col, value):
            warnings.append(ProblemRow.of_validation(
                row["source_key"], row["project_id"], f"projects.{col}",
                "not_representable: the column's type cannot hold the value", _text(value), "warning"))
            row[col] = None
    return row


def _fits(col: str, value: Any) -> bool:
    if value is None:
        return True
    if col in DATE_COLUMNS:
        return isinstance(value, date)
    if isinstance(value, bool):
        return False
    if col in INT_COLUMNS:
        return isinstance(value, int) and INT64_MIN <= value <= INT64_MAX
    return isinstance(value, float) or isinstance(value, int) and INT64_MIN <= value <= INT64_MAX


def _keep(df: pd.DataFrame, bad_ids: set[str]) -> pd.DataFrame:
    return df[~df["project_id"].isin(bad_ids)].reset_index(drop=True)


def _problem(source_key: str | None, row: pd.Series, case: dict[str, Any], table: str,
             severity: Severity) -> ProblemRow:
    check = str(case.get("check"))
    if case.get("schema_context") == "DataFrameSchema":  # a row-wise check: name the columns it reads
        columns = CHECK_COLUMNS.get(check.split(":")[0], ())
        field_name = ",".join(f"{table}.{c}" for c in columns) or table
        value = "; ".join(f"{c}={_text(row[c])}" for c in columns) or None
    else:
        field_name, value = f"{table}.{case.get('column')}", _text(case.get("failure_case"))
    return ProblemRow.of_validation(source_key, row["project_id"], field_name, check, value, severity)


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return str(value.date().isoformat())
    try:
        return str(value)
    except ValueError:  # an int longer than Python turns into digits (sys.get_int_max_str_digits)
        return f"an integer of {value.bit_length()} bits"
