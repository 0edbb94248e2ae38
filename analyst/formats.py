"""Query results as a table, CSV or JSON, and text made safe for a terminal or Markdown."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any




# C0 controls, DEL and C1 controls, plus the Unicode line separators and bidirectional overrides and isolates
# (they reorder what a terminal shows): every one shown as an escape, never sent to a terminal raw.
_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_CONTROL_ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})
_CONTROL_ESCAPES.update({c: f"\\u{c:04x}" for c in [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]})
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in _CONTROL_ESCAPES if c >= 0x7F}  # json.dumps escapes the C0 ones itself
_MARKDOWN_SPECIALS = "\\`*_[]<>|#!~&"
# A spreadsheet reads a cell that begins with one of these as a formula (OWASP, "CSV injection"): such a text cell
# is neutralised by a leading apostrophe in the CSV meant for spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_control(text: str) -> str:
    """Text with every control character shown as an escape (ESC as \\x1b, a newline as \\n); backslashes kept."""
    return text.translate(_CONTROL_ESCAPES)


def escape_markdown(text: str) -> str:
    """Page text made inert in Markdown: one line, control characters escaped, no links, emphasis, code or HTML."""
    one_line = escape_control(" ".join(text.splitlines()))
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in one_line)


def _cell(value: Any) -> str:
    return escape_control(_plain(value))


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}".replace(",", " ")  # Swedish style: group thousands from five digits
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def table(columns: list[str], rows: list[tuple]) -> str:
    """A plain aligned text table; numbers right-aligned with spaces between thousands, control characters escaped."""
    columns = [escape_control(str(c)) for c in columns]
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(r[i], (int, float, Decimal)) or r[i] is None for r in rows) and rows
               for i in range(len(columns))]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    out = [line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def neutralise(text: str) -> str:
    """A text cell a spreadsheet would take for a formula (`=HYPERLINK(...)`, `+1`, `@SUM`, a leading tab or CR),
    prefixed with an apostrophe so that it stays text; any other text unchanged."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def as_csv(columns: list[str], rows: list[tuple], escape: bool = False, safe: bool = False) -> str:
    """CSV with a header; the values as they are (byte-faithful), with control characters escaped (`escape`, for a
    terminal), or with formula-like text cells neutralised (`safe`, to open in a spreadsheet)."""
    def cell(v: Any) -> Any:
        v = "" if v is None else (v.isoformat() if isinstance(v, (date, datetime)) else v)
        if safe and isinstance(v, str):
            v = neutralise(v)
        return escape_control(str(v)) if escape and isinstance(v, str) else v
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([cell(c) for c in columns])
    writer.writerows([[cell(v) for v in row] for row in rows])
    return buf.getvalue().rstrip("\n")


def as_json(columns: list[str], rows: list[tuple]) -> str:
    def default(v: Any) -> Any:
        if isinstance(v, (date, datetime)):
            return v.isoformat()
        if isinstance(v, Decimal):
            return float(v)
        if isinstance(v, bytes):
            return v.hex()
        return str(v)
    text = json.dumps([dict(zip(columns, row)) for row in rows], ensure_ascii=False, indent=2, default=default)
    return text.translate(_JSON_ESCAPES)  # the same JSON, with DEL, C1 and bidi controls as \\u escapes


FORMATTERS = {"table": table, "csv": as_csv, "json": as_json}
