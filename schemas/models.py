"""Pandera schemas, one per warehouse table the parser feeds. They declare; schemas.validate applies them.

The projects schemas derive from the one declaration of the columns (records/project.py). Every rule is
declared here; a rule on an identity column fails the row (the page becomes a reject), every other rule
only reports (REPORT_SCHEMA): the value becomes NULL with a warning and the project loads.
"""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing.pandas import Series

from records.project import COLUMN, PROJECT_COLUMNS
from transform import reference
from transform.limits import EARLIEST_DATE, LATEST_DATE, MAX_AMOUNT_SEK, MAX_PARTICIPANTS, MAX_RATE, MIN_RATE

PERIODS = ["2007-2013", "2014-2020", "2021-2027"]
TEMPLATES = ["A", "B", "C"]
ROLES = ["owner", "co_financier", "partner"]
AREA_CODES = ["1", "2", "3", "4", "5", "A", "B", "C", "D", "E", "F"]
EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
PHONE = r"^\+\d{8,14}$"
CASE_NUMBER = r"^(\d{4}/\d{5}|\d{2}-\d{3}-[A-Z]\d{2})$"
EARLIEST, LATEST = pd.Timestamp(EARLIEST_DATE), pd.Timestamp(LATEST_DATE)
DTYPES = {"text": str, "int": "Int64", "date": "datetime64[ns]", "rate": float}
# The columns a row-wise check reads, so that a reject or warning can name them and their values.
CHECK_COLUMNS = {
    "identity_present": ("title", "case_number"),
    "grant_within_budget": ("esf_grant_sek", "total_budget_sek"),
    "start_before_end": ("start_date", "end_date"),
    "region_matches_code": ("region", "region_code"),
    "area_in_period": ("programme_period", "programme_area_code"),
    "objective_in_area": ("programme_area_code", "specific_objective"),
    "unique_per_role": ("role", "name"),
}


def _region_names() -> list[str]:
    return sorted({r.name for r in reference.regions().values()})


def _region_codes() -> list[str]:
    return sorted({r.code for r in reference.regions().values()})


def column_checks() -> dict[str, list[pa.Check]]:
    """Every rule on a single project column, by column."""
    amount = [pa.Check.gt(0), pa.Check.le(MAX_AMOUNT_SEK)]
    dates = [pa.Check.ge(EARLIEST), pa.Check.le(LATEST)]
    return {
        "project_id": [pa.Check.str_length(min_value=3)],
        "title": [pa.Check.str_length(min_value=1, max_value=300)],
        "case_number": [pa.Check.str_matches(CASE_NUMBER)],
        "template": [pa.Check.isin(TEMPLATES)],
        "programme_period": [pa.Check.isin(PERIODS)],
        "programme_period_source": [pa.Check.isin(["case_number", "template", "fund", "programme_area"])],
        "programme_area_code": [pa.Check.isin(AREA_CODES)],
        "programme_area_source": [pa.Check.isin(["page", "objective"])],
        "contact_email": [pa.Check.str_matches(EMAIL)],
        "contact_phone": [pa.Check.str_matches(PHONE)],
        "esf_grant_sek": amount,
        "total_budget_sek": amount,
        "cofinancing_rate": [pa.Check.ge(MIN_RATE), pa.Check.le(MAX_RATE)],
        "start_date": dates,
        "end_date": dates,
        "region": [pa.Check.isin(_region_names())],
        "region_code": [pa.Check.isin(_region_codes())],
        "region_source": [pa.Check.isin(["page", "nuts_code"])],
        "planned_participants": [pa.Check.ge(0), pa.Check.le(MAX_PARTICIPANTS)],
        "missing_fields": [pa.Check.ge(0)],
    }


def _identity_present(df: pd.DataFrame) -> pd.Series:
    return df["title"].notna() | df["case_number"].notna()


def _grant_within_budget(df: pd.DataFrame) -> pd.Series:
    return ~(df["esf_grant_sek"] > df["total_budget_sek"]).fillna(False).astype(bool)


def _start_before_end(df: pd.DataFrame) -> pd.Series:
    return ~(df["start_date"] > df["end_date"]).fillna(False).astype(bool)


def _region_matches_code(df: pd.DataFrame) -> pd.Series:
    expected = df["region"].map({r.name: r.code for r in reference.regions().values()})
    return (expected == df["region_code"]) | df["region"].isna() | df["region_code"].isna()


def _area_in_period(df: pd.DataFrame) -> pd.Series:
    known = reference.programme_areas()
    return pd.Series([pd.isna(p) or pd.isna(a) or (p, a) in known
                      for p, a in zip(df["programme_period"], df["programme_area_code"])], index=df.index)


def _objective_in_area(df: pd.DataFrame) -> pd.Series:
    return pd.Series([pd.isna(o) or pd.isna(a) or str(o).startswith(a)
                      for o, a in zip(df["specific_objective"], df["programme_area_code"])], index=df.index)


ROW_CHECKS = {  # name → (function, message, identity?)
    "identity_present": (_identity_present, "neither a case number nor a title", True),
    "grant_within_budget": (_grant_within_budget, "ESF grant is larger than the total budget", False),
    "start_before_end": (_start_before_end, "start date is after end date", False),
    "region_matches_code": (_region_matches_code, "region and NUTS 2 code disagree", False),
    "area_in_period": (_area_in_period, "programme area does not exist in the programme period", False),
    "objective_in_area": (_objective_in_area, "specific objective does not belong to the programme area", False),
}


def project_schema(identity: bool) -> pa.DataFrameSchema:
    """The identity rules (identity=True: a failure rejects the page) or every other rule (a failure reports)."""
    checks = column_checks()
    columns = {}
    for c in PROJECT_COLUMNS:
        mine = c.identity == identity
        columns[c.name] = pa.Column(DTYPES[c.kind], checks=checks.get(c.name, []) if mine else [],
                                    nullable=not (c.required and mine), unique=c.name == "project_id" and identity,
                                    required=True)
    row_checks = [pa.Check(fn, name=name, error=f"{name}: {message}")
                  for name, (fn, message, is_identity) in ROW_CHECKS.items() if is_identity == identity]
    return pa.DataFrameSchema(columns, checks=row_checks, strict=False, coerce=False,
                              name="projects (identity)" if identity else "projects (report)")


IDENTITY_SCHEMA = project_schema(identity=True)
REPORT_SCHEMA = project_schema(identity=False)


class Organisation(pa.DataFrameModel):
    project_id: Series[str]
    role: Series[str] = pa.Field(isin=ROLES)
    name: Series[str] = pa.Field(str_length={"min_value": 1})
    name_normalized: Series[str] = pa.Field(str_length={"min_value": 1})
    truncated: Series[bool]

    @pa.dataframe_check(error="unique_per_role: an organisation is listed twice in one role")
    def unique_per_role(cls, df: pd.DataFrame) -> Series[bool]:
        unique: Series[bool] = ~df.duplicated(["project_id", "role", "name"], keep=False)
        return unique


class ProjectMunicipality(pa.DataFrameModel):
    project_id: Series[str]
    name_as_written: Series[str] = pa.Field(str_length={"min_value": 1})
    municipality_code: Series[str] = pa.Field(nullable=True, str_matches=r"^\d{4}$")
    region_code: Series[str] = pa.Field(nullable=True, isin=_region_codes())


class Section(pa.DataFrameModel):
    project_id: Series[str]
    section: Series[str] = pa.Field(str_length={"min_value": 1})
    text: Series[str] = pa.Field(str_length={"min_value": 1})
