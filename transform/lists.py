"""The official lists — ESF-rådet's list of operations and Kohesio's export, CSV or XLSX — read into normalised
ListRows, chunk by chunk (pure: bytes in, rows out; no files, no network, no database).

The kind is told by the headings (data/reference/list_columns.csv: kind, field, heading, language; the first
heading of a field is the one the export writes, the others are the one-language forms a file may have instead),
matched in any case, spacing and order. A value that cannot be read is None plus a warning naming the row, field and
value; a row without identity is an error and no row; a missing column is named once, in `missing_columns`.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, Callable, Iterator

from records.lists import KOHESIO, LIST_KINDS, OPERATIONS, ListChunk, ListProblem, ListRow, NotAList
from transform import list_values as lv
from transform import normalize as nz
from transform import reference
from transform.reference import fold
from transform.tables import NotATable, Table, TableDamaged, UnreadableRow, first_rows, is_xlsx, open_table

IDENTITY = {OPERATIONS: ("case_number",), KOHESIO: ("external_id", "local_identifier")}
REFUSAL = "not a list of operations or a Kohesio export"
HASHED = tuple(f.name for f in fields(ListRow) if f.name not in ("row_number", "duplicate_of", "sha256"))
QUOTED_HEADINGS = 6  # a refusal quotes this many of the file's headings


@dataclass
class ListReading:
    kind: str                       # records.lists.OPERATIONS | KOHESIO
    missing_columns: list[str]      # expected columns absent, named by their heading as the export writes them
    notes: list[str]                # file-level remarks (extra columns ignored, encoding fallback, sheet used …)
    chunks: Iterator[ListChunk]     # rows normalised lazily, chunk by chunk (bounded memory whatever the length)
    format: str = "csv"             # 'csv' | 'xlsx', as told by the content


@dataclass(frozen=True)
class Vocabulary:
    field_of: dict[str, str]        # folded heading → field
    written: dict[str, str]         # field → its heading as the export writes it


@cache
def vocabularies() -> dict[str, Vocabulary]:
    """Each kind's headings, from data/reference/list_columns.csv."""
    field_of: dict[str, dict[str, str]] = {kind: {} for kind in LIST_KINDS}
    written: dict[str, dict[str, str]] = {kind: {} for kind in LIST_KINDS}
    with open(reference.data_dir() / "reference" / "list_columns.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            field_of[row["kind"]][fold(row["heading"])] = row["field"]
            written[row["kind"]].setdefault(row["field"], row["heading"])
    return {kind: Vocabulary(field_of[kind], written[kind]) for kind in LIST_KINDS}


def _columns(kind: str, headings: list[str]) -> dict[str, int]:
    """field → the index of the first column whose heading names it."""
    vocabulary = vocabularies()[kind].field_of
    found: dict[str, int] = {}
    for index, heading in enumerate(headings):
        name = vocabulary.get(fold(heading.lstrip("\ufeff")))
        if name is not None:
            found.setdefault(name, index)
    return found


def recognise(headings: list[str]) -> str | None:
    """The kind whose identity heading is among these and that names the most of them; None for neither."""
    scored = [(len(cols), kind) for kind in LIST_KINDS
              if any(f in (cols := _columns(kind, headings)) for f in IDENTITY[kind])]
    return max(scored)[1] if scored else None


def _refusal(what: str) -> NotAList:
    return NotAList(f"{REFUSAL}: {what}")


def _no_heading(headings: list[str], where: str) -> NotAList:
    expected = " or ".join(repr(vocabularies()[k].written[IDENTITY[k][0]]) for k in LIST_KINDS)
    shown = [h for h in headings if h][:QUOTED_HEADINGS]
    if not shown:
        return _refusal(f"{where} has no headings in its first row (expected {expected})")
    listed = ", ".join(nz.quoted(" ".join(h.split())) for h in shown)
    more = " …" if len([h for h in headings if h]) > QUOTED_HEADINGS else ""
    return _refusal(f"{where} with the headings {listed}{more} has no heading {expected}")


def sniff(body: bytes) -> str:
    """The kind from the headings (CSV: the first line; XLSX: each sheet's first row); raises NotAList."""
    last: list[str] = []
    try:
        for _, headings in first_rows(body):
            kind = recognise(headings)
            if kind:
                return kind
            last = last or headings
    except NotATable as exc:
        raise _refusal(str(exc)) from None
    raise _no_heading(last, "an XLSX workbook" if is_xlsx(body) else "a table")


def read_list(body: bytes, chunk_rows: int = 5000) -> ListReading:
    """The file's kind, its missing columns and notes, and its rows normalised lazily; raises NotAList."""
    try:
        table = open_table(body, lambda headings: recognise(headings) is not None)
    except NotATable as exc:
        raise _refusal(str(exc)) from None
    kind = recognise(table.headings)
    if kind is None:
        raise _no_heading(table.headings, "an XLSX workbook" if table.format == "xlsx" else "a table")
    columns = _columns(kind, table.headings)
    vocabulary = vocabularies()[kind]
    missing = [heading for name, heading in vocabulary.written.items() if name not in columns]
    notes = list(table.notes) + _column_notes(table.headings, columns)
    return ListReading(kind, missing, notes, _chunks(kind, table, columns, max(1, chunk_rows)), table.format)


def _column_notes(headings: list[str], columns: dict[str, int]) -> list[str]:
    used = set(columns.values())
    extra = [h or f"(column {i + 1}, no heading)" for i, h in enumerate(headings) if i not in used]
    notes = []
    if extra:
        listed = ", ".join(nz.quoted(" ".join(h.split())) for h in extra)
        notes.append(f"{len(extra)} column{'s' if len(extra) > 1 else ''} not read (not a heading of the list): "
                     f"{listed}")
    return notes


def _chunks(kind: str, table: Table, columns: dict[str, int], chunk_rows: int) -> Iterator[ListChunk]:
    build = _operations_row if kind == OPERATIONS else _kohesio_row
    width = len(table.headings)
    first_of: dict[str, int] = {}
    chunk, in_chunk = ListChunk(), 0
    rows = iter(table.rows)
    while True:
        try:
            number, cells = next(rows)
        except StopIteration:
            break
        except TableDamaged as exc:
            chunk.problems.append(ListProblem(exc.after + 1, None, str(exc), None, "error"))
            break
        if isinstance(cells, UnreadableRow):
            chunk.problems.append(ListProblem(number, None, f"row not readable: {cells.reason}", None, "error"))
        else:
            row = _row(kind, build, number, cells, columns, width, table.ragged_rows_are_short, chunk.problems)
            if row is not None:
                chunk.rows.append(_with_duplicate(row, first_of, chunk.problems))
        in_chunk += 1
        if in_chunk >= chunk_rows:
            yield chunk
            chunk, in_chunk = ListChunk(), 0
    if chunk.rows or chunk.problems:
        yield chunk


def _row(kind: str, build: Callable, number: int, cells: list, columns: dict[str, int], width: int,
         short_ok: bool, problems: list[ListProblem]) -> ListRow | None:
    if len(cells) > width and any(lv.cell_text(c) not in (None, "") for c in cells[width:]):
        problems.append(ListProblem(number, None, f"row has {len(cells)} cells, the heading row {width}: "
                                                  "the cells past the last heading are not read", None))
    elif len(cells) < width and not short_ok:
        problems.append(ListProblem(number, None, f"row has {len(cells)} cells, the heading row {width}: "
                                                  "the missing ones are read as empty", None))
    reader = _Reader(number, cells, columns, problems)
    values = build(reader)
    if values is None:
        return None
    values["sha256"] = _hash(kind, values)
    return ListRow(kind=kind, row_number=number, **values)


def _with_duplicate(row: ListRow, first_of: dict[str, int], problems: list[ListProblem]) -> ListRow:
    first = first_of.setdefault(row.external_id, row.row_number)
    if first == row.row_number:
        return row
    problems.append(ListProblem(row.row_number, "external_id", f"{row.external_id} is also row {first} of the file; "
                                                               "both rows are kept", row.external_id))
    return ListRow(**{**row.__dict__, "duplicate_of": first})


class _Reader:
    """Reads one row's cells by field; a value that cannot be read is None plus a warning with row, field, value."""

    def __init__(self, number: int, cells: list, columns: dict[str, int], problems: list[ListProblem]):
        self.number, self.cells, self.columns, self.problems = number, cells, columns, problems

    def cell(self, name: str) -> Any:
        index = self.columns.get(name)
        return self.cells[index] if index is not None and index < len(self.cells) else None

    def __call__(self, name: str, fn: Callable[[Any], Any], cached: bool = False, report_as: str | None = None):
        cell = self.cell(name)
        if cell is None or cell == "":
            return None
        value, reason = _cached(fn, cell) if cached else _safe(fn, cell)
        if reason is not None:
            self.warn(report_as or name, reason, cell)
        return value

    def warn(self, name: str, reason: str, cell: Any) -> None:
        self.problems.append(ListProblem(self.number, name, reason, lv.cell_text(cell)))


def _safe(fn: Callable[[Any], Any], cell: Any) -> tuple[Any, str | None]:
    try:
        return fn(cell), None
    except nz.ValueProblem as exc:
        return None, str(exc)


@lru_cache(maxsize=1 << 14)
def _cached(fn: Callable[[Any], Any], cell: Any) -> tuple[Any, str | None]:
    """Columns of few distinct values (dates, rates, areas, codes, places) are read once per value."""
    return _safe(fn, cell)


def _amount_sv(cell: Any) -> Decimal | None:
    return lv.amount(cell, decimal_comma=True)


def _amount_dot(cell: Any) -> Decimal | None:
    return lv.amount(cell, decimal_comma=False)


def _operations_row(read: _Reader) -> dict[str, Any] | None:
    written = read.cell("case_number")
    case = read("case_number", lv.case_number)
    external = case or lv.identifier(written)
    if external is None:
        read.problems.append(ListProblem(read.number, "case_number", "no identity: the row has no case number "
                                                                     "(Diarienummer)", None, "error"))
        return None
    if case is None:
        external = "".join(external.split()).upper()
    cci = read("programme_cci", lv.cci, cached=True)
    values = _common(read, _amount_sv)
    values.update(
        external_id=external, case_number=case, currency="SEK", programme_cci=cci,
        specific_objective=read("specific_objective", lv.objective, cached=True),
        programme_period=lv.period_of_cci(cci) or _case_period(case),
    )
    values["programme_area_code"] = _area(read, values["programme_period"])
    return values


def _kohesio_row(read: _Reader) -> dict[str, Any] | None:
    local = read("local_identifier", lv.identifier)
    item = lv.kohesio_item(read("external_id", lv.identifier))
    if item is None and local is None:
        read.problems.append(ListProblem(read.number, "external_id", "no identity: neither "
                                         "Operation_Unique_Identifier nor Operation_Local_Identifier", None, "error"))
        return None
    cci = read("programme_cci", lv.cci, cached=True)
    stated = read("programme_period", lv.period, cached=True)
    period = lv.period_of_cci(cci)
    if period and stated and period != stated:
        read.warn("programme_period", f"Programming_Period says {stated}, the CCI {cci} {period}: the CCI's is kept",
                  read.cell("programme_period"))
    values = _common(read, _amount_dot)
    values.update(
        external_id=item or local, case_number=lv.kohesio_case_number(local), programme_cci=cci,
        programme_period=period or stated or _case_period(lv.kohesio_case_number(local)),
        currency=read("currency", lv.currency, cached=True),
        fund=values["fund"] or read("fund_name", lv.text, cached=True),
        country=values["country"] or read("country_code", lv.text, cached=True),
    )
    return values


def _common(read: _Reader, amount: Callable[[Any], Decimal | None]) -> dict[str, Any]:
    start = read("start_date", lv.list_date, cached=True)
    end = read("end_date", lv.list_date, cached=True)
    if start and end and end < start:
        for name in ("start_date", "end_date"):
            read.warn(name, f"end date {end} is before start date {start}", read.cell(name))
        start = end = None
    return dict(
        name=read("name", lv.text), name_en=read("name_en", lv.text), beneficiary=read("beneficiary", lv.text),
        beneficiary_org_number=read("beneficiary_org_number", lv.org_number, cached=True),
        beneficiary_city=read("beneficiary_city", lv.text, cached=True),
        country=read("country", lv.text, cached=True),
        intervention_type=read("intervention_type", lv.intervention, cached=True),
        total_budget=read("total_budget", amount), eu_grant=read("eu_grant", amount),
        cofinancing_rate=read("cofinancing_rate", lv.rate, cached=True),
        start_date=start, end_date=end,
        summary=read("summary", lv.plain_text), summary_en=read("summary_en", lv.plain_text),
        fund=read("fund", lv.text, cached=True),
    )


def _case_period(case: str | None) -> str | None:
    return nz.case_number_period(case) if case else None


def _area(read: _Reader, period: str | None) -> str | None:
    code = read("programme_area", lv.programme_area, cached=True, report_as="programme_area_code")
    if code and period and (period, code) not in reference.programme_areas():
        read.warn("programme_area_code", f"no programme area {code} in {period}", read.cell("programme_area"))
        return None
    return code


def _hash(kind: str, values: dict[str, Any]) -> str:
    """Of the normalised values only: a re-exported file's unchanged row keeps its hash, wherever it stands."""
    values = {**values, "kind": kind}
    parts = [_canonical(values.get(name)) for name in HASHED]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _canonical(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
