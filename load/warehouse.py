"""The single writer of the run's own DuckDB file: lock, migrations, views, comments and run rows."""
from __future__ import annotations

import csv
import fcntl
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from records.run import RUNS_COLUMNS, RunCounts

HERE = Path(__file__).resolve().parent
MIGRATIONS = HERE / "migrations"
MEMORY_SHARE, MEMORY_FLOOR, MEMORY_CEILING = 1 / 8, 256 << 20, 2 << 30  # of the machine's memory, in bytes


def memory_limit() -> str:
    """DuckDB's memory limit for the writer when the run names none (`--memory`, $ESF_DUCKDB_MEMORY): an
    eighth of the machine's memory between 256 MB and 2 GB. DuckDB spills to disk beyond it, but some
    operators cannot, and 128 MB was too little for a store of 5 MB pages."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 4 << 30
    return f"{max(MEMORY_FLOOR, min(int(total * MEMORY_SHARE), MEMORY_CEILING)) >> 20}MB"


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse."""


RAW = "raw"  # the catalog the raw store is attached under: raw.raw_pages, raw.file_state


def work_path_for(db: str | os.PathLike) -> Path:
    """The run's own file beside the published one: esf.duckdb → esf.work.duckdb."""
    db = Path(db)
    return db.with_name(f"{db.stem}.work{db.suffix or '.duckdb'}")


def raw_path_for(path: str | os.PathLike) -> Path:
    """The raw store beside the published or the work file: esf.duckdb, esf.work.duckdb → esf.raw.duckdb."""
    path = Path(path)
    return path.with_name(f"{path.stem.removesuffix('.work')}.raw{path.suffix or '.duckdb'}")


def _holder() -> str:
    return f"pid {os.getpid()}"


def _alive(holder: str) -> bool:
    """Whether the process named in a lock file ('pid N') still exists."""
    pid = holder.removeprefix("pid ").strip()
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _busy_message(path: Path, holder: str, lock_path: Path) -> str:
    if holder and not _alive(holder):  # the named run is dead, yet something it started holds the lock
        return (f"{lock_path} is held, but the run that took it ({holder}) has ended: a process it started "
                f"still holds it (`fuser {lock_path}` names it); stop that process and try again")
    return f"another esf run ({holder or 'another process'}) is writing {path}; try again when it ends"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Warehouse:
    """An open, locked, migrated warehouse file with its raw store attached as `raw`. Use as a context
    manager. One connection holds both files and one lock guards both; closing it closes both."""

    def __init__(self, path: str | os.PathLike, raw_path: str | os.PathLike | None = None,
                 memory: str | None = None):
        self.path = Path(path)
        self.memory = memory or memory_limit()  # DuckDB's memory limit, e.g. '1GB'; default: memory_limit()
        self.raw_path = Path(raw_path) if raw_path else raw_path_for(self.path)
        self.raw_missing = False  # the raw store was gone though the warehouse had used one (found at open)
        self._lock_fh = None
        self.stale_lock_of: str | None = None  # 'pid N' of a run that died holding the lock (found at open)
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
        fh.seek(0)
        previous = fh.read().strip()
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise WarehouseBusy(_busy_message(self.path, previous, lock_path)) from None
        self.stale_lock_of = previous if previous and not _alive(previous) and previous != _holder() else None
        fh.seek(0)
        fh.truncate()
        fh.write(_holder())
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
            had_raw = self.raw_path.exists()
            self.con = duckdb.connect(str(self.path), config={"memory_limit": self.memory})
            try:
                self.con.execute("SET TimeZone = 'UTC'")
                self.con.execute(f"ATTACH '{_sql_str(self.raw_path)}' AS {RAW}")
                version = _version(self.con)
                self.raw_missing = not had_raw and version >= RAW_STORE_VERSION
                applied = migrate(self.con)
            except BaseException:
                self.disconnect()
                raise
            if RAW_STORE_VERSION in applied and version > 0:  # an old file's bodies moved out: free their blocks
                from load.publish import compact
                self.disconnect()
                compact(self.path)
                self.connect()

    def disconnect(self) -> None:
        """Close the database file but keep the lock (to copy the file while no one can write it)."""
        if self.con is not None:
            self.con.close()
            self.con = None

    def close(self) -> None:
        self.disconnect()
        if self._lock_fh is not None:
            self._lock_fh.seek(0)
            self._lock_fh.truncate()  # an empty lock file: the last holder ended cleanly
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    # --- runs -------------------------------------------------------------------------------
    def start_run(self, sources: list[str], published_through: int | None = None) -> tuple[int, datetime]:
        """A 'running' row, committed at once. Runs a dead process left behind become 'aborted': those still
        'running', and a last run that loaded but never reached the published file (`published_through`
        is the last run id found there)."""
        con = self.con
        con.execute("UPDATE runs SET status = 'aborted', message = 'the process ended before the run finished' "
                    "WHERE status = 'running'")
        con.execute("""UPDATE runs SET status = 'aborted',
                              message = 'loaded, but the process ended before publishing; the next run published it'
                       WHERE run_id = (SELECT max(run_id) FROM runs) AND status IN ('succeeded', 'rejects')
                         AND run_id IS DISTINCT FROM ?""", [published_through])
        run_id = con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchone()[0]
        started = utcnow()
        con.execute("INSERT INTO runs (run_id, started_at, status, sources) VALUES (?, ?, 'running', ?)",
                    [run_id, started, " ".join(sources)])
        return run_id, started

    def finish_run(self, run_id: int, status: str, counts: RunCounts | None = None,
                   message: str | None = None) -> None:
        """Close the run's `runs` row; without counts (a failed or interrupted run) they stay NULL."""
        sets = ", ".join(f"{c} = ?" for c in RUNS_COLUMNS)
        values = counts.runs_row() if counts else [None] * len(RUNS_COLUMNS)
        self.con.execute(f"UPDATE runs SET status = ?, finished_at = ?, message = ?, {sets} WHERE run_id = ?",
                         [status, utcnow(), message, *values, run_id])

    def checkpoint(self) -> None:
        self.con.execute("CHECKPOINT")
        self.con.execute(f"CHECKPOINT {RAW}")


