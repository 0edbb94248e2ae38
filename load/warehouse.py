"""The single writer of the run's own DuckDB file: lock, migrations, views, comments and run rows."""
from __future__ import annotations

import csv
import fcntl
import importlib.util
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

HERE = Path(__file__).resolve().parent
MIGRATIONS = HERE / "migrations"
MEMORY_LIMIT = os.environ.get("ESF_DUCKDB_MEMORY", "128MB")  # the writer spills beyond this (measured: same speed as 512MB, 400 MB less peak memory on 10,000 pages)


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse."""


def work_path_for(db: str | os.PathLike) -> Path:
    """The run's own file beside the published one: esf.duckdb → esf.work.duckdb."""
    db = Path(db)
    return db.with_name(f"{db.stem}.work{db.suffix or '.duckdb'}")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Warehouse:
    """An open, locked, migrated warehouse file. Use as a context manager."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock_fh = None
        self.con: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> "Warehouse":
        self.open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fh = open(lock_path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise WarehouseBusy(f"another esf run ({holder}) is writing {self.path}; try again when it ends") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        self._lock_fh = fh
        try:
            self.connect()
        except duckdb.IOException as exc:
            self.close()
            raise WarehouseBusy(f"cannot open {self.path}: {exc}") from None

    def connect(self) -> None:
        """(Re)open the database file under the lock this object already holds."""
        if self.con is None:
            self.con = duckdb.connect(str(self.path), config={"memory_limit": MEMORY_LIMIT})
            self.con.execute("SET TimeZone = 'UTC'")
            migrate(self.con)

    def disconnect(self) -> None:
        """Close the database file but keep the lock (to copy the file while no one can write it)."""
        if self.con is not None:
            self.con.close()
            self.con = None

    def close(self) -> None:
        self.disconnect()
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    # --- runs -------------------------------------------------------------------------------
    def start_run(self, sources: list[str]) -> tuple[int, datetime]:
        """A 'running' row, committed at once; runs a killed process left 'running' become 'aborted'."""
        con = self.con
        con.execute("UPDATE runs SET status = 'aborted', message = 'the process ended before the run finished' "
                    "WHERE status = 'running'")
        run_id = con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchone()[0]
        started = utcnow()
        con.execute("INSERT INTO runs (run_id, started_at, status, sources) VALUES (?, ?, 'running', ?)",
                    [run_id, started, " ".join(sources)])
        return run_id, started

    def finish_run(self, run_id: int, status: str, counts: dict[str, int] | None = None,
                   message: str | None = None) -> None:
        counts = counts or {}
        columns = ["seen", "new", "changed", "unchanged", "duplicates", "rejected", "failed", "warnings",
                   "skipped", "not_modified", "gone"]
        sets = ", ".join(f"{c} = ?" for c in columns)
        self.con.execute(f"UPDATE runs SET status = ?, finished_at = ?, message = ?, {sets} WHERE run_id = ?",
                         [status, utcnow(), message, *[counts.get(c) for c in columns], run_id])

    def checkpoint(self) -> None:
        self.con.execute("CHECKPOINT")


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations this file lacks, each in its own transaction; then views and comments.

    A migration is NNN_name.sql, or NNN_name.py with `upgrade(con)` for a step SQL cannot take."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER, name VARCHAR, applied_at TIMESTAMPTZ)")
    done = {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for path in migration_files():
        version = int(path.name.split("_", 1)[0])
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            if path.suffix == ".py":
                _load_module(path).upgrade(con)
            else:
                con.execute(path.read_text(encoding="utf-8"))
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, path.name, utcnow()])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(version)
    apply_views_and_comments(con)  # always: a new release may change a view without a migration
    return applied


def migration_files() -> list[Path]:
    return sorted([*MIGRATIONS.glob("[0-9]*.sql"), *MIGRATIONS.glob("[0-9]*.py")], key=lambda p: p.name)


def _load_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"esf_migration_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def apply_views_and_comments(con: duckdb.DuckDBPyConnection) -> None:
    con.execute((HERE / "views.sql").read_text(encoding="utf-8"))
    entries = list(csv.DictReader(open(HERE / "dictionary.csv", encoding="utf-8", newline="")))
    kinds = dict(con.execute("SELECT table_name, 'TABLE' FROM duckdb_tables() UNION ALL "
                             "SELECT view_name, 'VIEW' FROM duckdb_views() WHERE NOT internal").fetchall())
    described = {(e["table"], e["column"]): e["comment"] for e in entries}
    for (table, column), comment in described.items():
        if table not in kinds:
            continue
        text = comment.replace("'", "''")
        if column:
            con.execute(f"COMMENT ON COLUMN {table}.{column} IS '{text}'")
        else:
            con.execute(f"COMMENT ON {kinds[table]} {table} IS '{text}'")
    # project_versions repeats the projects columns; their meaning is the same.
    for (column,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'project_versions'").fetchall():
        if ("project_versions", column) not in described and ("projects", column) in described:
            text = described[("projects", column)].replace("'", "''")
            con.execute(f"COMMENT ON COLUMN project_versions.{column} IS '{text}'")
