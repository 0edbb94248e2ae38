"""One row of an official list → one ListRow (or an error when it has no identity), with a warning for each value
that cannot be read. A reader is built once per file (which column holds which field) and called for every row;
columns of few distinct values (dates, rates, codes, places) are read once per distinct value."""
from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any, Callable

from records.lists import COLUMNS, KOHESIO, OPERATIONS, ListChunk, ListProblem
from transform import list_values as lv
from transform import normalize as nz
from transform import reference
from transform.tables import Row, UnreadableRow

MEMO_LIMIT = 10_000  # distinct values remembered per column (a date column has a few thousand)
# The problem's field: the ListRow attribute a heading fills, where the vocabulary names it otherwise.
REPORTED_AS = {"programme_area": "programme_area_code"}


def _amount_sv(cell: Any) -> tuple[Decimal | None, str | None]:
    return lv.read_amount(cell, decimal_comma=True)


def _amount_dot(cell: Any) -> tuple[Decimal | None, str | None]:
    return lv.read_amount(cell, decimal_comma=False)


LENIENT = frozenset({_amount_sv, _amount_dot})  # readers that return (value, note): the note is a warning


_COMMON: dict[str, tuple[Callable[[Any], Any], bool]] = {  # field → (reader, memo)
    "name": (lv.text, False), "name_en": (lv.text, False), "beneficiary": (lv.text, True),
    "beneficiary_org_number": (lv.org_number, True), "beneficiary_city": (lv.text, True),
    "country": (lv.text, True), "intervention_type": (lv.intervention, True), "cofinancing_rate": (lv.rate, True),
    "start_date": (lv.list_date, True), "end_date": (lv.list_date, True), "summary": (lv.plain_text, False),
    "summary_en": (lv.plain_text, False), "fund": (lv.text, True), "programme_cci": (lv.cci, True),
}
READERS: dict[str, dict[str, tuple[Callable[[Any], Any], bool]]] = {
    OPERATIONS: {**_COMMON, "case_number": (lv.case_number, False), "programme_area": (lv.programme_area, True),
                 "specific_objective": (lv.objective, True), "total_budget": (_amount_sv, False),
                 "eu_grant": (_amount_sv, False)},
    KOHESIO: {**_COMMON, "external_id": (lv.identifier, False), "local_identifier": (lv.identifier, False),
              "total_budget": (_amount_dot, False), "eu_grant": (_amount_dot, False),
              "currency": (lv.currency, True), "fund_name": (lv.text, True), "programme_period": (lv.period, True),
              "country_code": (lv.text, True)},
}


