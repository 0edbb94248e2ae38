"""A CSV file's data rows cut into slices of whole records by their bytes alone, so that worker processes can
split and read them while the run's process only finds where records end (line ends outside quoted fields) and
counts them, with byte operations that run in C: it reads no cell. A slice is cut while the workers read the ones
before it.

Each slice's rows are those the csv module gives reading the whole file from its start, numbered alike, as long as
every quote opens a quoted field (at a field's start), closes it, or doubles one inside it. At the first stretch
with a quote anywhere else (in an unquoted field's text, which the csv module keeps as a letter) or a quoted field
never closed, cutting stops: `cut` returns where, and the caller reads the rest in order (transform/tables.py)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generator

QUOTED = re.compile(rb'"[^"]*(?:""[^"]*)*"')  # a quoted field: doubled quotes inside, the closing quote
LINE_END = re.compile(rb"\r\n|\n|\r")          # as io reads lines with newline='' (and so the csv module)
CR, LF = 0x0D, 0x0A
MARK = b"\x01"  # a quoted field, once counted


@dataclass(frozen=True)
class CsvSlice:
    """Whole records of a CSV file, to be read where they are sent (a worker process, or here: tables.rows_of)."""
    data: bytes
    encoding: str
    delimiter: str
    first_number: int  # the row number of its first record (the heading is row 1; blank records count)


def data_start(body: bytes, start: int, skip_lines: int, delimiter: str) -> int | None:
    """Where the data rows begin: after `skip_lines` physical lines from `start` (Excel's 'sep=' line), then the
    heading record; None when the heading row cannot be told apart by its bytes alone."""
    if len(delimiter) != 1 or not delimiter.isascii():
        return None
    field_starts = {ord(delimiter), CR, LF}
    position = start
    for _ in range(skip_lines):
        end = LINE_END.search(body, position)
        if end is None:
            return None
        position = end.end()
    while True:  # the heading record's end: the first line end outside a quoted field
        end = LINE_END.search(body, position)
        if end is None:
            return len(body)
        quote = body.find(b'"', position, end.start())
        if quote < 0:
            return end.end()
        if quote > start and body[quote - 1] not in field_starts:
            return None
        field = QUOTED.match(body, quote)
        if field is None:
            return None
        position = field.end()


def cut(body: bytes, start: int, encoding: str, delimiter: str,
        records: int) -> Generator[CsvSlice, None, tuple[int, int]]:
    """The records from `start` on in slices of `records` records each (the last one fewer; lone CRs for line ends
    may give more), one at a time; → (byte offset, row number) of what it could not cut: the end of the file, or
    the first stretch whose quotes do not allow it (see the module's doc)."""
    encoding = "utf-8" if encoding == "utf-8-sig" else encoding  # (a BOM is only at the file's start)
    size, number = len(body), 2  # the first data record's number (a 'sep=' line is no row)
    while start < size:
        found = _next_end(body, start, delimiter.encode(), max(1, records))
        if found is None:
            break
        end, count = found
        yield CsvSlice(body[start:end], encoding, delimiter, number)
        start, number = end, number + count
    return start, number


def _next_end(body: bytes, start: int, delimiter: bytes, records: int) -> tuple[int, int] | None:
    """Where the slice from `start` (a record's start) ends and how many records it holds; None when its quotes do
    not allow cutting. It ends at a line feed outside quoted fields (an even count of quotes since `start`)."""
    size, end, count = len(body), start, 0
    while count < records and end < size:
        reached = _after_line_feeds(body, end, records - count)
        quotes = body.count(b'"', end, reached)
        while quotes % 2 and reached < size:  # the last line feed is inside a quoted field: on to the next one
            feed = body.find(b"\n", reached)
            following = size if feed < 0 else feed + 1
            quotes, reached = quotes + body.count(b'"', reached, following), following
        records_here = None if quotes % 2 else _records(body[end:reached], delimiter)
        if records_here is None:
            return None
        count, end = count + records_here, reached
    return end, count


def _records(piece: bytes, delimiter: bytes) -> int | None:
    """The records of a stretch that starts at a record's start: its line ends outside quoted fields. None when a
    quote is anything but a quoted field's (at a field's start, doubled inside, closed)."""
    if b'"' not in piece:
        return _line_ends(piece)
    if MARK in piece:
        return None  # (the mark below must be ours alone)
    stripped, fields = QUOTED.subn(MARK, piece)
    if b'"' in stripped:
        return None
    at_starts = sum(stripped.count(before + MARK) for before in (delimiter, b"\n", b"\r")) + stripped.startswith(MARK)
    return _line_ends(stripped) if at_starts == fields else None


def _after_line_feeds(body: bytes, start: int, count: int) -> int:
    position = start
    for _ in range(count):
        position = body.find(b"\n", position) + 1
        if position == 0:
            return len(body)
    return position


def _line_ends(text: bytes) -> int:
    returns, feeds = text.count(b"\r"), text.count(b"\n")
    return feeds + returns - text.count(b"\r\n") if returns else feeds
