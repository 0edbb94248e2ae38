"""The project's columns, declared once (the Pandera schemas, the record builder and a test of the SQL table
derive from this list), and the problem row a page's parse or validation leaves behind."""
from __future__ import annotations

from records.severity import Severity

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

# kind → the SQL type a column of that kind has in `projects` (planned_participants overrides it)
SQL_TYPES = {"text": "VARCHAR", "int": "BIGINT", "date": "DATE", "rate": "DECIMAL(5,4)"}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"           # text | int | date | rate
    identity: bool = False       # a rule on it fails the row (the page is rejected); others only report
    required: bool = False       # never NULL (NOT NULL in SQL)
    origin: str = "page"         # page: read from the page | derived: computed by a named rule |
    #                              provenance: where the record came from | quality: what is missing
    sql: str | None = None       # when the SQL type is not the kind's
    personal: bool = False       # personal data: withheld everywhere it could travel under --without-contacts

    @property
    def sql_type(self) -> str:
        return self.sql or SQL_TYPES[self.kind]


PROJECT_COLUMNS: tuple[Column, ...] = (
    Column("project_id", identity=True, required=True, origin="derived"),
    Column("title", identity=True),
    Column("case_number", identity=True),
    Column("call_number"),
    Column("programme_period", origin="derived"),
    Column("programme_period_source", origin="derived"),
    Column("programme_area_code"),
    Column("programme_area_source", origin="derived"),
    Column("programme_area_name"),
    Column("specific_objective"),
    Column("phase"),
    Column("owner"),
    Column("owner_org", origin="derived"),
    Column("owner_org_number"),
    Column("contact_name", personal=True),
    Column("contact_email", personal=True),
    Column("contact_phone", personal=True),
    Column("esf_grant_sek", "int"),
    Column("total_budget_sek", "int"),
    Column("cofinancing_rate", "rate"),
    Column("intervention_type"),
    Column("start_date", "date"),
    Column("end_date", "date"),
    Column("region"),
    Column("region_code"),
    Column("region_source", origin="derived"),
    Column("planned_participants", "int", sql="INTEGER"),
    Column("missing_fields", "int", required=True, origin="quality", sql="INTEGER"),
    Column("source_url", origin="provenance"),
    Column("source_key", identity=True, required=True, origin="provenance"),
    Column("template", identity=True, required=True),
    Column("sha256", origin="provenance"),
)
COLUMN = {c.name: c for c in PROJECT_COLUMNS}
NAMES: tuple[str, ...] = tuple(c.name for c in PROJECT_COLUMNS)
# Written by load/, not by the parser: the rest of a `projects` row.
WAREHOUSE_COLUMNS: tuple[Column, ...] = (
    Column("record_hash", required=True), Column("first_seen", sql="TIMESTAMP WITH TIME ZONE", required=True),
    Column("last_seen", sql="TIMESTAMP WITH TIME ZONE", required=True), Column("run_id", "int", required=True),
    Column("gone_since", sql="TIMESTAMP WITH TIME ZONE"),
    *(Column(f"{name}_source") for name in ("esf_grant_sek", "total_budget_sek", "cofinancing_rate", "owner_org_number",
                                             "intervention_type")),
)
# Columns a page may leave empty that the official lists fill (load/links.py), each with `<column>_source`
# ('page' | 'operations' | 'kohesio'). The page's own value is the record (its hash, project_versions); a filled
# value lives only in the current `projects` row, so filling it never makes a new version.
ENRICHED: tuple[str, ...] = tuple(c.name.removesuffix("_source") for c in WAREHOUSE_COLUMNS
                                  if c.name.endswith("_source"))
# Where a record came from: a change in these is not a new version.
PROVENANCE: tuple[str, ...] = tuple(c.name for c in PROJECT_COLUMNS if c.origin == "provenance")
# What the parser notes about the values (which rule gave them, how many are missing): refreshed in place
# whenever a page is parsed, not a new version by themselves.
ANNOTATIONS: tuple[str, ...] = tuple(c.name for c in PROJECT_COLUMNS
                                     if c.name.endswith("_source") and c.origin == "derived" or c.origin == "quality")
# Personal data (contact persons): the one list, read by records/personal.py and from there by every place that
# withholds it (publish, export, the run report, the data dictionary).
PERSONAL: tuple[str, ...] = tuple(c.name for c in PROJECT_COLUMNS if c.personal)


def names_of(kind: str) -> tuple[str, ...]:
    return tuple(c.name for c in PROJECT_COLUMNS if c.kind == kind)


def empty_record() -> dict[str, object]:
    """A project record with every declared column, all None (missing_fields 0)."""
    return {**dict.fromkeys(NAMES), "missing_fields": 0}


@dataclass
class Problem:
    """Something about a page: 'error' rejects it (not a project page, no identity); 'warning' is recorded
    and the project loads with the field NULL (or read leniently)."""
    field: str | None
    reason: str
    value: str | None = None
    severity: Severity = "error"
    stage: str = "parse"
    kind: str | None = None  # for a warning on a field: missing | unreadable | lenient | derived | conflict


@dataclass
class ParsedPage:
    """One page read: its normalized project record (None when it is not a project page), the rows of its lists
    and sections, and every problem found on the way."""
    source_key: str
    template: str | None
    project: dict[str, Any] | None
    organisations: list[dict[str, Any]] = field(default_factory=list)
    municipalities: list[dict[str, Any]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def project_id(self) -> str | None:
        return self.project["project_id"] if self.project else None

    @property
    def ok(self) -> bool:
        return self.project is not None and not any(p.severity == "error" for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        """The shape `esf parse --format json` prints: project columns at the top level."""
        out = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in (self.project or {}).items()}
        out["template"] = self.template
        out["organisations"] = self.organisations
        out["municipalities"] = self.municipalities
        out["sections"] = self.sections
        out["problems"] = [asdict(p) for p in self.problems]
        return out
