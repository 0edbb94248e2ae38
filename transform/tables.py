"""Bytes of a table → its headings and its rows of cells, streamed: CSV as Excel and other tools write it (any of
`;` `,` tab, UTF-8 with or without BOM, UTF-16 with BOM, Windows-1252) or an XLSX workbook (openpyxl, read-only).
The format is told by the content (a zip signature), never by a file name."""
from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
import zlib
from functools import partial
from itertools import islice
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from xml.etree.ElementTree import ParseError

from transform.csv_slices import CsvSlice, cut, data_start
from transform.list_values import Cell, cell_text

ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 .xls (and other old Office files)
DELIMITERS = (";", "\t", ",")  # on a tie the first wins: ESF-rådet's export is ';'-separated
UTF8_CHECK_BYTES = 1 << 16  # the UTF-8 check decodes this much at a time (the file is never decoded whole)
MAX_NUL_SHARE = 0.01
_SEP_HINT = re.compile(r"^\ufeff?sep=(.)\r?\n?$")
_BLANK = re.compile(rb"[ \t\r\n\x00\xef\xbb\xbf\xff\xfe]*")
# What a damaged workbook raises while openpyxl reads it: a truncated zip, a broken deflate stream, bad XML.
XLSX_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ParseError, ValueError, TypeError, IndexError,
               OSError)


@dataclass(frozen=True)
class UnreadableRow:
    """A row the CSV reader could not split (a field over the csv module's limit); the next row is read."""
    reason: str


Row = tuple[int, list[Cell] | UnreadableRow]  # (row number in the file or sheet: the heading is row 1, cells)


class NotATable(ValueError):
    """Bytes that are no table we can read; the message says what they are (one line)."""


class TableDamaged(ValueError):
    """A workbook that turned out damaged part-way through its rows; `after` is the last row read."""

    def __init__(self, after: int, reason: str):
        super().__init__(reason)
        self.after = after


@dataclass
class Table:
    format: str                   # 'csv' | 'xlsx'
    headings: list[str]
    rows: Iterator[Row]           # data rows, lazily; entirely empty rows are skipped
    notes: list[str] = field(default_factory=list)
    ragged_rows_are_short: bool = False  # XLSX leaves a row's empty trailing cells out; a CSV row does not
    # A CSV's data rows in blocks of n records to be read elsewhere (rows_of): slices of its bytes while its quotes
    # allow, then rows read in order. None: use `rows`.
    cut: Callable[[int], Iterator[list[Row] | CsvSlice]] | None = None


def rows_of(block: list[Row] | CsvSlice) -> list[Row]:
    """A block of rows, or a slice of a CSV file's bytes read into its rows (numbered as `rows` numbers them)."""
    if isinstance(block, list):
        return block

    def reader() -> Iterator[list[str]]:
        stream = io.TextIOWrapper(io.BytesIO(block.data), encoding=block.encoding, errors="replace", newline="")
        return csv.reader(stream, delimiter=block.delimiter)
    try:
        records = list(reader())  # in C; a field over the csv module's limit: read again row by row
    except csv.Error:
        return list(_csv_rows(reader(), block.first_number - 1))
    return [(number, cells) for number, cells in enumerate(records, block.first_number)  # type: ignore[misc]
            if cells and (cells[0].strip() or "".join(cells).strip())]  # (blank rows counted, not given)


def is_xlsx(body: bytes) -> bool:
    return body.startswith(ZIP_SIGNATURES)


def first_rows(body: bytes) -> Iterator[tuple[str | None, list[str]]]:
    """The heading row of the table: a CSV's first line; each worksheet's first row (with the sheet's name)."""
    _refuse_non_tables(body)
    if is_xlsx(body):
        workbook = _open_workbook(body)
        try:
            for sheet in workbook.worksheets:
                yield sheet.title, _sheet_headings(sheet)
        except XLSX_DAMAGE as exc:
            raise NotATable(f"a damaged XLSX file ({_why(exc)})") from None
        finally:
            workbook.close()
        return
    encoding, _ = _encoding(body, check_all=False)
    stream = io.TextIOWrapper(io.BytesIO(body), encoding=encoding, errors="replace", newline="")
    line = stream.readline().rstrip("\r\n")
    yield None, _split_heading_line(line, stream)


def open_table(body: bytes, accept: Callable[[list[str]], bool]) -> Table:
    """The table whose heading row `accept` takes: a CSV's, or the first such worksheet of a workbook."""
    _refuse_non_tables(body)
    return _open_xlsx(body, accept) if is_xlsx(body) else _open_csv(body)


def _refuse_non_tables(body: bytes) -> None:
    if _BLANK.fullmatch(body):  # (not body.strip(): that copies the whole file)
        raise NotATable("the file is empty")
    if body.startswith(OLE2_SIGNATURE):
        raise NotATable("an old Excel .xls (or other Office 97–2003) file: save it as .xlsx or CSV")
    if body.startswith(b"%PDF"):
        raise NotATable("a PDF document, not a table")
    head = body[:4096]
    if not is_xlsx(body) and not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
            and head.count(b"\x00") > MAX_NUL_SHARE * len(head):
        raise NotATable("binary data, not a table")


# --- CSV -------------------------------------------------------------------------------------------------------


