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
from transform.csv_slices import CsvSlice
from transform.tables import Row, UnreadableRow, rows_of

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
# Every reader reads an empty cell (None or '') as None (LENIENT ones as (None, None)); a test holds it to that.
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

    def read_block(self, block: list[Row] | CsvSlice) -> ListChunk:
        """Table rows (row number, cells) → a chunk of ListRows by column, and the block's problems by row.
        A cell no normaliser foresaw (an exception other than ValueProblem) costs its row, not the file: the
        block is read again row by row, and that row is an error naming the exception."""
        rows = rows_of(block)
        try:
            return self._read_block(rows)
        except Exception as exc:
            if len(rows) > 1:
                return _joined(self.kind, [self.read_block([row]) for row in rows])
            number = rows[0][0]
            return ListChunk(self.kind, problems=[ListProblem(number, None, f"row not readable: {type(exc).__name__}: "
                                                                            f"{exc}", None, "error")])

    def _read_block(self, block: list[Row]) -> ListChunk:
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
        distinct = set(cells) if memo else None
        if distinct is not None and len(distinct) * 2 <= len(cells):  # else the memo costs more than it saves
            seen = self.memos[name]
            for cell in distinct:
                if cell not in seen and cell is not None and cell != "":
                    if len(seen) >= MEMO_LIMIT:
                        seen.clear()
                    seen[cell] = _safe(fn, cell)
            got = [_NOTHING if cell is None or cell == "" else seen[cell] for cell in cells]
        elif (read := _all_read(fn, cells)) is None:  # some cell cannot be read: each is read apart
            reader = _lenient if fn in LENIENT else _safe
            got = [_NOTHING if cell is None or cell == "" else reader(fn, cell) for cell in cells]
        elif fn in LENIENT:
            got = read  # (value, note) each: a note is a warning
        else:
            return read
        field = REPORTED_AS.get(name, name)
        for number, cell, (_, reason) in zip(numbers, cells, got):
            if reason is not None:
                problems.append(ListProblem(number, field, reason, lv.cell_text(cell)))
        return [value for value, _ in got]

    def _assemble(self, chunk: ListChunk, numbers: list[int], values: dict[str, list[Any]],
                  cells_by_column: list[tuple[lv.Cell, ...]], problems: list[ListProblem]) -> None:
        """The block's ListRow columns from its fields' values: identity, period, area and date checks, the
        hash; a row without identity is dropped (its error is among the problems)."""
        count = len(numbers)
        nothing: list[Any] = [None] * count
        fields = {name: list(values.get(name, nothing)) for name in COMMON}
        written = _Written(cells_by_column, self.columns)
        keep = self.assemble(numbers, values, fields, written, problems)
        _check_dates(numbers, keep, fields, written, problems)
        fields["row_number"] = list(numbers)
        for name in COLUMNS:
            fields.setdefault(name, list(nothing))  # e.g. Kohesio gives no programme area
        hashed = [fields[name] for name in HASHED]
        fields["sha256"] = nothing[:]
        for i in keep:
            fields["sha256"][i] = row_hash(self.kind, [column[i] for column in hashed])
        if len(keep) < count:
            fields = {name: [column[i] for i in keep] for name, column in fields.items()}
        chunk.columns = {name: fields[name] for name in COLUMNS}


_NOTHING: tuple[Any, str | None] = (None, None)


def _joined(kind: str, chunks: list[ListChunk]) -> ListChunk:
    """One chunk of several, in order."""
    joined = ListChunk(kind)
    for chunk in chunks:
        for name, values in chunk.columns.items():
            joined.columns[name] += values
        joined.problems += chunk.problems
    return joined


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
    """A block's cells by field, as written (for the value a warning quotes)."""

    def __init__(self, cells_by_column: list[tuple[lv.Cell, ...]], columns: dict[str, int]):
        self.cells_by_column, self.columns = cells_by_column, columns

    def get(self, name: str, row: int) -> Any:
        index = self.columns.get(name)
        return self.cells_by_column[index][row] if index is not None else None


def _all_read(fn: Callable[[Any], Any], cells: tuple[lv.Cell, ...]) -> list[Any] | None:
    """Every cell read in one pass, in C (an empty one reads as None); None when one cannot be read."""
    try:
        return list(map(fn, cells))
    except nz.ValueProblem:
        return None


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


COMMON = ("name", "name_en", "beneficiary", "beneficiary_org_number", "beneficiary_city", "country",
          "intervention_type", "total_budget", "eu_grant", "cofinancing_rate", "start_date", "end_date", "summary",
          "summary_en", "fund", "programme_cci")  # the fields both kinds take as read


