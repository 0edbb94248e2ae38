"""The run's own DuckDB file, open and locked (one writer), with the raw store attached; and its run rows."""
from __future__ import annotations

import fcntl
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import duckdb

from load.damage import DamagedFile, check_length, first_line, is_damage, read_through, verify_file
from load.migrate import RAW, RAW_STORE_VERSION, migrate, schema_version
from load.sql import literal, relations, scalar
from records.run import RUNS_COLUMNS, RunCounts
from records.errors import RunFailed

MEMORY_SHARE, MEMORY_FLOOR, MEMORY_CEILING = 1 / 8, 256 << 20, 2 << 30  # of the machine's memory, in bytes
# the least --memory a run is allowed: 30 pages of 4.9 MB failed under 160MB and passed under 192MB (store,
# checkpoint and a resume from the store); 256MB leaves room for the load and the search index
MEMORY_MINIMUM = 256 * 10**6


def memory_limit() -> str:
    """DuckDB's memory limit for the writer when the run names none (`--memory`, $ESF_DUCKDB_MEMORY): an
    eighth of the machine's memory between 256 MB and 2 GB. DuckDB spills to disk beyond it, but some
    operators cannot, and 128 MB was too little for a store of 5 MB pages."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 4 << 30
    return f"{max(MEMORY_FLOOR, min(int(total * MEMORY_SHARE), MEMORY_CEILING)) >> 20}MB"


class WarehouseBusy(RunFailed):
    """Another process holds the warehouse."""




def work_path_for(db: str | os.PathLike[str]) -> Path:
    """The run's own file beside the published one: esf.duckdb → esf.work.duckdb."""
    db = Path(db)
    return db.with_name(f"{db.stem}.work{db.suffix or '.duckdb'}")


def raw_path_for(path: str | os.PathLike[str]) -> Path:
    """The raw store beside the published or the work file: esf.duckdb, esf.work.duckdb → esf.raw.duckdb."""
    path = Path(path)
    return path.with_name(f"{path.stem.removesuffix('.work')}.raw{path.suffix or '.duckdb'}")


DEFAULT_HOLDER = "esf run"  # who a lock file names when the caller does not say (an old file names no one)


def _holder(who: str = DEFAULT_HOLDER) -> str:
    """What the lock file says while this process holds it: 'pid N' and, on a second line, who it is."""
    return f"pid {os.getpid()}\n{who}"


def _pid_of(holder: str) -> str:
    """'pid N' of a lock file's text ('pid N' or 'pid N\nwho')."""
    return holder.strip().splitlines()[0].strip() if holder.strip() else ""


def _who_of(holder: str) -> str:
    lines = holder.strip().splitlines()
    return lines[1].strip() if len(lines) > 1 and lines[1].strip() else "another esf run"


def _alive(holder: str) -> bool:
    """Whether the process named in a lock file ('pid N', 'pid N\nwho') still exists."""
    pid = _pid_of(holder).removeprefix("pid ").strip()
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
    """Who holds the lock, as the lock file says: `an esf serve night (pid 4242) is writing …`."""
    pid = _pid_of(holder)
    if holder and not _alive(holder):  # the named run is dead, yet something it started holds the lock
        return (f"{lock_path} is held, but the run that took it ({_who_of(holder)}, {pid}) has ended: a process "
                f"it started still holds it (`fuser {lock_path}` names it); stop that process and try again")
    if not pid:
        return f"another process is writing {path} (`fuser {lock_path}` names it); try again when it ends"
    return f"{_who_of(holder)} ({pid}) is writing {path}; try again when it ends"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Warehouse:
    """An open, locked, migrated warehouse file with its raw store attached as `raw`. Use as a context
    manager. One connection holds both files and one lock guards both; closing it closes both."""

    def __init__(self, path: str | os.PathLike[str], raw_path: str | os.PathLike[str] | None = None,
                 memory: str | None = None, holder: str = DEFAULT_HOLDER):
        self.path = Path(path)
        self.holder = holder  # who this is, written in the lock file for a second writer's refusal
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
        mine = _pid_of(_holder())
        self.stale_lock_of = _pid_of(previous) if previous and not _alive(previous) and _pid_of(previous) != mine \
            else None
        fh.seek(0)
        fh.truncate()
        fh.write(_holder(self.holder))
        fh.flush()
        self._lock_fh = fh
        try:
            self.connect()
        except duckdb.IOException as exc:
            self.close()
            if is_damage(exc):
                raise DamagedFile(self.path, "warehouse", first_line(exc)) from None
            raise WarehouseBusy(f"cannot open {self.path}: {exc}") from None
        except BaseException:
            self.close()
            raise

    def connect(self) -> None:
        """(Re)open the database file under the lock this object already holds."""
        if self._con is None:
            had_raw = self.raw_path.exists()
            self._con = self._open_checked()
            try:
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

    def _open_checked(self) -> duckdb.DuckDBPyConnection:
        """The connection with the raw store attached, after a cheap check of both: each opens, and the raw
        store's tables read through, page bodies left out. A file that does not read back is DamagedFile."""
        try:
            con = duckdb.connect(str(self.path), config={"memory_limit": self.memory})
            relations(con)  # reads the catalog: a file whose catalog is damaged fails here
            short = check_length(con, str(scalar(con, "SELECT current_database()")), self.path)
        except duckdb.Error as exc:
            if is_damage(exc):
                raise DamagedFile(self.path, "warehouse", first_line(exc)) from None
            raise
        if short:
            con.close()
            raise DamagedFile(self.path, "warehouse", short)
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"ATTACH {literal(self.raw_path)} AS {RAW}")
            read_through(con, RAW, skip_columns=("body",))
            short = check_length(con, RAW, self.raw_path)
            if short:
                raise DamagedFile(self.raw_path, "raw store", short)
        except duckdb.Error as exc:
            con.close()
            if is_damage(exc):
                raise DamagedFile(self.raw_path, "raw store", first_line(exc)) from None
            raise
        except BaseException:
            con.close()
            raise
        return con

    def damage(self, exc: BaseException) -> DamagedFile | None:
        """Which file a damage error met during the run came from (DuckDB's message names no file): the
        warehouse if it does not read through, else the raw store. None when `exc` is not damage."""
        if isinstance(exc, DamagedFile):
            return exc
        if not is_damage(exc):
            return None
        self.disconnect()
        try:
            verify_file(self.path)
        except DamagedFile as damaged:
            return damaged
        return DamagedFile(self.raw_path, "raw store", first_line(exc))

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
