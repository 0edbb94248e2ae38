"""Whether the run's files read back: DuckDB's block checksums, a file cut short, and which file a damage
error came from. A damaged file is never published and fails the night with `DamagedFile`."""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

from load import sql
from records.errors import RunFailed


class DamagedFile(RunFailed):
    """A file of the run does not read back: DuckDB found a block whose checksum does not match, or the file
    ends before its blocks do. `role`: 'warehouse' (esf.work.duckdb) or 'raw store' (esf.raw.duckdb)."""

    def __init__(self, path: Path, role: str, reason: str) -> None:
        super().__init__(f"the {role} {path} is damaged: {reason}")
        self.path, self.role, self.reason = Path(path), role, reason


DAMAGE_SIGNS = ("corrupt database file", "could not read enough bytes", "not a valid duckdb database",
                "computed checksum")


def is_damage(exc: BaseException) -> bool:
    """Whether a DuckDB error says a file does not read back (rather than a mistake in a query)."""
    return isinstance(exc, duckdb.Error) and any(sign in str(exc).lower() for sign in DAMAGE_SIGNS)


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def read_through(con: duckdb.DuckDBPyConnection, database: str, skip_columns: tuple[str, ...] = ()) -> None:
    """Read every value of every table of the attached `database`: DuckDB checks each block's checksum as it
    reads it, so a damaged block raises (`count(*)` reads no column, so it is not enough). Each view is bound
    and planned, not read: its rows are the tables' values, already read (reading them cost more than the
    tables, some 0.45 s of publishing a 200,000-row list). `skip_columns` are not read (the raw store's page
    bodies, for the cheap check at the start of a run)."""
    tables = sql.every_relation(con, database, views=False)
    for schema, name in sql.every_relation(con, database):
        qualified = ".".join(sql.identifier(part) for part in (database, schema, name))
        if (schema, name) not in tables:
            con.execute(f"SELECT * FROM {qualified} LIMIT 0").fetchall()
            continue
        columns = [c for c, _, _ in sql.columns(con, name, database, schema) if c not in skip_columns]
        if columns:
            hashed = ", ".join(f"max(hash({sql.identifier(c)}))" for c in columns)
            con.execute(f"SELECT count(*), {hashed} FROM {qualified}").fetchall()


HEADER_BYTES = 3 * 4096  # a DuckDB file's main header and its two database headers, before the first block


def check_length(con: duckdb.DuckDBPyConnection, database: str, path: Path) -> str | None:
    """Why the attached `database` (the file at `path`) is shorter than its blocks say, or None. A truncated
    file opens, and its tail is read only when a query needs it (a page body, on some later night)."""
    row = con.execute("SELECT block_size, total_blocks FROM pragma_database_size() WHERE database_name = ?",
                      [database]).fetchone()
    if not row or not row[0] or not path.exists():
        return None
    needed, size = HEADER_BYTES + row[0] * row[1], path.stat().st_size
    return None if size >= needed else f"the file is {size:,} bytes; its {row[1]} blocks need {needed:,}"


def verify_file(path: str | os.PathLike[str], role: str = "warehouse") -> None:
    """Open a closed database file read-only and read it through; DamagedFile if it does not read back."""
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            read_through(con, str(sql.scalar(con, "SELECT current_database()")))
        finally:
            con.close()
    except duckdb.Error as exc:
        raise DamagedFile(Path(path), role, first_line(exc)) from None