def _open_csv(body: bytes) -> Table:
    encoding, notes = _encoding(body, check_all=True)
    stream = io.TextIOWrapper(io.BytesIO(body), encoding=encoding, errors="replace", newline="")
    first = stream.readline()
    hint = _SEP_HINT.match(first)
    if hint:  # Excel's 'sep=;' line names the delimiter; Excel does not show it as a row, nor do we count it
        first = stream.readline()
    delimiter = hint.group(1) if hint else _delimiter(first)
    headings = [h.strip() for h in next(csv.reader([first], delimiter=delimiter), [])]
    while headings and not headings[-1]:  # a trailing delimiter: no column
        headings.pop()
    stream.seek(0)
    reader = csv.reader(stream, delimiter=delimiter)
    for _ in range(2 if hint else 1):
        next(reader, None)
    table = Table("csv", headings, _csv_rows(reader), notes)
    if encoding != "utf-16":
        bom = len(codecs.BOM_UTF8) if body.startswith(codecs.BOM_UTF8) else 0
        start = data_start(body, bom, 1 if hint else 0, delimiter)
        if start is not None:
            table.cut = partial(_cut_then_rows, body, start, encoding, delimiter)
    return table


def _cut_then_rows(body: bytes, start: int, encoding: str, delimiter: str,
                   records: int) -> Iterator[list[Row] | CsvSlice]:
    """Slices while the file's quotes allow (csv_slices.cut), then the rest read here in order, in blocks."""
    position, number = yield from cut(body, start, encoding, delimiter, records)
    if position < len(body):
        raw = io.BytesIO(body)  # (shares the bytes: no copy)
        raw.seek(position)
        stream = io.TextIOWrapper(raw, encoding="utf-8" if encoding == "utf-8-sig" else encoding, errors="replace",
                                  newline="")
        rows = _csv_rows(csv.reader(stream, delimiter=delimiter), number - 1)
        while block := list(islice(rows, max(1, records))):
            yield block


def _csv_rows(reader: Iterator[list[str]], number: int = 1) -> Iterator[Row]:
    """The reader's records numbered on from `number` (the heading's), blank ones counted but not given."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over the csv module's limit: this row is lost, the next is read
            number += 1
            yield number, UnreadableRow(str(exc))
            continue
        number += 1
        if "".join(row).strip():  # (any cell not blank; joined, the test runs in C)
            yield number, row  # type: ignore[misc]  # list[str] is a list of cells; copying it costs a list a row


def _encoding(body: bytes, check_all: bool) -> tuple[str, list[str]]:
    """UTF-8 (its BOM dropped), UTF-16 by its BOM, else Windows-1252 — Excel's 'CSV' in Sweden — with a note."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", []
    decoder = codecs.getincrementaldecoder("utf-8")()
    end = len(body) if check_all else min(len(body), 64 * 1024)
    try:
        for start in range(0, end, UTF8_CHECK_BYTES):
            decoder.decode(body[start:min(start + UTF8_CHECK_BYTES, end)], final=start + UTF8_CHECK_BYTES >= len(body))
    except UnicodeDecodeError as exc:
        if check_all or exc.start < end - 4:  # a multibyte letter cut at the sample's end is still UTF-8
            return "cp1252", ["not UTF-8: read as Windows-1252 (cp1252), Excel's default for CSV in Sweden"]
    return "utf-8-sig", []


def _delimiter(line: str) -> str:
    counts = {d: _count_outside_quotes(line, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ";"


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _split_heading_line(line: str, stream: Any) -> list[str]:
    if hint := _SEP_HINT.match(line):
        line = stream.readline().rstrip("\r\n")
    delimiter = hint.group(1) if hint else _delimiter(line)
    return [h.strip() for h in next(csv.reader([line], delimiter=delimiter), [])]


# --- XLSX ------------------------------------------------------------------------------------------------------


def _open_workbook(body: bytes) -> Any:
    import openpyxl  # imported here: CSV readers never pay for it
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            if "xl/workbook.xml" not in archive.namelist():
                raise NotATable("a zip archive that is not an XLSX workbook")
            bad = archive.testzip()  # every member's CRC: a damaged file fails here, not half-way through its rows
        if bad is not None:
            raise NotATable(f"a damaged XLSX file (member {bad} fails its checksum)")
        return openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except NotATable:
        raise
    except (*XLSX_DAMAGE, openpyxl.utils.exceptions.InvalidFileException) as exc:
        raise NotATable(f"a damaged XLSX file ({_why(exc)})") from None


def _why(exc: BaseException) -> str:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return f"truncated or corrupt: {reason[:120]}"


def _sheet_headings(sheet: Any) -> list[str]:
    sheet.reset_dimensions()  # a workbook's stated dimensions may be wrong; read what is there
    first = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
    headings = [(cell_text(c) or "").strip() for c in first]
    while headings and not headings[-1]:
        headings.pop()
    return headings


def _open_xlsx(body: bytes, accept: Callable[[list[str]], bool]) -> Table:
    workbook = _open_workbook(body)
    first: list[str] | None = None
    try:
        sheets = workbook.worksheets
        for index, sheet in enumerate(sheets):
            headings = _sheet_headings(sheet)
            first = headings if first is None else first
            if accept(headings):
                notes = [] if len(sheets) == 1 else [f"sheet {sheet.title!r} read ({index + 1} of {len(sheets)})"]
                return Table("xlsx", headings, _xlsx_rows(workbook, sheet), notes, ragged_rows_are_short=True)
    except XLSX_DAMAGE as exc:
        workbook.close()
        raise NotATable(f"a damaged XLSX file ({_why(exc)})") from None
    workbook.close()
    return Table("xlsx", first or [], iter(()), [])  # no sheet is accepted: the caller refuses, quoting the first


def _xlsx_rows(workbook: Any, sheet: Any) -> Iterator[Row]:
    number = 1
    try:
        rows = sheet.iter_rows(min_row=2, values_only=True)
        for number, row in enumerate(rows, start=2):
            if any(c is not None and (not isinstance(c, str) or c.strip()) for c in row):
                yield number, list(row)
    except XLSX_DAMAGE as exc:
        raise TableDamaged(number, f"the workbook is damaged after row {number} ({_why(exc)})") from None
    finally:
        workbook.close()
