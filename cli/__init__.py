"""The `esf` command: a thin layer over the library. Every subcommand's help ends with an example; user mistakes
get one line and exit 2."""
from __future__ import annotations

import sys

import click

from cli import dev, ops, read, run
from records.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, EsfError


class Reported(click.ClickException):
    """An EsfError as click reports it: its one line and its exit code."""

    def __init__(self, error: EsfError) -> None:
        super().__init__(error.line())
        self.exit_code = error.exit_code  # type: ignore[misc]  # click declares a class default; ours is the error's


class EsfGroup(click.Group):
    """The one place an EsfError becomes a line and an exit code, for `esf` and for click's test runner alike."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except EsfError as exc:
            raise Reported(exc) from None


@click.group(cls=EsfGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="esf-projektbanken", prog_name="esf", message="%(prog)s %(version)s")
def cli() -> None:
    """ESF project bank pipeline: scrape, normalize and load ESF project pages into DuckDB.

    \b
    Example:
      esf run                       # the bundled sample pages into ./esf.duckdb
      esf query "select region, count(*) from projects group by 1"
    """


for _command in (run.run, run.reprocess, run.serve, ops.status, read.query, read.describe, read.quality, read.export,
                 read.search, read.report_cmd, dev.parse, dev.demo_site):
    cli.add_command(_command)


def main() -> None:
    """Console entry point: click's own errors and file-system errors become one line, never a traceback."""
    from cli.fserrors import io_error_line, is_io_error
    from analyst.formats import escape_control
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("esf: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        click.echo(f"esf: {escape_control(exc.format_message())}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        click.echo(f"esf: {escape_control(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except Exception as exc:  # a full disk, a read-only folder: one line, exit 1
        if not is_io_error(exc):
            raise
        click.echo(f"esf: {escape_control(io_error_line(exc))}", err=True)
        sys.exit(EXIT_FAILED)
    sys.exit(EXIT_OK)


if __name__ == "__main__":
    main()
