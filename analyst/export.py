"""`esf export`: every table and view of the published file to files — Parquet, CSV (byte-faithful, formula-safe,
or for Swedish Excel) or XLSX — with personal data withheld when asked (load/redact.py, the one rule).

Parquet and the plain CSV are DuckDB's own COPY (fast, and the CSV holds every value as it is). The CSVs meant for
spreadsheets and the XLSX files are written row by row here, because each cell may need changing."""
from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from analyst.formats import escape_control, neutralise
from load.redact import columns, redacted_select
from load.sql import literal, relations, scalar
from records.errors import EsfError

FORMATS = ("parquet", "csv", "xlsx")
PARTITIONED_EXPORTS = {"projects": "programme_period", "project_versions": "programme_period"}
LEFT_OUT = ("body",)  # raw page bodies never leave in an export
XLSX_ROWS = 1_048_576  # Excel's rows a sheet, the heading row included
XLSX_SHEET_NAME = 31   # Excel's longest sheet name
XLSX_CELL = 32_767     # Excel's longest text in a cell
CUT_MARK = "…[cut]"
FETCH = 10_000
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what an XLSX cell cannot hold at all


class CsvStyle:
    """How the CSV meant for a spreadsheet writes: `excel` is Swedish Excel's own (UTF-8 with BOM, `;`, decimal
    comma); otherwise a plain CSV (UTF-8, `,`, decimal point). Both neutralise formula-like text cells."""

    def __init__(self, excel: bool) -> None:
        self.excel = excel
        self.delimiter = ";" if excel else ","
        self.encoding = "utf-8-sig" if excel else "utf-8"

    def cell(self, value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (Decimal, float)):
            text = format(value, "f") if isinstance(value, Decimal) else repr(value)
            return text.replace(".", ",") if self.excel else text
        if isinstance(value, datetime):  # Excel reads a time without a zone, to the second
            return _spreadsheet_time(value).strftime("%Y-%m-%d %H:%M:%S") if self.excel else value.isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, (int,)):
            return value
        return neutralise(str(value))


