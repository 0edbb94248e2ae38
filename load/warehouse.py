"""The run's own DuckDB file, open and locked (one writer), with the raw store attached; and its run rows."""
from __future__ import annotations

import fcntl
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import duckdb

from load.migrate import RAW, RAW_STORE_VERSION, migrate, schema_version
from load.sql import literal, scalar
from records.run import RUNS_COLUMNS, RunCounts

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
        self._lock_fh: TextIO | None = None
        self.stale_lock_of: str | None = None  # 'pid N' of a run that died holding the lock (found at open)
        self._con: duckdb.DuckDBPyConnection | None = None

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
        if self._con is None:
            had_raw = self.raw_path.exists()
            self._con = duckdb.connect(str(self.path), config={"memory_limit": self.memory})
            try:
                self.con.execute("SET TimeZone = 'UTC'")
                self.con.execute(f"ATTACH {literal(self.raw_path)} AS {RAW}")
                version = schema_version(self.con)
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

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The open connection (warehouse, with the raw store attached as `raw`)."""
        if self._con is None:
            raise RuntimeError(f"{self.path} is not open")
        return self._con

    def disconnect(self) -> None:
        """Close the database file but keep the lock (to copy the file while no one can write it)."""
        if self._con is not None:
            self._con.close()
            self._con = None

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
        run_id = int(scalar(con, "SELECT coalesce(max(run_id), 0) + 1 FROM runs"))
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
