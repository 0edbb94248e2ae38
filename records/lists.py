"""The official lists' rows — ESF-rådet's list of operations (Regulation 2021/1060 Art. 49(3)) and Kohesio's export —
as the parser hands them to the loader: one normalised row each, with its row number in the file, and the problems
a row or the file left behind. The contract between transform/lists.py (reads) and load/lists.py (stores, links)."""
from __future__ import annotations

from records.severity import Severity

from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from typing import Any
from records.errors import UsageError

OPERATIONS, KOHESIO = "operations", "kohesio"
LIST_STAGE = "list"  # the stage of a list's problems in `rejects` and `warnings`
LIST_KINDS: tuple[str, ...] = (OPERATIONS, KOHESIO)


@dataclass(frozen=True)
class ListRow:
    """One row of a list, normalised. Amounts are in `currency` (the list of operations: always SEK)."""
    kind: str                          # OPERATIONS | KOHESIO
    row_number: int                    # the row's line in the file: the heading is row 1, the first data row 2
    external_id: str                   # operations: the case number; kohesio: the item id (Q4039171)
    case_number: str | None            # normalised like the project bank's (2015/00738, 22-002-S01)
    name: str | None = None
    name_en: str | None = None
    beneficiary: str | None = None
    beneficiary_org_number: str | None = None  # ten digits, as the pages write owner_org_number ('2120001124')
    beneficiary_city: str | None = None
    country: str | None = None
    programme_area_code: str | None = None     # 1..5 (2014-2020) or A..F (ESF+), as projects.programme_area_code
    specific_objective: str | None = None
    intervention_type: str | None = None       # the intervention field's code, '109' (never '109.0')
    total_budget: Decimal | None = None
    eu_grant: Decimal | None = None
    currency: str | None = None                # 'SEK', 'EUR' … (None: not stated)
    cofinancing_rate: Decimal | None = None    # 0..1 (90 % → 0.9)
    start_date: date | None = None
    end_date: date | None = None
    summary: str | None = None                 # plain text, HTML removed
    summary_en: str | None = None
    fund: str | None = None
    programme_cci: str | None = None
    programme_period: str | None = None        # '2014-2020' | '2021-2027', from the CCI or the stated period
    sha256: str = ""                           # of the normalised values: a changed row is a new version
    duplicate_of: int | None = None            # another row of the same file has this external_id: its row number


@dataclass(frozen=True)
class ListProblem:
    """A value a row could not give (warning: the row loads with the field NULL) or a row that is not one
    (error: no identity; the row is a reject). row_number None: the file's own problem (a missing column)."""
    row_number: int | None
    field: str | None
    reason: str
    value: str | None = None
    severity: Severity = "warning"


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ListRow) if f.name != "kind")


@dataclass
class ListChunk:
    """A slice of a list's rows (memory stays bounded however long the file) and their problems. The rows are held
    by column (ListRow's fields but its kind → one value per row): a reader fills them a column at a time, the load
    stages them a column at a time, and a worker process hands them back cheaply."""
    kind: str = OPERATIONS
    columns: dict[str, list[Any]] = field(default_factory=lambda: {name: [] for name in COLUMNS})
    problems: list[ListProblem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.columns["row_number"])

    @property
    def rows(self) -> list[ListRow]:
        """The rows as ListRow records."""
        return [ListRow(self.kind, *values) for values in zip(*(self.columns[name] for name in COLUMNS))]


class NotAList(UsageError, ValueError):
    """A table whose headings are neither the list of operations' nor Kohesio's, or a file that is no table."""
