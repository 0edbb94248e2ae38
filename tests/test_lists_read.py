"""Reading the official lists (issue #18): files, formats, headings and rows. The values' normalisers have their
own tests in test_list_values.py."""
from __future__ import annotations

import codecs
import csv
import io
import tracemalloc
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from records.lists import KOHESIO, OPERATIONS, NotAList
from transform.lists import ListReading, read_chunks, read_list, sniff

LISTS = Path(__file__).resolve().parent / "fixtures" / "lists"


def fixture(name: str) -> bytes:
    return (LISTS / name).read_bytes()


def read_all(body: bytes, chunk_rows: int = 5000):
    reading = read_list(body, chunk_rows)
    rows, problems = [], []
    for chunk in reading.chunks:
        rows += chunk.rows
        problems += chunk.problems
    return reading, rows, problems


def table(rows: list[list[str]], delimiter: str = ";") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def operations_rows() -> list[list[str]]:
    with open(LISTS / "operations.csv", encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh, delimiter=";"))


def problems_of(problems, row_number: int, field: str | None = None):
    return [p for p in problems if p.row_number == row_number and (field is None or p.field == field)]


# --- kind and format --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, kind", [("operations.csv", OPERATIONS), ("operations.xlsx", OPERATIONS),
                                        ("kohesio.csv", KOHESIO), ("kohesio.xlsx", KOHESIO),
                                        ("headings_sv.tsv", OPERATIONS), ("headings_en.csv", OPERATIONS)])
def test_sniff_tells_the_kind_by_the_headings(name, kind):
    assert sniff(fixture(name)) == kind


def test_sniff_reads_only_the_first_line_of_a_csv():
    body = fixture("kohesio.csv").split(b"\n")[0] + b"\n" + b"\xff\xfe broken \x00 bytes \n" * 3
    assert sniff(body) == KOHESIO


def test_format_is_told_by_content_not_name():
    assert read_list(fixture("operations.xlsx")).format == "xlsx"
    assert read_list(fixture("operations.csv")).format == "csv"


@pytest.mark.parametrize("kind", ["operations", "kohesio"])
def test_csv_and_xlsx_give_the_same_rows(kind):
    _, from_csv, csv_problems = read_all(fixture(f"{kind}.csv"))
    _, from_xlsx, xlsx_problems = read_all(fixture(f"{kind}.xlsx"))
    assert from_csv == from_xlsx and len(from_csv) == {"operations": 7, "kohesio": 6}[kind]
    assert csv_problems == xlsx_problems == []


def test_xlsx_first_sheet_whose_first_row_is_a_list_is_read_and_named():
    reading, rows, _ = read_all(fixture("operations.xlsx"))
    assert reading.notes == ["sheet 'Insatser' read (2 of 2)"]
    assert rows[0].row_number == 2


def test_the_sample_files_are_read_whole_without_problems():
    reading, rows, problems = read_all(fixture("operations.csv"))
    assert (reading.kind, reading.missing_columns, reading.notes, problems) == (OPERATIONS, [], [], [])
    assert [r.case_number for r in rows] == ["23-041-S05", "24-118-S02", "25-007-S01", "2019/00512", "2020/00733",
                                             "2015/00738", "23-077-S03"]
    assert [r.row_number for r in rows] == list(range(2, 9))


# --- what the bytes may be --------------------------------------------------------------------------------------

def test_utf8_bom_is_dropped():
    body = fixture("operations.csv")
    assert body.startswith(codecs.BOM_UTF8)
    _, with_bom, _ = read_all(body)
    _, without, _ = read_all(body[len(codecs.BOM_UTF8):])
    assert with_bom == without and with_bom[0].case_number == "23-041-S05"


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_any_of_the_three_delimiters(delimiter):
    _, expected, _ = read_all(fixture("operations.csv"))
    _, rows, problems = read_all(table(operations_rows(), delimiter))
    assert rows == expected and problems == []


