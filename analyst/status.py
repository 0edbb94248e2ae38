"""`esf status`: how the nights went, read from the published file's `runs` (which holds failed and interrupted
nights too, load/runs_log.py): the last attempt with its status and message, the last success, and how old the
published data is. Read-only; the next scheduled night comes from Prefect, not from here."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import duckdb

SUCCEEDED = ("succeeded", "rejects")
COLUMNS = "run_id, status, started_at, finished_at, message, seen, new, changed, unchanged, skipped, " \
          "not_modified, failed, rejected"


@dataclass
class Status:
    db: str
    last_attempt: dict | None = None
    last_success: dict | None = None
    data_age_hours: float | None = None   # since the last success finished
    next_night: str | None = None          # ISO time; None: no Prefect API to ask, or no schedule
    next_night_note: str = "unknown"       # why next_night is None, or which deployment it is of

    @property
    def healthy(self) -> bool:
        """The last attempt published its data."""
        return self.last_attempt is not None and self.last_attempt["status"] in SUCCEEDED

    def as_dict(self) -> dict:
        return {**asdict(self), "healthy": self.healthy}


def read_status(db: str | os.PathLike, now: datetime | None = None) -> Status:
    """The runs of the published file `db` (opened read-only; duckdb.Error if it cannot be read)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        attempt = _row(con, f"SELECT {COLUMNS} FROM runs WHERE status <> 'running' ORDER BY run_id DESC LIMIT 1")
        success = _row(con, f"SELECT {COLUMNS} FROM runs WHERE status IN {SUCCEEDED} ORDER BY run_id DESC LIMIT 1")
    finally:
        con.close()
    status = Status(str(db), attempt, success)
    if success and success["finished_at"]:
        finished = datetime.fromisoformat(success["finished_at"])
        status.data_age_hours = round(((now or datetime.now(timezone.utc)) - finished).total_seconds() / 3600, 2)
    return status


def _row(con: duckdb.DuckDBPyConnection, sql: str) -> dict | None:
    cur = con.execute(sql)
    row = cur.fetchone()
    if row is None:
        return None
    out = dict(zip([d[0] for d in cur.description], row))
    for key in ("started_at", "finished_at"):
        value = out.get(key)
        if isinstance(value, datetime):
            out[key] = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat(timespec="seconds")
    return out


def status_text(status: Status) -> str:
    """The status as lines for a terminal."""
    def night(row: dict | None) -> str:
        if not row:
            return "none"
        counts = ("" if row["new"] is None else
                  f"; {row['new']} new, {row['changed']} changed, {row['unchanged']} unchanged, "
                  f"{row['failed']} failed, {row['rejected']} rejected")
        text = f"run {row['run_id']} {row['status']}, started {row['started_at']}, finished {row['finished_at']}{counts}"
        return text + (f"\n  message: {row['message']}" if row.get("message") else "")
    age = "unknown" if status.data_age_hours is None else _age(status.data_age_hours)
    lines = [f"database:      {status.db}",
             f"last attempt:  {night(status.last_attempt)}",
             f"last success:  {night(status.last_success)}",
             f"data age:      {age}",
             f"next night:    {status.next_night or 'unknown'} ({status.next_night_note})"]
    return "\n".join(lines)


def _age(hours: float) -> str:
    if hours < 1:
        return f"{round(hours * 60)} min"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"
