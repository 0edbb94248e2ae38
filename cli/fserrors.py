"""File-system errors as one line: `cannot write <path>: <reason>`.

Exit 2 when a path the user gave cannot be used at all (nothing was written); exit 1 when a write failed
part-way (a full disk, an I/O error: the output may be incomplete).
"""
from __future__ import annotations

import errno
import os
import sys
import tempfile
from pathlib import Path

from records.errors import EsfError, UsageError

WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EFBIG, errno.EDQUOT}  # errors only a write gives


class PathUnusable(UsageError):
    """A path the user gave cannot be written: one line, exit 2."""


class WriteFailed(EsfError):
    """A write failed while working: one line, exit 1."""


def writable_dir(path: str | os.PathLike) -> Path:
    """`path` as a folder that exists and takes a new file; PathUnusable saying why not."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise PathUnusable(f"cannot write {folder}: not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise PathUnusable(f"cannot write {folder}: {reason(exc)}") from None
    return folder


def failed_write(path: str | os.PathLike, exc: OSError) -> EsfError:
    """The one line for a write to `path` that failed: exit 2 when the path cannot be used at all (a folder, no
    permission), exit 1 when the write failed on the way (a full disk, a file-size limit, an I/O error)."""
    line = f"cannot write {os.fsdecode(path)}: {reason(exc)}"
    if isinstance(exc, (IsADirectoryError, NotADirectoryError, PermissionError)):
        return PathUnusable(line)
    return WriteFailed(line)


def reason(exc: BaseException) -> str:
    """Why a file operation failed, short: the OS's strerror, or what a DuckDB I/O error says after the path."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text.rsplit('": ', 1)[1] if '": ' in text else text


def is_io_error(exc: BaseException) -> bool:
    """An OSError, or DuckDB's error for a file it could not open or write."""
    duckdb = sys.modules.get("duckdb")
    return isinstance(exc, OSError) or (duckdb is not None and isinstance(exc, duckdb.IOException))


def io_error_line(exc: BaseException) -> str:
    """One line for a file-system error no command handled: `cannot write <path>: <reason>`."""
    path = getattr(exc, "filename", None)
    if path is None:
        return f"file-system error: {reason(exc)}"
    verb = "write" if getattr(exc, "errno", None) in WRITE_ERRNOS else "use"
    return f"cannot {verb} {os.fsdecode(path)}: {reason(exc)}"