def test_cp1252_csv_falls_back_with_a_note():
    reading, rows, problems = read_all(fixture("cp1252.csv"))
    assert reading.notes == ["not UTF-8: read as Windows-1252 (cp1252), Excel's default for CSV in Sweden"]
    assert [r.beneficiary for r in rows] == ["Stiftelsen Exempelakademin för yrkeshandledning", "UMEÅ KOMMUN",
                                             "Arbetsmarknadsförbundet Höglandsporten"]
    assert rows[1].beneficiary_city == "UMEÅ" and problems == []


def test_utf16_with_bom_as_excel_writes_unicode_text():
    text = "\t".join(["Diarienummer / Operation ID", "Namn på insatsen / Operation Name"]) + "\r\n23-041-S05\tÅr\r\n"
    _, rows, _ = read_all(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert (rows[0].case_number, rows[0].name) == ("23-041-S05", "År")


def test_any_column_order():
    rows = operations_rows()
    order = list(reversed(range(len(rows[0]))))
    _, expected, _ = read_all(fixture("operations.csv"))
    _, shuffled, _ = read_all(table([[row[i] for i in order] for row in rows]))
    assert shuffled == expected


def test_extra_columns_are_ignored_with_one_note():
    reading, rows, problems = read_all(fixture("extra_columns.csv"))
    assert reading.notes == ["2 columns not read (not a heading of the list): 'Kommentar', 'Handläggare'"]
    assert (rows[0].case_number, rows[0].name, problems) == ("23-041-S05", "Yrkesnyckeln", [])


@pytest.mark.parametrize("name", ["headings_sv.tsv", "headings_en.csv"])
def test_headings_in_one_language_any_case_and_spacing(name):
    reading, rows, problems = read_all(fixture(name))
    row = rows[0]
    assert (reading.kind, problems) == (OPERATIONS, [])
    assert (row.case_number, row.name, row.total_budget, row.eu_grant, row.start_date, row.end_date) == (
        "23-041-S05", "Yrkesnyckeln", Decimal("14250000.00"), Decimal("7125000.00"), date(2023, 11, 1),
        date(2026, 10, 31))
    assert "Diarienummer / Operation ID" not in reading.missing_columns
    assert "Startdatum / Start date" not in reading.missing_columns


def test_diarienummer_alone_and_operation_id_alone():
    for heading in ("Diarienummer", "OPERATION  ID", "diarienummer/operation id"):
        assert sniff(f"{heading};x\n".encode()) == OPERATIONS
    assert sniff(b"operation unique identifier\n") == KOHESIO


def test_quoted_fields_with_newlines_stay_in_their_row():
    _, rows, _ = read_all(fixture("operations.csv"))
    assert rows[0].summary == ("En nationell utbildning för yrkeshandledare på arbetsplatser.\n"
                               "Går att läsa på distans.")
    assert rows[5].summary == "Stöd till arbete för unga vuxna. Varje deltagare har en egen coach."
    assert rows[5].row_number == 7  # a row number counts records (as a spreadsheet shows them), not text lines


def test_empty_file_is_not_a_list():
    for body in (fixture("empty.csv"), b"  \r\n", codecs.BOM_UTF8):
        with pytest.raises(NotAList, match="^not a list of operations or a Kohesio export: the file is empty$"):
            read_list(body)
        with pytest.raises(NotAList):
            sniff(body)


def test_a_table_of_another_shape_is_refused_in_one_line():
    with pytest.raises(NotAList) as refused:
        read_list(fixture("other_shape.csv"))
    message = str(refused.value)
    assert message == ("not a list of operations or a Kohesio export: a table with the headings 'Kommun', 'Län', "
                       "'Invånare' has no heading 'Diarienummer / Operation ID' or 'Operation_Unique_Identifier'")
    with pytest.raises(NotAList, match="'Kommun'"):
        sniff(fixture("other_shape.csv"))


def test_a_truncated_xlsx_is_refused_as_damaged():
    for reader in (read_list, sniff):
        with pytest.raises(NotAList, match=r"^not a list of operations or a Kohesio export: a damaged XLSX file"):
            reader(fixture("truncated.xlsx"))


def test_an_xlsx_member_with_a_bad_checksum_is_refused_as_damaged():
    body = bytearray(fixture("kohesio.xlsx"))
    with zipfile.ZipFile(io.BytesIO(bytes(body))) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 20
    body[start] ^= 0xFF
    with pytest.raises(NotAList, match="damaged XLSX"):
        read_list(bytes(body))


def test_a_workbook_whose_sheet_breaks_off_keeps_the_rows_before_and_says_so():
    source = io.BytesIO(fixture("kohesio.xlsx"))
    out = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[:data.index(b'<row r="5"')] + b'<row r="5"><c r="A5" t="inlineStr"><is><t>cut'
            new.writestr(item, data)
    _, rows, problems = read_all(out.getvalue())
    assert [r.row_number for r in rows] == [2, 3, 4]
    assert [(p.row_number, p.severity) for p in problems] == [(5, "error")]
    assert "damaged after row 4" in problems[0].reason


@pytest.mark.parametrize("body, what", [
    (b"PK\x03\x04" + bytes(200), "damaged XLSX"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "old Excel .xls"),
    (b"%PDF-1.7\n" + bytes(100), "PDF"),
    (b"\x89PNG\r\n\x1a\n" + bytes(300), "binary data"),
])
def test_files_that_are_no_table_are_refused(body, what):
    with pytest.raises(NotAList, match=what):
        read_list(body)


def test_a_zip_that_is_not_a_workbook_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("list.csv", fixture("operations.csv"))
    with pytest.raises(NotAList, match="a zip archive that is not an XLSX workbook"):
        read_list(out.getvalue())


def test_missing_columns_are_named_once_as_the_export_writes_them():
    reading, rows, problems = read_all(fixture("missing_columns.csv"))
    assert len(reading.missing_columns) == 15
    assert "EU-stöd i SEK / EU contribution SEK" in reading.missing_columns
    assert "Diarienummer / Operation ID" not in reading.missing_columns
    assert problems == [] and rows[0].eu_grant is None and rows[0].currency == "SEK"


def test_kohesio_missing_columns_use_kohesio_headings():
    reading, _, _ = read_all(b"Operation_Unique_Identifier,Project_EU_Budget\nQ1,12.50\n")
    assert "Total_Eligible_Expenditure_Currency" in reading.missing_columns
    assert "Project_EU_Budget" not in reading.missing_columns


def test_a_row_with_cells_past_the_last_heading_is_warned_about():
    body = b"Diarienummer;Namn\n23-041-S05;Yrkesnyckeln;overflow\n23-041-S06;Ok;\n23-041-S07\n"
    _, rows, problems = read_all(body)
    assert [r.case_number for r in rows] == ["23-041-S05", "23-041-S06", "23-041-S07"]
    assert [(p.row_number, p.reason) for p in problems] == [
        (2, "row has 3 cells, the heading row 2: the cells past the last heading are not read"),
        (4, "row has 1 cells, the heading row 2: the missing ones are read as empty")]


def test_blank_lines_are_skipped_but_counted():
    _, rows, problems = read_all(b"Diarienummer\r\n23-041-S05\r\n\r\n;\r\n23-041-S06\r\n")
    assert [(r.row_number, r.case_number) for r in rows] == [(2, "23-041-S05"), (5, "23-041-S06")]
    assert problems == []


# --- rows --------------------------------------------------------------------------------------------------------

def test_rows_come_in_chunks_lazily():
    reading = read_list(fixture("operations.csv"), chunk_rows=2)
    assert isinstance(reading, ListReading)
    first = next(reading.chunks)
    assert [r.row_number for r in first.rows] == [2, 3]
    assert [len(c.rows) for c in reading.chunks] == [2, 2, 1]


def test_a_row_without_identity_is_an_error_and_no_row():
    _, rows, problems = read_all(fixture("case_numbers.csv"))
    assert 6 not in [r.row_number for r in rows] and 7 not in [r.row_number for r in rows]
    errors = [p for p in problems if p.severity == "error"]
    assert [(p.row_number, p.field) for p in errors] == [(6, "case_number"), (7, "case_number")]
    assert all("no identity" in p.reason for p in errors)


def test_a_kohesio_row_without_either_identifier_is_an_error():
    _, rows, problems = read_all(fixture("kohesio_identifiers.csv"))
    assert [p.row_number for p in problems if p.severity == "error"] == [7]
    assert [r.external_id for r in rows] == ["Q4039171", "Q9941005", "2021SE05SFPR001_22-002-s01", "22-002-S02",
                                             "SMA-HOGLAND-0042"]
    assert [r.case_number for r in rows] == ["2015/00738", None, "22-002-S01", "22-002-S02", None]
    assert [p for p in problems if p.severity != "error"] == []


def test_duplicate_case_numbers_keep_both_rows_and_point_at_the_first():
    _, rows, problems = read_all(fixture("duplicates.csv"))
    assert [(r.row_number, r.case_number, r.duplicate_of) for r in rows] == [
        (2, "2015/00738", None), (3, "23-041-S05", None), (4, "2015/00738", 2), (5, "23-041-S05", 3),
        (6, "2015/00738", 2)]
    assert [(p.row_number, p.severity) for p in problems] == [(4, "warning"), (5, "warning"), (6, "warning")]
    assert "also row 2" in problems[0].reason


def test_duplicates_across_chunks_are_found():
    _, rows, _ = read_all(fixture("duplicates.csv"), chunk_rows=1)
    assert [r.duplicate_of for r in rows] == [None, None, 2, 3, 2]


def test_the_hash_is_of_the_values_not_the_place():
    _, rows, _ = read_all(fixture("operations.csv"))
    moved = operations_rows()
    moved = [moved[0], moved[3], moved[1], moved[2], *moved[4:]]
    moved[3][1] = moved[3][1] + " "  # a trailing space is no change
    _, again, _ = read_all(table(moved))
    assert {r.case_number: r.sha256 for r in rows} == {r.case_number: r.sha256 for r in again}
    changed = operations_rows()
    changed[1][11] = "7 125 001,00"
    _, after, _ = read_all(table(changed))
    assert after[0].sha256 != rows[0].sha256 and after[1].sha256 == rows[1].sha256
    _, duplicates, _ = read_all(fixture("duplicates.csv"))
    assert len({len(r.sha256) for r in rows}) == 1 and len(rows[0].sha256) == 64
    assert duplicates[0].sha256 != duplicates[2].sha256  # the names differ; duplicate_of is not hashed


def test_a_bad_value_is_none_with_a_warning_naming_row_field_and_value():
    _, rows, problems = read_all(fixture("amounts.csv"))
    assert rows[5].total_budget is None and rows[5].eu_grant is None
    assert [(p.row_number, p.field, p.value, p.severity) for p in problems_of(problems, 7)] == [
        (7, "total_budget", "10^22", "warning"), (7, "eu_grant", "1e22", "warning")]


# --- memory -----------------------------------------------------------------------------------------------------

def long_list(rows: int) -> bytes:
    heading, *templates = operations_rows()
    body = [heading]
    for i in range(rows):
        row = list(templates[i % len(templates)])
        row[0] = f"{21 + i % 7}-{i // 7 % 1000:03d}-S{i // 7000:02d}"
        body.append(row)
    return table(body)


def peak_memory(body: bytes, keep: bool) -> int:
    kept = []
    tracemalloc.start()
    for chunk in read_list(body, chunk_rows=200).chunks:
        if keep:
            kept.append(chunk)
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def test_reading_chunk_by_chunk_holds_one_chunk_not_the_file():
    """The issue's bound: a long list is read in bounded memory. Three times the rows cost the streaming reader
    only its table of identities (for duplicates), while holding every row costs three times as much."""
    short, long = long_list(600), long_list(1800)
    streamed = peak_memory(long, keep=False) - peak_memory(short, keep=False)
    held = peak_memory(long, keep=True) - peak_memory(short, keep=True)
    assert streamed * 5 < held


def test_a_column_named_twice_is_read_once_with_a_note():
    reading, rows, _ = read_all("Diarienummer;Namn på insatsen;Operation ID\n23-041-S05;Yrkesnyckeln;24-118-S02\n"
                                .encode())
    assert reading.notes == ["column 'Operation ID' is there twice: the first is read"]
    assert rows[0].case_number == "23-041-S05"


def test_sniff_reads_a_cp1252_heading():
    assert sniff(fixture("cp1252.csv")) == OPERATIONS


def test_excels_sep_line_names_the_delimiter_and_is_not_a_row():
    body = "sep=,\r\nDiarienummer,Namn på insatsen,Kommentar;Fritext;Mer\r\n23-041-S05,Yrkesnyckeln,a;b;c\r\n".encode()
    assert sniff(body) == OPERATIONS
    reading, rows, _ = read_all(body)
    assert (rows[0].row_number, rows[0].case_number, rows[0].name) == (2, "23-041-S05", "Yrkesnyckeln")


@pytest.mark.parametrize("name", ["duplicates.csv", "amounts.csv", "dates.csv", "case_numbers.csv",
                                  "kohesio.xlsx", "operations.xlsx"])
def test_blocks_read_by_worker_processes_give_what_this_process_reads(name):
    """A large file's blocks go to the run's parse pool (service/lists.py): same rows, problems, duplicates."""
    from service.pool import ParsePool

    def read(map_blocks):
        chunks = list(read_chunks(read_list(fixture(name), chunk_rows=2), map_blocks))
        return [r for c in chunks for r in c.rows], [p for c in chunks for p in c.problems]

    here = read(map)
    with ParsePool(2) as pool:
        there = read(pool.map_ordered)
    assert there == here and here[0]


def test_a_cell_no_normaliser_foresaw_costs_its_row_not_the_file(monkeypatch):
    """A normaliser that fails in a way it was never meant to (here: a TypeError on one beneficiary's name) makes
    that row an error naming the exception; the block's other rows and the file's other blocks still load."""
    from transform import list_rows, list_values
    text = list_values.text

    def text_with_a_bug(cell):
        if cell == "Stiftelsen Lärlingsvägen":
            raise TypeError("unforeseen cell")
        return text(cell)

    monkeypatch.setitem(list_rows.READERS[OPERATIONS], "beneficiary", (text_with_a_bug, True))
    body = table([operations_rows()[0]] + [
        row[:1] + [name] + row[2:] for row, name in zip(operations_rows()[1:4],
                                                         ["Bänkeby kommun", "Stiftelsen Lärlingsvägen", "UMEÅ KOMMUN"])])
    _, rows, problems = read_all(body, chunk_rows=5000)
    assert [r.row_number for r in rows] == [2, 4]
    assert [(p.row_number, p.severity) for p in problems if p.severity == "error"] == [(3, "error")]
    assert "TypeError: unforeseen cell" in [p for p in problems if p.severity == "error"][0].reason


@pytest.mark.parametrize("kind", [OPERATIONS, KOHESIO])
def test_every_reader_reads_an_empty_cell_as_none(kind):
    """The row reader reads a column in one pass and relies on this (transform/list_rows.py: READERS)."""
    from transform.list_rows import LENIENT, READERS
    for name, (fn, _) in READERS[kind].items():
        empty = (None, None) if fn in LENIENT else None
        assert fn(None) == empty and fn("") == empty, name
