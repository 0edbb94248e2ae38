"""A list's rows reach the staging table exactly as read: the text that carries them from a worker process to the
run's DuckDB loses no character, keeps NULL apart from text and holds amounts, rates and dates to their types."""
from __future__ import annotations

import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from load.lists import number_occurrences, stage_encoded, start_staging
from transform.staging import encode_for_staging
from records.lists import COLUMNS, OPERATIONS, ListChunk

TEXTS = ("case_number", "name", "summary", "summary_en", "beneficiary", "beneficiary_city")
# Any text a reader gives: never empty (an empty cell is None), but quotes, separators, line ends, control characters.
text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60)
optional_text = st.none() | text | st.sampled_from(['"', '""', ",", "\r\n", "\\N", "NULL", " x ", "a\rb", "\\", "\x1e", "\x1f", "\x02AB", "a\nb\n"])


def staged(chunk: ListChunk) -> tuple[list[tuple], list]:
    con = duckdb.connect()
    start_staging(con)
    encoded, problems = encode_for_staging(chunk)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "block.staged").write_bytes(encoded)
        stage_encoded(con, "ops.csv", chunk.kind, [Path(folder) / "block.staged"])
    number_occurrences(con, "ops.csv")
    names = ", ".join(COLUMNS)
    return con.execute(f"SELECT {names} FROM list_in ORDER BY row_number").fetchall(), problems


def chunk_of(rows: list[dict]) -> ListChunk:
    chunk = ListChunk(OPERATIONS)
    for i, row in enumerate(rows):
        values = {"row_number": i + 2, "external_id": f"24-{i:03d}-S01", "sha256": "ab" * 32, **row}
        for name in COLUMNS:
            chunk.columns[name].append(values.get(name))
    return chunk


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({name: optional_text for name in TEXTS}), min_size=1, max_size=5))
def test_text_arrives_as_written_and_none_as_null(rows):
    got, _ = staged(chunk_of(rows))
    for row, back in zip(rows, got):
        assert {name: back[COLUMNS.index(name)] for name in TEXTS} == row


def test_typed_values_and_occurrences():
    rows = [{"external_id": "A", "total_budget": Decimal("1234567.50"), "eu_grant": Decimal("10") ** 17,
             "cofinancing_rate": Decimal("0.4"), "start_date": date(2023, 9, 1), "end_date": None},
            {"external_id": "B"}, {"external_id": "A", "total_budget": Decimal("0.00")}]
    got, problems = staged(chunk_of(rows))
    col = {name: [r[COLUMNS.index(name)] for r in got] for name in COLUMNS}
    assert col["total_budget"] == [Decimal("1234567.50"), None, Decimal("0.00")]
    assert col["eu_grant"] == [None, None, None]
    assert [(p.row_number, p.field) for p in problems] == [(2, "eu_grant")]
    assert col["cofinancing_rate"] == [Decimal("0.400000"), None, None]
    assert col["start_date"] == [date(2023, 9, 1), None, None] and col["end_date"] == [None, None, None]
    assert col["duplicate_of"] == [None, None, 2]


def test_a_text_too_long_to_stage_is_left_empty_with_a_warning_and_the_row_loads():
    """A crafted workbook's cell of millions of characters: that value is NULL with a warning naming its row and
    field; the row and the block's other rows load (a night never fails on one value)."""
    huge = "å" * 3_000_000  # 6 MB in UTF-8, over what one staged row may hold
    got, problems = staged(chunk_of([{"name": "Kort", "summary": huge}, {"name": "Nästa", "summary": "Liten text"}]))
    assert [(r[COLUMNS.index("name")], r[COLUMNS.index("summary")]) for r in got] == [
        ("Kort", None), ("Nästa", "Liten text")]
    assert [(p.row_number, p.field, p.severity) for p in problems] == [(2, "summary", "warning")]
    assert "6,000,000 bytes" in problems[0].reason
