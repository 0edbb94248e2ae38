"""Pandera models, one per warehouse table the parser feeds. They declare; schemas.validate applies them."""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing.pandas import Series

from transform import reference
from transform.limits import EARLIEST_DATE, LATEST_DATE, MAX_AMOUNT_SEK, MAX_PARTICIPANTS, MAX_RATE, MIN_RATE

PERIODS = ["2007-2013", "2014-2020", "2021-2027"]
TEMPLATES = ["A", "B", "C"]
ROLES = ["owner", "co_financier", "partner"]
EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
PHONE = r"^\+\d{8,14}$"
EARLIEST, LATEST = pd.Timestamp(EARLIEST_DATE), pd.Timestamp(LATEST_DATE)
# The columns a row-wise check reads, so that a reject can name them and their values.
CHECK_COLUMNS = {
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


class Project(pa.DataFrameModel):
    """One row per project: the `projects` columns that come from the page."""

    project_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 3})
    title: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 300})
    case_number: Series[str] = pa.Field(nullable=True, str_matches=r"^(\d{4}/\d{5}|\d{2}-\d{3}-[A-Z]\d{2})$")
    programme_period: Series[str] = pa.Field(isin=PERIODS)
    programme_area_code: Series[str] = pa.Field(isin=["1", "2", "3", "4", "5", "A", "B", "C", "D", "E", "F"])
    specific_objective: Series[str] = pa.Field(nullable=True)
    contact_email: Series[str] = pa.Field(nullable=True, str_matches=EMAIL)
    contact_phone: Series[str] = pa.Field(nullable=True, str_matches=PHONE)
    esf_grant_sek: Series[pd.Int64Dtype] = pa.Field(nullable=True, gt=0, le=MAX_AMOUNT_SEK)
    total_budget_sek: Series[pd.Int64Dtype] = pa.Field(nullable=True, gt=0, le=MAX_AMOUNT_SEK)
    cofinancing_rate: Series[float] = pa.Field(nullable=True, ge=MIN_RATE, le=MAX_RATE)
    start_date: Series[pa.DateTime] = pa.Field(nullable=True, ge=EARLIEST, le=LATEST)
    end_date: Series[pa.DateTime] = pa.Field(nullable=True, ge=EARLIEST, le=LATEST)
    region: Series[str] = pa.Field(isin=_region_names())
    region_code: Series[str] = pa.Field(isin=_region_codes())
    planned_participants: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, le=MAX_PARTICIPANTS)
    template: Series[str] = pa.Field(isin=TEMPLATES)

    @pa.dataframe_check(error="grant_within_budget: ESF grant is larger than the total budget")
    def grant_within_budget(cls, df: pd.DataFrame) -> Series[bool]:
        return ~(df["esf_grant_sek"] > df["total_budget_sek"]).fillna(False).astype(bool)

    @pa.dataframe_check(error="start_before_end: start date is after end date")
    def start_before_end(cls, df: pd.DataFrame) -> Series[bool]:
        return ~(df["start_date"] > df["end_date"]).fillna(False).astype(bool)

    @pa.dataframe_check(error="region_matches_code: region and NUTS 2 code disagree")
    def region_matches_code(cls, df: pd.DataFrame) -> Series[bool]:
        expected = df["region"].map({r.name: r.code for r in reference.regions().values()})
        return expected == df["region_code"]

    @pa.dataframe_check(error="area_in_period: programme area does not exist in the programme period")
    def area_in_period(cls, df: pd.DataFrame) -> Series[bool]:
        known = reference.programme_areas()
        return pd.Series([(p, a) in known for p, a in zip(df["programme_period"], df["programme_area_code"])],
                         index=df.index)

    @pa.dataframe_check(error="objective_in_area: specific objective does not belong to the programme area")
    def objective_in_area(cls, df: pd.DataFrame) -> Series[bool]:
        return pd.Series([o is None or pd.isna(o) or str(o).startswith(a)
                          for o, a in zip(df["specific_objective"], df["programme_area_code"])], index=df.index)

    class Config:
        strict = False
        coerce = False


class Organisation(pa.DataFrameModel):
    project_id: Series[str]
    role: Series[str] = pa.Field(isin=ROLES)
    name: Series[str] = pa.Field(str_length={"min_value": 1})
    name_normalized: Series[str] = pa.Field(str_length={"min_value": 1})
    truncated: Series[bool]

    @pa.dataframe_check(error="unique_per_role: an organisation is listed twice in one role")
    def unique_per_role(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df.duplicated(["project_id", "role", "name"], keep=False)


class ProjectMunicipality(pa.DataFrameModel):
    project_id: Series[str]
    name_as_written: Series[str] = pa.Field(str_length={"min_value": 1})
    municipality_code: Series[str] = pa.Field(nullable=True, str_matches=r"^\d{4}$")
    region_code: Series[str] = pa.Field(nullable=True, isin=_region_codes())


class Section(pa.DataFrameModel):
    project_id: Series[str]
    section: Series[str] = pa.Field(str_length={"min_value": 1})
    text: Series[str] = pa.Field(str_length={"min_value": 1})