# table → the tables whose column comments it repeats, in order (load/dictionary.csv need not say them twice)
SAME_COLUMNS_AS = {"project_versions": ("projects",), "operation_versions": ("operations",),
                   "kohesio_operations": ("operations",),
                   "kohesio_operation_versions": ("operation_versions", "operations")}
RAW_STORE_VERSION = 11  # the migration that moved page bodies into the raw store


def _version(con: duckdb.DuckDBPyConnection) -> int:
    """The warehouse's schema version (0: a new file)."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND table_name = 'schema_migrations'").fetchone()[0]:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def _sql_str(path: Path) -> str:
    return str(path).replace("'", "''")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN … COMMIT, or ROLLBACK on any error. If the rollback fails too (a full disk can end the
    transaction under us: "no transaction is active"), the first error is the one raised."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # the error that ended the transaction is being raised
        raise


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations this file lacks, each in its own transaction; then views and comments.

    A migration is NNN_name.sql, or NNN_name.py with `upgrade(con)` for a step SQL cannot take, and
    optionally `prepare(con)`, run in a transaction of its own first: DuckDB writes one attached database
    per transaction, so a step that writes the raw store goes there (and must be safe to repeat)."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER, name VARCHAR, applied_at TIMESTAMPTZ)")
    done = {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for path in migration_files():
        version = int(path.name.split("_", 1)[0])
        if version in done:
            continue
        module = _load_module(path) if path.suffix == ".py" else None
        if module is not None and hasattr(module, "prepare"):
            with transaction(con):
                module.prepare(con)
        with transaction(con):
            if module is not None:
                module.upgrade(con)
            else:
                con.execute(path.read_text(encoding="utf-8"))
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, path.name, utcnow()])
        applied.append(version)
    if con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [RAW]).fetchone()[0]:
        con.execute((HERE / "raw_store.sql").read_text(encoding="utf-8"))  # a raw store made afresh
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
    """Recreate the views; set each comment that differs from load/dictionary.csv (setting all ~200 took a
    second of every run)."""
    con.execute((HERE / "views.sql").read_text(encoding="utf-8"))
    entries = list(csv.DictReader(open(HERE / "dictionary.csv", encoding="utf-8", newline="")))
    found = con.execute("SELECT table_name, database_name, 'TABLE', comment FROM duckdb_tables() "
                        "WHERE database_name IN (current_database(), ?) UNION ALL "
                        "SELECT view_name, database_name, 'VIEW', comment FROM duckdb_views() "
                        "WHERE NOT internal AND database_name = current_database()", [RAW]).fetchall()
    kinds = {table: (kind, f"{RAW}.{table}" if database == RAW else table) for table, database, kind, _ in found}
    current = {(table, ""): comment for table, _, _, comment in found}
    current.update(((t, c), comment) for t, c, comment in con.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE database_name IN (current_database(), ?)", [RAW]).fetchall())
    described = {(e["table"], e["column"]): e["comment"] for e in entries}
    # A table that repeats another's columns (versions, the second list) takes their meaning where it has none.
    for (t, column), _ in list(current.items()):
        for base in SAME_COLUMNS_AS.get(t, ()):
            if column and (t, column) not in described and (base, column) in described:
                described[(t, column)] = described[(base, column)]
    for (table, column), comment in described.items():
        if table not in kinds or current.get((table, column)) == comment:
            continue
        text = comment.replace("'", "''")
        kind, name = kinds[table]
        if column:
            con.execute(f"COMMENT ON COLUMN {name}.{column} IS '{text}'")
        else:
            con.execute(f"COMMENT ON {kind} {name} IS '{text}'")
