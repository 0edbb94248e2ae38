"""Apply the Pandera models to a run's parsed pages: good rows go on, failing pages become rejects."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
import pandera.pandas as pa

from schemas.models import CHECK_COLUMNS, Organisation, Project, ProjectMunicipality, Section
from transform.record import ParsedPage

PROJECT_COLUMNS = [
    "project_id", "title", "case_number", "call_number", "programme_period", "programme_area_code",
    "programme_area_name", "specific_objective", "phase", "owner", "owner_org", "owner_org_number",
    "contact_name", "contact_email", "contact_phone", "esf_grant_sek", "total_budget_sek", "cofinancing_rate",
    "start_date", "end_date", "region", "region_code", "planned_participants", "source_url", "source_key",
    "template", "sha256",
]
INT_COLUMNS = ("esf_grant_sek", "total_budget_sek", "planned_participants")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
DATE_COLUMNS = ("start_date", "end_date")
CHILD_COLUMNS = {
    "organisations": ["project_id", "role", "name", "name_normalized", "truncated"],
    "municipalities": ["project_id", "name_as_written", "municipality_code", "municipality", "county",
                       "region_code"],
    "sections": ["project_id", "section", "heading", "text"],
}
CHILD_MODELS = {"organisations": Organisation, "municipalities": ProjectMunicipality, "sections": Section}


@dataclass
class Validated:
    projects: pd.DataFrame
    organisations: pd.DataFrame
    municipalities: pd.DataFrame
    sections: pd.DataFrame
    rejects: list[dict[str, Any]] = field(default_factory=list)   # rows for the `rejects` table


def projects_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    data = {}
    for col in PROJECT_COLUMNS:
        values = [r.get(col) for r in rows]
        if col in INT_COLUMNS:
            data[col] = pd.Series(values, dtype="Int64")
        elif col in DATE_COLUMNS:
            data[col] = pd.to_datetime(pd.Series(values, dtype="object"))
        elif col == "cofinancing_rate":
            data[col] = pd.Series(values, dtype="float64")
        else:
            data[col] = pd.Series(values, dtype=str)
    return pd.DataFrame(data)


def child_frame(kind: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    cols = CHILD_COLUMNS[kind]
    return pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=bool if c == "truncated" else str)
                         for c in cols})


def _failures(model: type[pa.DataFrameModel], df: pd.DataFrame) -> list[dict[str, Any]]:
    if df.empty:
        return []
    try:
        model.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        if cases["index"].isna().any():  # a whole column failed: a bug in the parser, not a bad page
            raise
        return cases.to_dict("records")
    return []


def validate(pages: list[ParsedPage]) -> Validated:
    """Validate lazily; every failing row turns its page into a reject naming field, check and value."""
    pages = [p for p in pages if p.ok]
    rejects: list[dict[str, Any]] = []
    bad_ids: set[str] = set()
    rows = [_holdable(p.project, rejects, bad_ids) for p in pages]
    projects = projects_frame(rows)
    children = {kind: child_frame(kind, [row for p in pages for row in getattr(p, kind)]) for kind in CHILD_COLUMNS}
    source_of = dict(zip(projects["project_id"], projects["source_key"]))
    for case in _failures(Project, projects):
        row = projects.loc[case["index"]]
        bad_ids.add(row["project_id"])
        rejects.append(_reject(row["source_key"], row, case, "projects"))
    for kind, model in CHILD_MODELS.items():
        df = children[kind]
        for case in _failures(model, df):
            row = df.loc[case["index"]]
            bad_ids.add(row["project_id"])
            rejects.append(_reject(source_of.get(row["project_id"]), row, case, kind))
    rejects = list({(r["source_key"], r["field"], r["reason"], r["value"]): r for r in rejects}.values())
    keep = ~projects["project_id"].isin(bad_ids)
    return Validated(
        projects=projects[keep].reset_index(drop=True),
        organisations=_keep(children["organisations"], bad_ids),
        municipalities=_keep(children["municipalities"], bad_ids),
        sections=_keep(children["sections"], bad_ids),
        rejects=rejects,
    )


def _holdable(project: dict[str, Any], rejects: list[dict[str, Any]], bad_ids: set[str]) -> dict[str, Any]:
    """The project with every value its column's type cannot hold (pandas would raise) as a reject and None."""
    row = dict(project)
    for col in (*INT_COLUMNS, *DATE_COLUMNS, "cofinancing_rate"):
        value = row.get(col)
        if not _fits(col, value):
            bad_ids.add(row["project_id"])
            rejects.append({"source_key": row["source_key"], "project_id": row["project_id"], "stage": "validate",
                            "severity": "error", "field": f"projects.{col}",
                            "reason": "not_representable: the column's type cannot hold the value",
                            "value": _text(value)})
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


def _reject(source_key: str | None, row: pd.Series, case: dict[str, Any], table: str) -> dict[str, Any]:
    check = str(case.get("check"))
    if case.get("schema_context") == "DataFrameSchema":  # a row-wise check: name the columns it reads
        columns = CHECK_COLUMNS.get(check.split(":")[0], ())
        field_name = ",".join(f"{table}.{c}" for c in columns) or table
        value = "; ".join(f"{c}={_text(row[c])}" for c in columns) or None
    else:
        field_name, value = f"{table}.{case.get('column')}", _text(case.get("failure_case"))
    return {"source_key": source_key, "project_id": row["project_id"], "stage": "validate",
            "severity": "error", "field": field_name, "reason": check, "value": value}


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    try:
        return str(value)
    except ValueError:  # an int longer than Python turns into digits (sys.get_int_max_str_digits)
        return f"an integer of {value.bit_length()} bits"
