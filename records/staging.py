"""The text that carries a list's rows from the process that read them to the run's DuckDB: written by
transform.staging.encode_for_staging (in a worker process, for a large file), read by load.lists.stage_encoded.

One line a row of COLUMNS, fields apart by SEPARATOR, nothing quoted; the line feeds of a text of LINES (rendered
as lines) are written as LINE_FEED, and a text holding any other control character (or, outside LINES, a line
feed) as BASE64 followed by its UTF-8 in base64; None is an empty field (a reader never gives an empty string),
which reads back as NULL."""
from __future__ import annotations

from records.lists import COLUMNS

SEPARATOR, LINE_FEED, BASE64 = b"\x1f", b"\x1e", b"\x02"  # US, RS, STX
# A staged row's columns (COLUMNS' order) and their types.
STAGED_TYPES: tuple[tuple[str, str], ...] = tuple((name, {
    "row_number": "INTEGER", "duplicate_of": "INTEGER", "total_budget": "DECIMAL(18, 2)", "eu_grant": "DECIMAL(18, 2)",
    "cofinancing_rate": "DECIMAL(9, 6)", "start_date": "DATE", "end_date": "DATE"}.get(name, "VARCHAR"))
    for name in COLUMNS)
TEXTS = tuple(name for name, kind in STAGED_TYPES if kind == "VARCHAR")
LINES = ("summary", "summary_en")
# Bytes in a staged row: many summaries at the csv module's 128 K-character field limit (DuckDB's read buffers grow
# with it); a longer row's longest texts are left empty, with a warning.
MAX_STAGED_LINE = 4 << 20