def exported(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table and view of the published database, by name (the search index's own schema left out)."""
    return sorted(r.name for r in relations(con))


def source_select(con: duckdb.DuckDBPyConnection, name: str, without_contacts: bool) -> str:
    """The SELECT an export of one table or view reads: its columns without page bodies; without contacts, with
    personal data withheld as in a database `esf run --without-contacts` published (one schema either way)."""
    database = str(scalar(con, "SELECT current_database()"))
    if without_contacts:
        return redacted_select(con, database, name, leave_out=LEFT_OUT)
    keep = [f'"{n}"' for n, _ in columns(con, database, name) if n not in LEFT_OUT]
    return f'SELECT {", ".join(keep)} FROM "{name}"'


def copy_statement(con: duckdb.DuckDBPyConnection, out: Path, name: str, fmt: str,
                   without_contacts: bool) -> tuple[Path, str]:
    """Where one table or view goes as Parquet or plain CSV (a file, or Hive-style folders analysts can prune by
    period) and the COPY that writes it."""
    target = out / f"{name}.{fmt}"
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    if fmt == "parquet" and name in PARTITIONED_EXPORTS:
        target = out / name
        options += f", PARTITION_BY ({PARTITIONED_EXPORTS[name]}), OVERWRITE_OR_IGNORE"
    return target, f"COPY ({source_select(con, name, without_contacts)}) TO {literal(target)} ({options})"


def export_all(con: duckdb.DuckDBPyConnection, out: Path, fmt: str, *, without_contacts: bool = False,
               safe_csv: bool = False, excel: bool = False,
               on_written: Callable[[Path], None] = lambda path: None) -> list[Path]:
    """Write every table and view to `out`; → the paths written, each also handed to `on_written` as it is done.
    A file that cannot be written (a full disk) ends it with ExportWriteError naming that file."""
    written = []
    for name in exported(con):
        target = export_one(con, out, name, fmt, without_contacts=without_contacts, safe_csv=safe_csv, excel=excel)
        written.append(target)
        on_written(target)
    return written


def export_one(con: duckdb.DuckDBPyConnection, out: Path, name: str, fmt: str, *, without_contacts: bool = False,
               safe_csv: bool = False, excel: bool = False) -> Path:
    """One table or view to its file; raises ExportWriteError (with the path) when the file cannot be written."""
    if fmt == "xlsx":
        target = out / f"{name}.xlsx"
        _guarded(target, lambda: write_xlsx(con, source_select(con, name, without_contacts), target, name))
    elif fmt == "csv" and (safe_csv or excel):
        target = out / f"{name}.csv"
        _guarded(target, lambda: write_spreadsheet_csv(con, source_select(con, name, without_contacts), target,
                                                       CsvStyle(excel)))
    else:
        target, copy = copy_statement(con, out, name, fmt, without_contacts)
        _guarded(target, lambda: con.execute(copy))
    return target


class ExportWriteError(EsfError):
    """A file of the export could not be written: `path` and the underlying error."""

    def __init__(self, path: Path, error: BaseException) -> None:
        super().__init__(f"{path}: {error}")
        self.path, self.error = path, error


def _guarded(target: Path, write: Callable[[], Any]) -> None:
    try:
        write()
    except (OSError, duckdb.IOException, duckdb.PermissionException) as exc:
        raise ExportWriteError(target, exc) from exc


def _rows(con: duckdb.DuckDBPyConnection, select: str) -> tuple[list[str], Iterator[tuple]]:
    cursor = con.execute(select)
    names = [d[0] for d in cursor.description]

    def batches() -> Iterator[tuple]:
        while chunk := cursor.fetchmany(FETCH):
            yield from chunk
    return names, batches()


def write_spreadsheet_csv(con: duckdb.DuckDBPyConnection, select: str, target: Path, style: CsvStyle) -> None:
    """A CSV to open in a spreadsheet: formula-like text neutralised; with `style.excel`, Swedish Excel's dialect."""
    names, rows = _rows(con, select)
    with open(target, "w", encoding=style.encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=style.delimiter, lineterminator="\r\n" if style.excel else "\n")
        writer.writerow([style.cell(n) for n in names])
        for row in rows:
            writer.writerow([style.cell(v) for v in row])


def write_xlsx(con: duckdb.DuckDBPyConnection, select: str, target: Path, name: str) -> None:
    """One workbook per table: its rows on a sheet named after it (cut to 31 characters); past Excel's 1,048,576
    rows a sheet, on further sheets `<name> (2)`, `(3)` … Text is stored as text, never as a formula; a text over
    32,767 characters is cut and ends `…[cut]`; time stamps are UTC without a zone (Excel has none)."""
    from openpyxl import Workbook
    names, rows = _rows(con, select)
    book = Workbook(write_only=True)
    sheet: Any = None
    used, number = XLSX_ROWS, 0
    for row in rows:
        if used >= XLSX_ROWS:
            number += 1
            sheet = book.create_sheet(sheet_name(name, number))
            sheet.append(names)
            used = 1
        values = [_xlsx_value(v) for v in row]
        sheet.append([_text_cell(sheet, v) if isinstance(v, str) and v.startswith("=") else v for v in values])
        used += 1
    if sheet is None:  # an empty table: its heading alone
        book.create_sheet(sheet_name(name, 1)).append(names)
    book.save(target)


def _text_cell(sheet: Any, text: str) -> Any:
    """A cell that holds `text` as text: openpyxl would store a text beginning with '=' as a formula."""
    from openpyxl.cell import WriteOnlyCell
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"
    return cell


def sheet_name(table: str, number: int) -> str:
    """`table`, or `table (2)` for its second sheet, cut so that the whole fits Excel's 31 characters."""
    suffix = "" if number == 1 else f" ({number})"
    return table[:XLSX_SHEET_NAME - len(suffix)] + suffix


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        text = _XML_ILLEGAL.sub(lambda m: escape_control(m.group(0)), value)
        return text if len(text) <= XLSX_CELL else text[:XLSX_CELL - len(CUT_MARK)] + CUT_MARK
    if isinstance(value, datetime):
        return _spreadsheet_time(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (list, dict, tuple)):
        return _xlsx_value(str(value))
    return value


def _spreadsheet_time(value: datetime) -> datetime:
    """A time stamp as a spreadsheet can hold it: in UTC, without a zone."""
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