class RowReader:
    """Reads blocks of rows of one file of one kind, whose headings put the fields in `columns` (field → index),
    a column at a time. Picklable: a worker process reads blocks with its own copy (and its own memos)."""

    def __init__(self, kind: str, columns: dict[str, int], width: int | None = None, short_ok: bool = False):
        self.kind, self.columns, self.short_ok = kind, columns, short_ok
        self.width = width if width is not None else max(columns.values(), default=-1) + 1
        readers = READERS[kind]
        self.plan: list[tuple[str, int, Callable[[Any], Any], bool]] = [
            (name, index, readers[name][0], readers[name][1]) for name, index in columns.items() if name in readers]
        self.memos: dict[str, dict[Any, tuple[Any, str | None]]] = {name: {} for name, *_ in self.plan}
        self.assemble = _operations if kind == OPERATIONS else _kohesio

    def __getstate__(self) -> dict[str, Any]:
        """Without the memos: each block sent to a worker would carry them."""
        return {**self.__dict__, "memos": {name: {} for name in self.memos}}

    def read_block(self, block: list[Row]) -> ListChunk:
        """Table rows (row number, cells) → a chunk of ListRows by column, and the block's problems by row."""
        chunk = ListChunk(self.kind)
        problems: list[ListProblem] = []
        numbers: list[int] = []
        rows: list[list[lv.Cell]] = []
        for number, cells in block:
            if isinstance(cells, UnreadableRow):
                problems.append(ListProblem(number, None, f"row not readable: {cells.reason}", None, "error"))
                continue
            if len(cells) != self.width:
                _ragged(number, cells, self.width, self.short_ok, problems)
                cells = (cells + [None] * self.width)[:self.width]
            numbers.append(number)
            rows.append(cells)
        if rows:
            cells_by_column = list(zip(*rows))
            values = {name: self._column(name, fn, memo, cells_by_column[index], numbers, problems)
                      for name, index, fn, memo in self.plan}
            self._assemble(chunk, numbers, values, cells_by_column, problems)
        problems.sort(key=_row_of)  # stable: a row's own problems keep their order (cells, then the row's)
        chunk.problems = problems
        return chunk

    def _column(self, name: str, fn: Callable[[Any], Any], memo: bool, cells: tuple[lv.Cell, ...],
                numbers: list[int], problems: list[ListProblem]) -> list[Any]:
        """One field's values for a block's rows; a warning (with its row) for each cell that cannot be read."""
        if memo:
            seen = self.memos[name]
            for cell in set(cells):
                if cell not in seen and cell is not None and cell != "":
                    if len(seen) >= MEMO_LIMIT:
                        seen.clear()
                    seen[cell] = _safe(fn, cell)
            got = [_NOTHING if cell is None or cell == "" else seen[cell] for cell in cells]
        elif fn in LENIENT:
            got = [_NOTHING if cell is None or cell == "" else _lenient(fn, cell) for cell in cells]
        else:
            got = [_NOTHING if cell is None or cell == "" else _safe(fn, cell) for cell in cells]
        field = REPORTED_AS.get(name, name)
        for number, cell, (_, reason) in zip(numbers, cells, got):
            if reason is not None:
                problems.append(ListProblem(number, field, reason, lv.cell_text(cell)))
        return [value for value, _ in got]

    def _assemble(self, chunk: ListChunk, numbers: list[int], values: dict[str, list[Any]],
                  cells_by_column: list[tuple[lv.Cell, ...]], problems: list[ListProblem]) -> None:
        out = chunk.columns
        names = [name for name, *_ in self.plan]
        for i, number in enumerate(numbers):
            row_values = {name: values[name][i] for name in names}
            written = _Written(cells_by_column, self.columns, i)
            fields = self.assemble(number, row_values, written, problems)
            if fields is None:
                continue
            _check_dates(number, fields, written, problems)
            fields["sha256"] = row_hash(self.kind, fields)
            fields["row_number"] = number
            for name in COLUMNS:
                out[name].append(fields.get(name))


_NOTHING: tuple[Any, str | None] = (None, None)


def _row_of(problem: ListProblem) -> int:
    return problem.row_number or 0


def _ragged(number: int, cells: list[lv.Cell], width: int, short_ok: bool, problems: list[ListProblem]) -> None:
    if len(cells) > width and any(lv.cell_text(c) not in (None, "") for c in cells[width:]):
        problems.append(ListProblem(number, None, f"row has {len(cells)} cells, the heading row {width}: "
                                                  "the cells past the last heading are not read", None))
    elif len(cells) < width and not short_ok:
        problems.append(ListProblem(number, None, f"row has {len(cells)} cells, the heading row {width}: "
                                                  "the missing ones are read as empty", None))


class _Written:
    """A row's cells by field, as written (for the value a warning quotes)."""

    def __init__(self, cells_by_column: list[tuple[lv.Cell, ...]], columns: dict[str, int], row: int):
        self.cells_by_column, self.columns, self.row = cells_by_column, columns, row

    def get(self, name: str) -> Any:
        index = self.columns.get(name)
        return self.cells_by_column[index][self.row] if index is not None else None


def _lenient(fn: Callable[[Any], Any], cell: Any) -> tuple[Any, str | None]:
    """A reader that returns (value, note): the note is a warning; a ValueProblem is one too."""
    try:
        result: tuple[Any, str | None] = fn(cell)
        return result
    except nz.ValueProblem as exc:
        return None, str(exc)


def _safe(fn: Callable[[Any], Any], cell: Any) -> tuple[Any, str | None]:
    try:
        return fn(cell), None
    except nz.ValueProblem as exc:
        return None, str(exc)


