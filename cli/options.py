"""What every `esf` command shares: the database options and how the published database is opened (exit codes and
errors are records/errors.py's)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click

from records.errors import EXIT_FAILED, EXIT_OK, EXIT_REJECTS, EXIT_USAGE, EsfError, UsageError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_REJECTS", "EXIT_USAGE", "EsfError", "UsageError"]
DEFAULT_DB = "esf.duckdb"


def _default_db() -> str:
    return os.environ.get("ESF_DB") or DEFAULT_DB


def _default_source() -> str:
    from transform.reference import data_dir
    return str(data_dir() / "samples")


def _open_read_only(db: str, file_dirs: Sequence[str | Path] = (), extensions: Sequence[str | Path] = ()):
    """The published database, read-only with files out of reach except under `file_dirs` (flows/readonly.py)."""
    import duckdb
    from analyst.readonly import first_line, open_published
    if not Path(db).exists():
        raise UsageError(f"no database at {db}: run `esf run` first, or pass --db")
    try:
        return open_published(db, file_dirs, extensions)
    except duckdb.Error as exc:
        raise EsfError(f"cannot open {db} read-only: {first_line(exc)}") from None


db_option = click.option("--db", default=_default_db, show_default="$ESF_DB or ./esf.duckdb",
                         help="The published analysts' database.")


def _memory_at_least_the_minimum(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--memory below what a run needs (30 pages of 4.9 MB fail a run under 192MB) is a usage error."""
    from load.warehouse import MEMORY_MINIMUM
    from records.memory import memory_bytes
    if value is None:
        return None
    try:
        size = memory_bytes(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a size: write it as 512MB or 1GB") from None
    if size < MEMORY_MINIMUM:
        raise click.BadParameter(f"{value} is less than a run needs: at least {MEMORY_MINIMUM // 10**6}MB "
                                 f"(pages near the 5 MB cap are stored in batches of up to 64 MB)")
    return value


memory_option = click.option(
    "--memory", envvar="ESF_DUCKDB_MEMORY", default=None, metavar="SIZE", callback=_memory_at_least_the_minimum,
    help="DuckDB's memory limit for the run's writer, e.g. 1GB; at least 256MB. Default: an eighth of the "
         "machine's memory, between 256MB and 2GB. [env: ESF_DUCKDB_MEMORY]")


def runner_options(command):
    """--runner and --parse-workers, shared by `run` and `reprocess`. The default runner's tasks are threads
    that hand each batch to --parse-workers processes; the other runners parse in their own workers."""
    command = click.option("--parse-workers", default=lambda: os.cpu_count() or 1, show_default="all cores",
                           type=click.IntRange(1, 64),
                           help="With --runner threads: the processes that parse the pages (1: parse in the "
                                "flow's own process). The other runners use their own workers and ignore it.")(command)
    return click.option("--runner", type=click.Choice(["threads", "processes", "dask"]), default="threads",
                        show_default=True, help="Prefect task runner for the parse tasks. threads: the tasks hand "
                                                "batches to --parse-workers processes (the fastest here); "
                                                "processes: Prefect's process pool, all cores; dask: a Dask "
                                                "cluster (extra 'dask').")(command)


def output_options(command):
    """--quiet and --debug, shared by the commands that run flows."""
    command = click.option("--debug", is_flag=True, help="Show Prefect's own log lines and tracebacks.")(command)
    return click.option("--quiet", "-q", is_flag=True, help="Only the run report, warnings and errors.")(command)


def shrink_option(command):
    return click.option("--allow-shrink", is_flag=True,
                        help="Publish even when a source yields no project pages, or fewer than half of its "
                             "last successful run (a redesigned or broken site fails the run otherwise).")(command)


