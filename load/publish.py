"""Publish the analysts' database: a finished copy of the run's file, swapped in by atomic rename."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from load.search import build_index, copy_index, has_index
from load.migrate import migrate
from load.sql import columns, literal, relations, scalar

CONTACT_COLUMNS = ("contact_name", "contact_email", "contact_phone")
CONTACT_TABLES = ("projects", "project_versions")


def publish(work_path: str | os.PathLike, target: str | os.PathLike, *, without_contacts: bool = False) -> Path:
    """Copy the closed, checkpointed work file next to the target, then rename it over the target.

    Readers holding the old file keep their consistent view (the old inode lives on until they close);
    new readers see the new file. Nothing is renamed if any step fails.
    """
    work_path, target = Path(work_path), Path(target)
    tmp = target.with_name(f".{target.name}.publishing-{os.getpid()}")
    try:
        if without_contacts:
            copy_fresh(work_path, tmp, without_contacts=True)
        else:
            shutil.copyfile(work_path, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    return target


def published_run_id(target: str | os.PathLike) -> int | None:
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


def remove_leftovers(target: str | os.PathLike) -> list[str]:
    """Delete half-written copies a run killed while publishing left beside the target; → their names.
    Call only under the warehouse lock: then no live run is publishing."""
    target = Path(target)
    removed = []
    for path in target.parent.glob(f".{target.name}.publishing-*"):
        path.unlink(missing_ok=True)
        removed.append(path.name)
    return sorted(removed)


def compact(path: str | os.PathLike) -> None:
    """Rebuild a closed warehouse file afresh and rename it over itself: DuckDB reuses the blocks of a
    dropped table but never gives them back, and they still hold the old bytes (after migration 011, every
    page body). Crash-safe like publishing: the old file stands until the rename."""
    path = Path(path)
    for leftover in path.parent.glob(f".{path.name}.compacting-*"):  # a compaction killed half-way
        leftover.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.compacting-{os.getpid()}")
    try:
        copy_fresh(path, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)


def copy_fresh(source: Path, dest: Path, *, without_contacts: bool = False) -> None:
    """A new file with the same schema and rows (contact columns empty if asked).

    Built fresh rather than updated in place, so no page of the file keeps the old values.
    """
    con = duckdb.connect(str(dest))
    try:
        migrate(con)
        build_index(con)  # empty and quick: the index's schema and macros, filled from the source's below
        con.execute(f"ATTACH {literal(source)} AS src (READ_ONLY)")
        # the search index (its own schema) is rebuilt below, not copied
        tables = [r.name for r in relations(con, "src") if r.kind == "table"]
        for table in tables:
            cols = [name for name, _, _ in columns(con, table, "src")]
            select = ", ".join(_blanked(table, c) if without_contacts else c for c in cols)
            if table == "schema_migrations":
                continue
            con.execute(f"INSERT INTO main.{table} ({', '.join(cols)}) SELECT {select} FROM src.{table}")
        if has_index(con, "src"):
            copy_index(con, "src")
        con.execute("DETACH src")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _blanked(table: str, column: str) -> str:
    if table in CONTACT_TABLES and column in CONTACT_COLUMNS:
        return f"NULL AS {column}"
    if table in ("project_field_problems", "warnings", "rejects") and column == "value":  # an unreadable e-mail
        fields = ", ".join(f"'{c}'" for c in CONTACT_COLUMNS)
        return f"CASE WHEN field IN ({fields}) THEN NULL ELSE value END AS value"
    return column


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
