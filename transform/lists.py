"""The official lists — ESF-rådet's list of operations and Kohesio's export, CSV or XLSX — read into normalised
ListRows, chunk by chunk (pure: bytes in, rows out; no files, no network, no database).

The kind is told by the headings (data/reference/list_columns.csv: kind, field, heading, language; the first
heading of a field is the one the export writes, the others are the one-language forms a file may have instead),
matched in any case, spacing and order. A value that cannot be read is None plus a warning naming the row, field and
value; a row without identity is an error and no row; a missing column is named once, in `missing_columns`.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from typing import Callable, Iterable, Iterator

from records.lists import KOHESIO, LIST_KINDS, OPERATIONS, ListChunk, ListProblem, NotAList
from transform import normalize as nz
from transform import reference
from transform.list_rows import RowReader
from transform.reference import fold
from transform.csv_slices import CsvSlice
from transform.tables import NotATable, Row, Table, TableDamaged, first_rows, is_xlsx, open_table

IDENTITY = {OPERATIONS: ("case_number",), KOHESIO: ("external_id", "local_identifier")}
REFUSAL = "not a list of operations or a Kohesio export"
QUOTED_HEADINGS = 6  # a refusal quotes this many of the file's headings


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
    notes = list(table.notes) + _column_notes(kind, table.headings, columns)
    reader = RowReader(kind, columns, len(table.headings), table.ragged_rows_are_short)
    damaged: list[ListProblem] = []
    blocks = table.cut(max(1, chunk_rows)) if table.cut else _blocks(table, max(1, chunk_rows), damaged)
    return ListReading(kind, missing, notes, reader, blocks, table.format, damaged)


def _column_notes(kind: str, headings: list[str], columns: dict[str, int]) -> list[str]:
    used, known = set(columns.values()), vocabularies()[kind].field_of
    unread = [(h, fold(h) in known) for i, h in enumerate(headings) if i not in used]
    notes = [f"column {nz.quoted(h)} is there twice: the first is read" for h, twice in unread if twice]
    extra = [h or "(no heading)" for h, twice in unread if not twice]
    if extra:
        listed = ", ".join(nz.quoted(" ".join(h.split())) for h in extra)
        notes.append(f"{len(extra)} column{'s' if len(extra) > 1 else ''} not read (not a heading of the list): "
                     f"{listed}")
    return notes


# Up to chunk_rows rows of the table, read in one piece (in a worker process, or here): rows read here, or (a CSV
# whose quotes allow it) a slice of the file's bytes that the reader splits into its rows.
Block = list[Row] | CsvSlice


@dataclass
class ListReading:
    kind: str                       # records.lists.OPERATIONS | KOHESIO
    missing_columns: list[str]      # expected columns absent, named by their heading as the export writes them
    notes: list[str]                # file-level remarks (extra columns ignored, encoding fallback, sheet used …)
    reader: RowReader               # reads a block of rows into a chunk (picklable: a worker may do it)
    blocks: Iterator[Block]         # the table's rows, block by block, lazily (bounded memory whatever the length)
    format: str = "csv"             # 'csv' | 'xlsx', as told by the content
    damaged: list[ListProblem] = field(default_factory=list)  # where a workbook broke off, once the blocks are read

    @property
    def chunks(self) -> Iterator[ListChunk]:
        """The rows read here, chunk by chunk (see read_chunks to read them elsewhere)."""
        return read_chunks(self, map)


def read_chunks(reading: ListReading, map_blocks: Callable[..., Iterable[ListChunk]],
                read_block: Callable[[Block], ListChunk] | None = None) -> Iterator[ListChunk]:
    """The file's chunks in order: `map_blocks(read_block, reading.blocks)` reads them (the builtin map, or a
    pool's ordered map; `read_block` is the reader's, or one that does more with each block where it is read);
    a row whose identity an earlier row of the file has is flagged here, and a workbook's damage comes last."""
    first_of: dict[str, int] = {}
    for chunk in map_blocks(read_block or reading.reader.read_block, reading.blocks):
        flag_duplicates(chunk, first_of)
        yield chunk
    if reading.damaged:
        yield ListChunk(reading.kind, problems=list(reading.damaged))


def _blocks(table: Table, chunk_rows: int, damaged: list[ListProblem]) -> Iterator[list[Row]]:
    block: list[Row] = []
    rows = iter(table.rows)
    while True:
        try:
            block.append(next(rows))
        except StopIteration:
            break
        except TableDamaged as exc:
            damaged.append(ListProblem(exc.after + 1, None, str(exc), None, "error"))
            break
        if len(block) >= chunk_rows:
            yield block
            block = []
    if block:
        yield block


def flag_duplicates(chunk: ListChunk, first_of: dict[str, int]) -> None:
    """A row whose identity an earlier row of the file has: kept, with duplicate_of and a warning."""
    columns = chunk.columns
    found = []
    for i, (external, number) in enumerate(zip(columns["external_id"], columns["row_number"])):
        first = first_of.setdefault(external, number)
        if first != number:
            columns["duplicate_of"][i] = first
            found.append(ListProblem(number, "external_id", f"{external} is also row {first} of the file; "
                                                            "both rows are kept", external))
    if found:
        chunk.problems = sorted(chunk.problems + found, key=lambda p: p.row_number or 0)
