"""A CSV cut into slices by its bytes (transform/csv_slices.py) reads into the rows the csv module gives reading the
whole file in order, numbered alike; from a stretch whose quotes do not allow cutting on, the rest is read in order."""
from __future__ import annotations

import codecs
import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from transform.csv_slices import CsvSlice
from transform.tables import Table, UnreadableRow, open_table, rows_of

HEADING = "Diarienummer;Namn på insatsen;Sammanfattning"


def table_of(body: bytes) -> Table:
    return open_table(body, lambda headings: True)


def in_order(body: bytes) -> list:
    return list(table_of(body).rows)


def blocks_of(body: bytes, records: int) -> list:
    table = table_of(body)
    assert table.cut is not None
    return list(table.cut(records))


def by_slices(body: bytes, records: int) -> list:
    return [row for block in blocks_of(body, records) for row in rows_of(block)]


def sliced(body: bytes, records: int) -> list[bool]:
    """Which blocks are slices of bytes (True) and which rows read in order (False)."""
    return [isinstance(block, CsvSlice) for block in blocks_of(body, records)]


def written(rows: list[list[str]], line_end: str = "\r\n", quoting: int = csv.QUOTE_MINIMAL) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator=line_end, quoting=quoting).writerows([HEADING.split(";"), *rows])
    return codecs.BOM_UTF8 + out.getvalue().encode()


CELL = st.text(alphabet='ab;"\r\n é\u00a0\ufeff', max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(CELL, min_size=1, max_size=4), max_size=12), st.sampled_from(["\r\n", "\n"]),
       st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]), st.integers(1, 5))
def test_what_a_csv_writer_writes_is_cut_and_read_as_in_order(rows, line_end, quoting, records):
    body = written(rows, line_end, quoting)
    assert by_slices(body, records) == in_order(body)
    assert all(sliced(body, records))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet='a;"\r\n é', max_size=60), st.integers(1, 4))
def test_any_text_is_read_as_in_order(text, records):
    body = (HEADING + "\r\n" + text).encode()
    assert by_slices(body, records) == in_order(body)


def test_slices_hold_the_records_asked_for_and_number_on():
    body = written([["23-041-S05", "Ett", "två\r\nrader"], ["23-041-S06", "Tre", ""], [], ["23-041-S07", "x", "y"]])
    slices = list(table_of(body).cut(2))
    assert [s.first_number for s in slices] == [2, 4]
    assert [n for s in slices for n, _ in rows_of(s)] == [2, 3, 5]  # row 4 is blank: counted, not given


def test_a_quote_in_an_unquoted_fields_text_stops_the_cutting_and_the_rest_is_read_in_order():
    good = "".join(f'2{i % 10}-041-S05;"Namn {i}";"a;b"\r\n' for i in range(6))
    body = (HEADING + "\r\n" + good + '23-041-S05;Ett 5" rör;x\r\n' + good).encode()
    assert sliced(body, 2) == [True, True, True, False, False, False, False]
    assert by_slices(body, 2) == in_order(body) and len(in_order(body)) == 13


def test_a_quoted_field_never_closed_is_read_in_order():
    body = (HEADING + '\r\n23-041-S05;"Ett;x\r\n23-041-S06;Två;y\r\n').encode()
    assert sliced(body, 1) == [False]
    assert by_slices(body, 1) == in_order(body)


def test_a_quoted_field_mid_text_stops_the_cutting():
    """`x"a;b"` is text with two quotes to the csv module, not a quoted field: the cutting stops before it."""
    body = (HEADING + '\r\n23-041-S05;Ett;a\r\n23-041-S06;x"a;b";y\r\n').encode()
    assert sliced(body, 1) == [True, False]
    assert by_slices(body, 1) == in_order(body)


def test_excels_sep_line_and_a_heading_over_two_lines():
    body = ('sep=;\r\nDiarienummer;"Namn på\r\ninsatsen";Sammanfattning\r\n23-041-S05;Ett;"a\r\nb"\r\n'
            '23-041-S06;Två;c\r\n').encode()
    assert by_slices(body, 1) == in_order(body) == [(2, ["23-041-S05", "Ett", "a\r\nb"]), (3, ["23-041-S06", "Två", "c"])]


def test_lone_carriage_returns_end_records_too():
    body = (HEADING + "\r23-041-S05;Ett;a\r23-041-S06;Två;b\r").encode("cp1252")
    assert by_slices(body, 1) == in_order(body) and len(in_order(body)) == 2


def test_utf16_is_read_in_order():
    body = (HEADING + "\r\n23-041-S05;Ett;a\r\n").encode("utf-16")
    assert table_of(body).cut is None and len(in_order(body)) == 1


def test_a_field_over_the_csv_modules_limit_costs_its_row_in_a_slice_too():
    body = (HEADING + "\r\n23-041-S05;Ett;" + "x" * 200_000 + "\r\n23-041-S06;Två;y\r\n").encode()
    rows = by_slices(body, 5)
    assert rows == in_order(body)
    assert isinstance(rows[0][1], UnreadableRow) and rows[1] == (3, ["23-041-S06", "Två", "y"])
