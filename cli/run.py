"""`esf run`, `esf reprocess` and `esf serve`: the commands that run the pipeline's flows."""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from cli.options import (EXIT_FAILED, EXIT_OK, EXIT_REJECTS, UserError, _default_source, _open_read_only,
                         db_option, memory_option, output_options, runner_options, shrink_option)

@click.command()
@click.option("--source", "sources", multiple=True, metavar="PATH|URL",
              help="Folder, .zip or file of saved pages; ESF-rådet's list of operations or Kohesio's export (CSV or "
                   "XLSX); or a sitemap, listing page or project page URL. Repeatable. Default: the bundled samples.")
@click.option("--urls", "urls_file", type=click.Path(), metavar="FILE", help="A file of project page URLs, one a line.")
@db_option
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="Pages per Prefect task.")
@click.option("--delay", "delay_seconds", default=1.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds between requests to a web host (robots.txt Crawl-delay wins if longer).")
@click.option("--user-agent", envvar="ESF_USER_AGENT", default=None,
              help="User agent for web requests: name the project and a contact address. [env: ESF_USER_AGENT]")
@runner_options
@shrink_option
@click.option("--without-contacts", is_flag=True, help="Leave contact names, e-mails and phones out of the published database.")
@click.option("--report", "report_html", type=click.Path(dir_okay=False), metavar="FILE",
              help="After publishing, write the HTML report (as `esf report`) to FILE and link it in Prefect.")
@click.option("--rehash", is_flag=True, help="Read and hash every saved file, even those whose size, mtime "
                                              "and inode are unchanged since the last run (skipped otherwise).")
@click.option("--summary/--no-summary", default=True, help="Print projects per programme area and region after the run.")
@memory_option
@output_options
def run(sources: tuple[str, ...], urls_file: str | None, db: str, batch_size: int, delay_seconds: float,
        user_agent: str | None, runner: str, parse_workers: int, allow_shrink: bool, without_contacts: bool,
        report_html: str | None, rehash: bool, summary: bool, memory: str | None, quiet: bool, debug: bool) -> None:
    """Run the pipeline (a Prefect flow) and publish the database.

    Exit codes: 0 success, 3 finished but some pages were rejected, 1 failed (nothing new published),
    2 usage error, 130/143 interrupted by SIGINT/SIGTERM (nothing published).

    \b
    Examples:
      esf run --source saved-pages/ --db /srv/esf/esf.duckdb
      esf run --source https://www.esf.se/sitemap.xml --user-agent "esf-pipeline (data@example.org)"
    """
    sources = list(sources) or ([] if urls_file else [_default_source()])
    if urls_file:
        if not Path(urls_file).is_file():
            raise UserError(f"URL list not found: {urls_file}")
        sources.append(f"urls:{urls_file}")
    check_sources(sources)
    report = _run_flow("refresh", runner, quiet=quiet, debug=debug, sources=sources, db=db, batch_size=batch_size,
                       delay_seconds=delay_seconds, user_agent=user_agent, without_contacts=without_contacts,
                       parse_workers=parse_workers, allow_shrink=allow_shrink, rehash=rehash, memory=memory,
                       report_html=str(Path(report_html).resolve()) if report_html else None)
    if report_html and report.published and Path(report_html).is_file():
        click.echo(f"report: {Path(report_html).resolve()}")
    _finish(report, db, summary and not quiet)


@click.command()
@db_option
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@runner_options
@click.option("--without-contacts", is_flag=True, help="Leave contact data out of the published database.")
@memory_option
@output_options
def reprocess(db: str, batch_size: int, runner: str, parse_workers: int, without_contacts: bool,
              memory: str | None, quiet: bool, debug: bool) -> None:
    """Re-parse every stored raw page with the current parser (no network) and publish.

    \b
    Example:
      esf reprocess --db esf.duckdb
    """
    from load import work_path_for
    if not work_path_for(db).exists():
        raise UserError(f"no warehouse at {work_path_for(db)}: run `esf run` first")
    report = _run_flow("reprocess", runner, quiet=quiet, debug=debug, db=db, batch_size=batch_size,
                       without_contacts=without_contacts, parse_workers=parse_workers, memory=memory)
    _finish(report, db, summary=False)


def check_sources(sources: Sequence[str]) -> None:
    """Every source usable, before any work: one line (exit 2) for one that is not. A file that is a table must
    be one of the official lists (told by its headings: transform.lists.sniff)."""
    from extract.files import table_probe
    from extract.sources import SourceError, check_source, is_url
    from records.lists import NotAList
    from transform.lists import sniff
    for source in sources:
        try:
            check_source(source)
        except SourceError as exc:
            raise UserError(str(exc)) from None
        probe = None if is_url(source) or source.startswith("urls:") else table_probe(source)
        if probe is not None:
            try:
                sniff(probe)
            except NotAList as exc:
                raise UserError(f"{source}: {exc}") from None


def _import_pipeline() -> None:
    """Import the flows (Prefect, the run service, DuckDB, the parser): done while the local server starts."""
    import flows.pipeline  # noqa: F401


def _run_flow(name: str, runner: str, *, quiet: bool, debug: bool, **params):
    """Run a flow in this process against the Prefect API (ours unless PREFECT_API_URL is set); every way
    it can end becomes one line and an exit code."""
    from extract.sources import SourceError
    from cli.console import EXIT_CODE_OF_SIGNAL, interrupts, setup_output
    from flows.server import ServerError, prefect_api
    from load import WarehouseBusy
    from service.run import SourceShrank, interrupt_signal
    if runner != "threads":
        params["parse_workers"] = 1  # the runner's own workers parse; no second pool inside them
    try:
        with interrupts():
            setup_output(quiet, debug)
            with prefect_api(params["db"], meanwhile=_import_pipeline):
                from flows import pipeline
                try:
                    flow_fn = pipeline.with_runner(getattr(pipeline, name), runner)
                except ValueError as exc:
                    raise UserError(str(exc)) from None
                return flow_fn(**params)
    except (WarehouseBusy, ServerError) as exc:
        click.echo(f"esf: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except (SourceError, SourceShrank) as exc:  # found out only once the run looked (robots.txt, an empty site)
        click.echo(f"esf: {exc}; nothing new published", err=True)
        sys.exit(EXIT_FAILED)
    except click.ClickException:
        raise
    except Exception as exc:  # the flow's log holds the traceback (--debug shows it)
        if debug:
            import traceback
            traceback.print_exc()
        click.echo(f"esf: run failed, nothing new published: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except BaseException as exc:  # SIGINT/SIGTERM, as ours or as Prefect's own signal exception
        stopped_by = interrupt_signal(exc)
        if not stopped_by:
            raise
        click.echo(f"esf: interrupted ({stopped_by}); nothing published", err=True)
        sys.exit(EXIT_CODE_OF_SIGNAL.get(stopped_by, EXIT_FAILED))


def _finish(report, db: str, summary: bool) -> None:
    from analyst.formats import table
    from analyst.run_report import SUMMARY_QUERIES, run_report
    click.echo(run_report(report))
    if summary:
        con = _open_read_only(db)
        for title, sql in SUMMARY_QUERIES.items():
            cur = con.execute(sql)
            click.echo(f"\n{title}\n" + table([d[0] for d in cur.description], cur.fetchall()))
        con.close()
    sys.exit(EXIT_REJECTS if report.status == "rejects" else EXIT_OK)


@click.command()
@click.option("--cron", default="0 2 * * *", show_default=True, help="When the nightly refresh runs (cron syntax).")
@click.option("--timezone", "tz", default="Europe/Stockholm", show_default=True, help="IANA time zone of --cron.")
@click.option("--source", "sources", multiple=True, metavar="PATH|URL", help="As for `esf run`. Repeatable.")
@db_option
@click.option("--delay", "delay_seconds", default=1.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds between requests to a web host.")
@click.option("--user-agent", envvar="ESF_USER_AGENT", default=None, help="User agent for web requests.")
@shrink_option
@click.option("--without-contacts", is_flag=True, help="Leave contact data out of the published database.")
@click.option("--report", "report_html", type=click.Path(dir_okay=False), metavar="FILE",
              help="After publishing, write the HTML report (as `esf report`) to FILE and link it in Prefect.")
@memory_option
@output_options
def serve(cron: str, tz: str, sources: tuple[str, ...], db: str, delay_seconds: float, user_agent: str | None,
          allow_shrink: bool, without_contacts: bool, report_html: str | None, memory: str | None, quiet: bool,
          debug: bool) -> None:
    """Deploy the nightly refresh on a schedule with Prefect's `serve`, and run it until stopped.

    Uses the Prefect server at $PREFECT_API_URL when set; otherwise starts a local Prefect server on
    127.0.0.1 whose state (run history, schedules) lives beside the warehouse (esf.duckdb → esf.prefect/,
    its log in server.log there) and stops it on exit. A run still going when the next is due is not
    started twice. Nights missed while stopped: the latest runs once on restart, the others are cancelled.
    Ctrl-C (exit 130) or SIGTERM (exit 0) stops it, its server and any run in progress.

    \b
    Example:
      esf serve --cron "0 2 * * *" --timezone Europe/Stockholm --source https://www.esf.se/sitemap.xml
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    from cli.console import interrupts, setup_output
    from flows.server import ServerError, prefect_api, prefect_home_for
    from service.run import interrupt_signal
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"unknown time zone {tz!r}: use an IANA name such as Europe/Stockholm") from None
    try:
        from prefect.client.schemas.schedules import CronSchedule
        CronSchedule(cron=cron, timezone=tz)
    except ValueError:
        raise UserError(f"not a cron expression: {cron!r} (for example \"0 2 * * *\": 02:00 every night)") from None
    sources = list(sources) or [_default_source()]
    check_sources(sources)
    parameters = {"sources": sources, "db": str(Path(db).resolve()), "delay_seconds": delay_seconds,
                  "user_agent": user_agent, "without_contacts": without_contacts, "allow_shrink": allow_shrink,
                  "memory": memory,
                  "report_html": str(Path(report_html).resolve()) if report_html else None}
    own_server = not os.environ.get("PREFECT_API_URL")
    try:
        with interrupts() as received:
            setup_output(quiet, debug)
            with prefect_api(db, ui=True, meanwhile=_import_pipeline) as api:
                from flows.schedule import serve_nightly
                if own_server:
                    click.echo(f"Started a local Prefect server: {api.removesuffix('/api')} (UI and run history; "
                               f"state and server.log in {prefect_home_for(db)})")
                serve_nightly(cron, tz, parameters)  # returns when stopped: Prefect's runner takes SIGTERM itself
        name = received[0] if received else "SIGTERM"
    except ServerError as exc:
        click.echo(f"esf: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except BaseException as exc:  # SIGINT/SIGTERM before or after the runner, ours or Prefect's exception
        name = interrupt_signal(exc)
        if not name:
            raise
    click.echo(f"esf serve: stopped by {name}" + ("; the local Prefect server is stopped" if own_server else ""),
               err=True)
    sys.exit(130 if name == "SIGINT" else EXIT_OK)
