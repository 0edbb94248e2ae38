"""Publish the analysts' database: a finished copy of the run's file, swapped in by atomic rename."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from load.redact import personal_values_sql, redacted_select
from load.search import build_index, copy_index, has_index
from load.damage import DamagedFile, first_line, is_damage, verify_file
from load.migrate import migrate
from load.sql import columns, literal, relations, scalar


def publish(work_path: str | os.PathLike[str], target: str | os.PathLike[str], *, without_contacts: bool = False) -> Path:
    """Copy the closed, checkpointed work file next to the target, then rename it over the target.

    Readers holding the old file keep their consistent view (the old inode lives on until they close);
    new readers see the new file. Nothing is renamed if any step fails.
    """
    work_path, target = Path(work_path), Path(target)
    with swapped_in(target, "publishing") as tmp:
        _copy_verified(work_path, tmp, without_contacts)
    return target


@contextmanager
def swapped_in(target: Path, purpose: str) -> Iterator[Path]:
    """A temporary file beside `target` for the caller to write; when the block ends without error it is
    fsynced and renamed over `target` (readers holding the old file keep their view), otherwise `target` is
    untouched. The temporary file and its WAL never outlive the block (`.<name>.<purpose>-<pid>`)."""
    tmp = target.with_name(f".{target.name}.{purpose}-{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)


def _copy_verified(work_path: Path, tmp: Path, without_contacts: bool) -> None:
    """The copy to publish, on disk and read through (every value of every table and view, each block's
    checksum checked as DuckDB reads it): a copy that does not read back is never renamed into place."""
    try:
        if without_contacts:
            copy_fresh(work_path, tmp, without_contacts=True)
        else:
            shutil.copyfile(work_path, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        verify_file(tmp)
    except DamagedFile as damaged:
        raise DamagedFile(work_path, "warehouse", f"its copy for publishing does not read back: {damaged.reason}") \
            from None
    except duckdb.Error as exc:
        if is_damage(exc):
            raise DamagedFile(work_path, "warehouse", first_line(exc)) from None
        raise


def published_run_id(target: str | os.PathLike[str]) -> int | None:
    """The last run recorded in the published file (None: no published file, or one that cannot be read)."""
    target = Path(target)
    if not target.is_file():
        return None
    try:
        con = duckdb.connect(str(target), read_only=True)
        try:
            run_id = scalar(con, "SELECT max(run_id) FROM runs")
            return None if run_id is None else int(run_id)
        finally:
            con.close()
    except duckdb.Error:
        return None


def remove_leftovers(target: str | os.PathLike[str]) -> list[str]:
    """Delete half-written copies a run killed while publishing left beside the target; → their names.
    Call only under the warehouse lock: then no live run is publishing."""
    target = Path(target)
    removed = []
    for path in target.parent.glob(f".{target.name}.publishing-*"):
        path.unlink(missing_ok=True)
        removed.append(path.name)
    return sorted(removed)


def compact(path: str | os.PathLike[str]) -> None:
    """Rebuild a closed warehouse file afresh and rename it over itself: DuckDB reuses the blocks of a
    dropped table but never gives them back, and they still hold the old bytes (after migration 011, every
    page body). Crash-safe like publishing: the old file stands until the rename."""
    path = Path(path)
    for leftover in path.parent.glob(f".{path.name}.compacting-*"):  # a compaction killed half-way
        leftover.unlink(missing_ok=True)
    with swapped_in(path, "compacting") as tmp:
        copy_fresh(path, tmp)


def copy_fresh(source: Path, dest: Path, *, without_contacts: bool = False) -> None:
    """A new file with the same schema and rows (personal data withheld if asked: load/redact.py).

    Built fresh rather than updated in place, so no page of the file keeps the old values.
    """
    con = duckdb.connect(str(dest))
    try:
        migrate(con)
        build_index(con)  # empty and quick: the index's schema and macros, filled from the source's below
        con.execute(f"ATTACH {literal(source)} AS src (READ_ONLY)")
        # the search index (its own schema) is rebuilt below, not copied
        tables = [r.name for r in relations(con, "src") if r.kind == "table"]
        if without_contacts:  # every page's personal values, once for all the tables that quote them
            con.execute(f"CREATE TEMP TABLE esf_personal_values AS {personal_values_sql(con, 'src')}")
        for table in tables:
            cols = [name for name, _, _ in columns(con, table, "src")]
            if table == "schema_migrations":
                continue
            select = redacted_select(con, "src", table, values_table="esf_personal_values") if without_contacts \
                else f"SELECT * FROM src.{table}"
            con.execute(f"INSERT INTO main.{table} ({', '.join(cols)}) {select}")
        if has_index(con, "src"):
            copy_index(con, "src")
        con.execute("DETACH src")
        con.execute("CHECKPOINT")
    finally:
        con.close()




def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