def _common(values: dict[str, Any]) -> dict[str, Any]:
    get = values.get
    return dict(name=get("name"), name_en=get("name_en"), beneficiary=get("beneficiary"),
                beneficiary_org_number=get("beneficiary_org_number"), beneficiary_city=get("beneficiary_city"),
                country=get("country"), intervention_type=get("intervention_type"),
                total_budget=get("total_budget"), eu_grant=get("eu_grant"),
                cofinancing_rate=get("cofinancing_rate"), start_date=get("start_date"), end_date=get("end_date"),
                summary=get("summary"), summary_en=get("summary_en"), fund=get("fund"),
                programme_cci=get("programme_cci"))


def _operations(number: int, values: dict[str, Any], written: _Written,
                problems: list[ListProblem]) -> dict[str, Any] | None:
    case = values.get("case_number")
    external = case or "".join((lv.identifier(written.get("case_number")) or "").split()).upper()
    if not external or nz.is_missing(external):
        problems.append(ListProblem(number, "case_number", "no identity: the row has no case number (Diarienummer)",
                                    None, "error"))
        return None
    fields = _common(values)
    period = lv.period_of_cci(fields["programme_cci"]) or _case_period(case)
    fields.update(external_id=external, case_number=case, currency="SEK", programme_period=period,
                  specific_objective=values.get("specific_objective"),
                  programme_area_code=_area(number, values.get("programme_area"), period, written, problems))
    return fields


def _kohesio(number: int, values: dict[str, Any], written: _Written,
             problems: list[ListProblem]) -> dict[str, Any] | None:
    local = values.get("local_identifier")
    item = lv.kohesio_item(values.get("external_id"))
    if item is None and local is None:
        problems.append(ListProblem(number, "external_id", "no identity: neither Operation_Unique_Identifier nor "
                                                           "Operation_Local_Identifier", None, "error"))
        return None
    fields = _common(values)
    case = lv.kohesio_case_number(local)
    stated, period = values.get("programme_period"), lv.period_of_cci(fields["programme_cci"])
    if period and stated and period != stated:
        problems.append(ListProblem(number, "programme_period", f"Programming_Period says {stated}, the CCI "
                                    f"{fields['programme_cci']} {period}: the CCI's is kept",
                                    lv.cell_text(written.get("programme_period"))))
    fields.update(external_id=item or local, case_number=case, currency=values.get("currency"),
                  programme_period=period or stated or _case_period(case),
                  fund=fields["fund"] or values.get("fund_name"),
                  country=fields["country"] or values.get("country_code"))
    return fields


def _case_period(case: str | None) -> str | None:
    return nz.case_number_period(case) if case else None


def _area(number: int, code: str | None, period: str | None, written: _Written,
          problems: list[ListProblem]) -> str | None:
    if code and period and (period, code) not in reference.programme_areas():
        problems.append(ListProblem(number, "programme_area_code", f"no programme area {code} in {period}",
                                    lv.cell_text(written.get("programme_area"))))
        return None
    return code


def _check_dates(number: int, fields: dict[str, Any], written: _Written, problems: list[ListProblem]) -> None:
    """An end date before the start date: both None with a warning on each, as the page parser does."""
    start, end = fields["start_date"], fields["end_date"]
    if start and end and end < start:
        for name in ("start_date", "end_date"):
            problems.append(ListProblem(number, name, f"end date {end} is before start date {start}",
                                        lv.cell_text(written.get(name))))
        fields["start_date"] = fields["end_date"] = None


HASHED = ("external_id", "case_number", "name", "name_en", "beneficiary", "beneficiary_org_number",
          "beneficiary_city", "country", "programme_area_code", "specific_objective", "intervention_type",
          "total_budget", "eu_grant", "currency", "cofinancing_rate", "start_date", "end_date", "summary",
          "summary_en", "fund", "programme_cci", "programme_period")


def row_hash(kind: str, fields: dict[str, Any]) -> str:
    """Of the normalised values only (not the row number): an unchanged row of a re-exported file keeps its hash.
    Amounts are held to öre and rates normalised, so the same value read from CSV or XLSX hashes the same."""
    text = "\x1f".join(["\x00" if v is None else str(v) for v in map(fields.get, HASHED)])
    return hashlib.sha256(f"{kind}\x1f{text}".encode()).hexdigest()
