"""A CSV file's data rows cut into slices of whole records by their bytes alone, so that worker processes can
split and read them while the run's process only finds where records end (line ends outside quoted fields) and
counts them, with byte searches that run in C: it reads no cell.

Each slice's rows are those the csv module gives reading the whole file from its start, numbered alike, as long as
every quote opens a quoted field (at a field's start), closes it, or doubles one inside it. A file with a quote
anywhere else (in an unquoted field's text, which the csv module keeps as a letter) or a quoted field never closed
is not cut (None): its reader reads it whole, in order (transform/tables.py)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

QUOTED = re.compile(rb'"[^"]*(?:""[^"]*)*"')  # a quoted field: doubled quotes inside, the closing quote
LINE_END = re.compile(rb"\r\n|\n|\r")          # as io reads lines with newline='' (and so the csv module)
CR, LF = 0x0D, 0x0A


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


def cut(body: bytes, start: int, encoding: str, delimiter: str, records: int) -> Iterator[CsvSlice] | None:
    """The records from `start` on in slices of `records` records each (the last one fewer; a file with lone CRs
    for line ends may give more); None when the file's quotes do not allow it (see the module's doc). The whole
    file is checked before the first slice is given; the slices are then cut one at a time."""
    ends = _ends(body, start, ord(delimiter), max(1, records))
    if ends is None:
        return None
    return _slices(body, start, ends, "utf-8" if encoding == "utf-8-sig" else encoding, delimiter)


def _slices(body: bytes, start: int, ends: list[tuple[int, int]], encoding: str,
            delimiter: str) -> Iterator[CsvSlice]:
    number = 2  # the first data record (a 'sep=' line is no row)
    for end, records in ends:
        yield CsvSlice(body[start:end], encoding, delimiter, number)
        start, number = end, number + records


def _ends(body: bytes, start: int, delimiter: int, records_per_slice: int) -> list[tuple[int, int]] | None:
    """Each slice's end and its number of records (line ends outside quoted fields)."""
    field_starts = {delimiter, CR, LF}
    size, ends = len(body), []
    begin, quote = start, body.find(b'"', start)
    while begin < size:
        end, records = begin, 0
        while records < records_per_slice and end < size:
            reached, line_ends = _after_line_feeds(body, end, records_per_slice - records)
            quoted_line_ends = 0
            while 0 <= quote < reached:
                if quote > start and body[quote - 1] not in field_starts:
                    return None  # a quote in an unquoted field's text
                field = QUOTED.match(body, quote)
                if field is None:
                    return None  # a quoted field that runs to the end of the file
                quoted_line_ends += _line_ends(body, quote, field.end())
                if field.end() > reached:  # the last line feed was inside this field: go on to the next one
                    feed = body.find(b"\n", field.end())
                    line_ends += _line_ends(body, reached, size if feed < 0 else feed + 1)
                    reached = size if feed < 0 else feed + 1
                quote = body.find(b'"', field.end())
            records += line_ends - quoted_line_ends
            end = reached
        ends.append((end, records))  # (a last line without a line end is a record too: no slice follows it)
        begin = end
    return ends


def _after_line_feeds(body: bytes, start: int, count: int) -> tuple[int, int]:
    """Where the count-th line feed from `start` ends (or the end of the file), and how many line ends (LF, CRLF,
    lone CR) are before it: the feeds found, and the CRs that are not a feed's."""
    position, feeds, pairs = start, 0, 0
    while feeds < count:
        feed = body.find(b"\n", position)
        if feed < 0:
            position = len(body)
            break
        feeds += 1
        pairs += feed > start and body[feed - 1] == CR
        position = feed + 1
    return position, feeds + body.count(b"\r", start, position) - pairs


def _line_ends(body: bytes, start: int, end: int) -> int:
    returns = body.count(b"\r", start, end)
    feeds = body.count(b"\n", start, end)
    return feeds + returns - body.count(b"\r\n", start, end) if returns else feeds