def _operations(numbers: list[int], values: dict[str, list[Any]], fields: dict[str, list[Any]], written: _Written,
                problems: list[ListProblem]) -> list[int]:
    """The list of operations' own columns into `fields`; → the rows (indexes) that have an identity."""
    count = len(numbers)
    nothing: list[Any] = [None] * count
    cases, areas = values.get("case_number", nothing), values.get("programme_area", nothing)
    external, periods, area_codes = nothing[:], nothing[:], nothing[:]
    keep = []
    for i, (number, case, cci, code) in enumerate(zip(numbers, cases, fields["programme_cci"], areas)):
        identity = case or "".join((lv.identifier(written.get("case_number", i)) or "").split()).upper()
        if not identity or nz.is_missing(identity):
            problems.append(ListProblem(number, "case_number", "no identity: the row has no case number "
                                                               "(Diarienummer)", None, "error"))
            continue
        keep.append(i)
        external[i] = identity
        periods[i] = period = lv.period_of_cci(cci) or _case_period(case)
        area_codes[i] = _area(number, code, period, written.get("programme_area", i), problems)
    fields.update(external_id=external, case_number=list(cases), currency=["SEK"] * count,
                  programme_period=periods, specific_objective=list(values.get("specific_objective", nothing)),
                  programme_area_code=area_codes)
    return keep


def _kohesio(numbers: list[int], values: dict[str, list[Any]], fields: dict[str, list[Any]], written: _Written,
             problems: list[ListProblem]) -> list[int]:
    """Kohesio's own columns into `fields`; → the rows (indexes) that have an identity."""
    count = len(numbers)
    nothing: list[Any] = [None] * count
    column = values.get
    external, cases, periods = nothing[:], nothing[:], nothing[:]
    keep = []
    for i, (number, uri, local) in enumerate(zip(numbers, column("external_id", nothing),
                                                 column("local_identifier", nothing))):
        item = lv.kohesio_item(uri)
        if item is None and local is None:
            problems.append(ListProblem(number, "external_id", "no identity: neither Operation_Unique_Identifier "
                                                               "nor Operation_Local_Identifier", None, "error"))
            continue
        keep.append(i)
        cci = fields["programme_cci"][i]
        cases[i] = case = lv.kohesio_case_number(local)
        stated, period = column("programme_period", nothing)[i], lv.period_of_cci(cci)
        if period and stated and period != stated:
            problems.append(ListProblem(number, "programme_period", f"Programming_Period says {stated}, the CCI "
                                        f"{cci} {period}: the CCI's is kept",
                                        lv.cell_text(written.get("programme_period", i))))
        external[i] = item or local
        periods[i] = period or stated or _case_period(case)
    fields.update(external_id=external, case_number=cases, currency=list(column("currency", nothing)),
                  programme_period=periods,
                  fund=[f or n for f, n in zip(fields["fund"], column("fund_name", nothing))],
                  country=[c or k for c, k in zip(fields["country"], column("country_code", nothing))])
    return keep


def _case_period(case: str | None) -> str | None:
    return nz.case_number_period(case) if case else None


def _area(number: int, code: str | None, period: str | None, written: lv.Cell,
          problems: list[ListProblem]) -> str | None:
    if code and period and (period, code) not in reference.programme_areas():
        problems.append(ListProblem(number, "programme_area_code", f"no programme area {code} in {period}",
                                    lv.cell_text(written)))
        return None
    return code


def _check_dates(numbers: list[int], keep: list[int], fields: dict[str, list[Any]], written: _Written,
                 problems: list[ListProblem]) -> None:
    """An end date before the start date: both None with a warning on each, as the page parser does."""
    starts, ends = fields["start_date"], fields["end_date"]
    for i in keep:
        start, end = starts[i], ends[i]
        if start and end and end < start:
            for name in ("start_date", "end_date"):
                problems.append(ListProblem(numbers[i], name, f"end date {end} is before start date {start}",
                                            lv.cell_text(written.get(name, i))))
            starts[i] = ends[i] = None


HASHED = ("external_id", "case_number", "name", "name_en", "beneficiary", "beneficiary_org_number",
          "beneficiary_city", "country", "programme_area_code", "specific_objective", "intervention_type",
          "total_budget", "eu_grant", "currency", "cofinancing_rate", "start_date", "end_date", "summary",
          "summary_en", "fund", "programme_cci", "programme_period")


def row_hash(kind: str, values: list[Any]) -> str:
    """Of the normalised values only, in HASHED's order (not the row number): an unchanged row of a re-exported
    file keeps its hash. Amounts are held to öre and rates normalised, so the same value read from CSV or XLSX
    hashes the same."""
    text = "\x1f".join(["\x00" if v is None else str(v) for v in values])
    return hashlib.sha256(f"{kind}\x1f{text}".encode()).hexdigest()
