"""`esf run`, `esf reprocess` and `esf serve`: the commands that run the pipeline's flows."""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from records.run import BATCH_RETRIES, DELAY_SECONDS, NIGHT_RETRIES, QUALITY_MARGIN
from cli.options import (EXIT_FAILED, EXIT_OK, EXIT_REJECTS, EsfError, UsageError, _default_source, _open_read_only,
                         db_option, memory_option, output_options, runner_options, shrink_option)
from records.errors import RunFailed

def night_options(command):
    """The options of a night, shared by `run` and `serve`: what to read, where to publish, how politely,
    what to tell the operator."""
    for option in reversed([
        click.option("--source", "sources", multiple=True, metavar="PATH|URL",
                     help="Folder, .zip or file of saved pages; ESF-rådet's list of operations or Kohesio's export "
                          "(CSV or XLSX); or a sitemap, listing page or project page URL. Repeatable. Default: the "
                          "bundled samples."),
        click.option("--urls", "urls_file", type=click.Path(), metavar="FILE",
                     help="A file of project page URLs, one a line."),
        db_option,
        click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000),
                     help="Pages per Prefect task."),
        click.option("--delay", "delay_seconds", default=DELAY_SECONDS, show_default=True, type=click.FloatRange(0, 3600),
                     help="Seconds between requests to a web host (robots.txt Crawl-delay wins if longer)."),
        click.option("--user-agent", envvar="ESF_USER_AGENT", default=None,
                     help="User agent for web requests: name the project and a contact address. [env: ESF_USER_AGENT]"),
        shrink_option,
        click.option("--without-contacts", is_flag=True,
                     help="Leave contact names, e-mails and phones out of the published database."),
        click.option("--report", "report_html", type=click.Path(dir_okay=False), metavar="FILE",
                     help="After publishing, write the HTML report (as `esf report`) to FILE and file it in Prefect."),
        click.option("--rehash", is_flag=True, help="Read and hash every saved file, even those whose size, mtime "
                                                     "and inode are unchanged since the last run (skipped otherwise)."),
        click.option("--notify", "notify_url", metavar="URL", callback=_http_url,
                     help="POST a JSON alert (event, run_id, status, counts, message) to URL when a night fails, "
                          "its source shrinks, or a core field's fill rate falls by more than --quality-margin."),
        click.option("--quality-margin", default=QUALITY_MARGIN, show_default=True, type=click.FloatRange(0, 100),
                     help="Percentage points a core field's fill rate (per template) may fall before an alert."),
        click.option("--batch-retries", default=BATCH_RETRIES, show_default=True, type=click.IntRange(0, 20),
                     help="How often reading a batch of pages is tried again after an error."),
        click.option("--night-retries", default=NIGHT_RETRIES, show_default=True, type=click.IntRange(0, 10),
                     help="How often a failed night is run again (a Prefect flow retry)."),
        memory_option,
    ]):
        command = option(command)
    return command


def _http_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--notify takes an http(s) URL with a host; anything else is a usage error (one line)."""
    from urllib.parse import urlsplit
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"--notify needs an http:// or https:// URL, not {value!r}")
    return value


def check_data_dir() -> None:
    """A data folder ($ESF_DATA_DIR) that lacks a reference file this release reads: one line, before any work
    (the night would fail at the file's first use, pages already read)."""
    from records.data import BUNDLED_DATA, data_dir, missing_files
    missing = missing_files()
    if missing:
        raise UsageError(f"the data folder {data_dir()} (ESF_DATA_DIR) lacks {', '.join(missing)}: copy "
                         f"{'it' if len(missing) == 1 else 'them'} from {BUNDLED_DATA}")


def _night_sources(sources: tuple[str, ...], urls_file: str | None) -> list[str]:
    """The sources of a night, checked: one line for a source that cannot be (or for a data folder that lacks a
    reference file)."""
    check_data_dir()
    found = list(sources) or ([] if urls_file else [_default_source()])
    if urls_file:
        if not Path(urls_file).is_file():
            raise UsageError(f"URL list not found: {urls_file}")
        found.append(f"urls:{urls_file}")
    check_sources(found)
    return found


@click.command()
@night_options
@runner_options
@click.option("--summary/--no-summary", default=True, help="Print projects per programme area and region after the run.")
@output_options
def run(sources: tuple[str, ...], urls_file: str | None, db: str, batch_size: int, delay_seconds: float,
        user_agent: str | None, runner: str, parse_workers: int, allow_shrink: bool, without_contacts: bool,
        report_html: str | None, rehash: bool, notify_url: str | None, quality_margin: float, batch_retries: int,
        night_retries: int, summary: bool, memory: str | None, quiet: bool, debug: bool) -> None:
    """Run the pipeline (a Prefect flow) and publish the database.

    Exit codes: 0 success, 3 finished but some pages were rejected, 1 failed (nothing new published),
    2 usage error, 130/143 interrupted by SIGINT/SIGTERM (nothing published).

    \b
    Examples:
      esf run --source saved-pages/ --db /srv/esf/esf.duckdb
      esf run --source https://www.esf.se/sitemap.xml --user-agent "esf-pipeline (data@example.org)"
    """
    night = _night_sources(sources, urls_file)
    report = _run_flow("refresh", runner, quiet=quiet, debug=debug, night_retries=night_retries, sources=night,
                       db=db, batch_size=batch_size, delay_seconds=delay_seconds, user_agent=user_agent,
                       without_contacts=without_contacts, parse_workers=parse_workers, allow_shrink=allow_shrink,
                       rehash=rehash, memory=memory, notify_url=notify_url, quality_margin=quality_margin,
                       batch_retries=batch_retries, report_html=str(Path(report_html).resolve()) if report_html else None)
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
    from load.warehouse import raw_path_for
    if not work_path_for(db).exists() and not raw_path_for(db).exists():  # a raw store alone: rebuild from it
        raise UsageError(f"no warehouse at {work_path_for(db)}: run `esf run` first")
    check_data_dir()
    report = _run_flow("reprocess", runner, quiet=quiet, debug=debug, db=db, batch_size=batch_size,
                       without_contacts=without_contacts, parse_workers=parse_workers, memory=memory)
    _finish(report, db, summary=False)


def check_sources(sources: Sequence[str]) -> None:
    """Every source usable, before any work: one line (exit 2) for one that is not. A file that is a table must
    be one of the official lists (told by its headings: transform.lists.sniff)."""
    from extract.files import table_probe
    from extract.sources import check_source, is_url
    from records.lists import NotAList
    from transform.lists import sniff
    for source in sources:
        check_source(source)  # SourceError: a usage error, one line
        probe = None if is_url(source) or source.startswith("urls:") else table_probe(source)
        if probe is not None:
            try:
                sniff(probe)
            except NotAList as exc:
                raise UsageError(f"{source}: {exc}") from None


def _import_pipeline() -> None:
    """Import the flows (Prefect, the run service, DuckDB, the parser): done while the local server starts."""
    import flows.pipeline  # noqa: F401


def _run_flow(name: str, runner: str, *, quiet: bool, debug: bool, night_retries: int = NIGHT_RETRIES,
              **params):
    """Run a flow in this process against the Prefect API (ours unless PREFECT_API_URL is set); every way
    it can end becomes one line and an exit code."""
    from prefect.exceptions import CancelledRun
    from extract.sources import SourceError
    from cli.console import EXIT_CODE_OF_SIGNAL, interrupts, setup_output
    from flows.server import ServerError, prefect_api
    from load.damage import DamagedFile
    from service.run import interrupt_signal
    if runner != "threads":
        params["parse_workers"] = 1  # the runner's own workers parse; no second pool inside them
    try:
        with interrupts():
            setup_output(quiet, debug)
            with prefect_api(params["db"], meanwhile=_import_pipeline):
                from flows import pipeline
                try:
                    flow_fn = pipeline.with_runner(getattr(pipeline, name), runner)
                    if night_retries:
                        flow_fn = flow_fn.with_options(retries=night_retries)
                except ValueError as exc:
                    raise UsageError(str(exc)) from None
                return flow_fn(**params)
    except DamagedFile as exc:  # the file and why, then the commands that rebuild it: several lines
        click.echo(damage_advice(exc, params["db"]), err=True)
        sys.exit(EXIT_FAILED)
    except SourceError as exc:  # found out only once the run looked (robots.txt): the run failed, not the usage
        raise RunFailed(f"{exc}; nothing new published") from None
    except (RunFailed, UsageError, ServerError, click.ClickException):
        raise  # one line and its exit code (cli/__init__.py); other errors are the run's, said below
    except CancelledRun as exc:  # the flow ended Cancelled: interrupted (its message names the signal)
        stopped_by = next((name for name in EXIT_CODE_OF_SIGNAL if name in str(exc)), "SIGINT")
        click.echo(f"esf: interrupted ({stopped_by}); nothing published", err=True)
        sys.exit(EXIT_CODE_OF_SIGNAL[stopped_by])
    except Exception as exc:  # the flow's log holds the traceback (--debug shows it)
        if debug:
            import traceback
            traceback.print_exc()
        click.echo(f"esf: run failed, nothing new published: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except BaseException as exc:  # SIGINT/SIGTERM, as ours or as Prefect's own signal exception
        signal_name = interrupt_signal(exc)
        if not signal_name:
            raise
        click.echo(f"esf: interrupted ({signal_name}); nothing published", err=True)
        sys.exit(EXIT_CODE_OF_SIGNAL.get(signal_name, EXIT_FAILED))


def damage_advice(exc, db: str) -> str:
    """What a damaged file's night prints: the file and why, then one line per way out, as commands."""
    from shlex import quote
    from load import work_path_for
    from load.warehouse import raw_path_for
    work, raw, aside = quote(str(work_path_for(db))), quote(str(raw_path_for(db))), ".damaged"
    lines = [f"esf: {exc}; nothing new published"]
    if exc.role == "raw store":
        lines += [f"  store the pages afresh, keep the warehouse:  mv {raw} {raw}{aside} && esf run --db {quote(db)} --rehash",
                  f"  or start fresh:  mv {raw} {raw}{aside} && mv {work} {work}{aside} && esf run --db {quote(db)}"]
    else:
        lines += [f"  rebuild it from the raw store:  mv {work} {work}{aside} && esf reprocess --db {quote(db)}",
                  f"  or start fresh:  mv {work} {work}{aside} && esf run --db {quote(db)}"]
    return "\n".join(lines)


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
@click.option("--name", "name", default=None, metavar="NAME",
              help="The deployment's name (esf-refresh/NAME). Default: the database's name and a hash of its path, "
                   "so two warehouses never share a deployment.")
@night_options
@click.option("--parse-workers", default=lambda: os.cpu_count() or 1, show_default="all cores",
              type=click.IntRange(1, 64), help="The processes that parse a night's pages (1: in the night's own).")
@output_options
def serve(cron: str, tz: str, name: str | None, sources: tuple[str, ...], urls_file: str | None, db: str,
          batch_size: int, delay_seconds: float, user_agent: str | None, allow_shrink: bool, without_contacts: bool,
          report_html: str | None, rehash: bool, notify_url: str | None, quality_margin: float, batch_retries: int,
          night_retries: int, memory: str | None, parse_workers: int, quiet: bool, debug: bool) -> None:
    """Deploy the nightly refresh on a schedule with Prefect's `serve`, and run it until stopped.

    Uses the Prefect server at $PREFECT_API_URL when set; otherwise starts a local Prefect server on
    127.0.0.1 whose state (run history, schedules) lives beside the warehouse (esf.duckdb → esf.prefect/,
    its log in server.log there) and stops it on exit; it prints the line that points your shell's
    `prefect` commands at it. A run still going when the next is due is not started twice. Nights missed
    while stopped: the latest runs once on restart (with this command's options), the others are cancelled.
    Another live `esf serve` of the same deployment with other options: refused. Ctrl-C (exit 130) or
    SIGTERM (exit 0) stops it, its server and any run in progress.

    \b
    Example:
      esf serve --cron "0 2 * * *" --timezone Europe/Stockholm --source https://www.esf.se/sitemap.xml
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    from cli.console import interrupts, setup_output
    from flows.server import prefect_api, prefect_home_for
    from service.run import interrupt_signal
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {tz!r}: use an IANA name such as Europe/Stockholm") from None
    try:
        from prefect.client.schemas.schedules import CronSchedule
        CronSchedule(cron=cron, timezone=tz)
    except ValueError:
        raise UsageError(f"not a cron expression: {cron!r} (for example \"0 2 * * *\": 02:00 every night)") from None
    if name is not None and (not name.strip() or "/" in name or "%" in name):
        raise UsageError(f"not a deployment name: {name!r} (no '/' or '%')")
    from flows.schedule import deployment_name_for, serving_of
    name = name or deployment_name_for(db)
    live = serving_of(db)
    if live:
        raise UsageError(f"esf serve (pid {live['pid']}) already serves {Path(db).resolve()} as {live['deployment']}: "
                        f"stop it first")
    night = _night_sources(sources, urls_file)
    parameters = {"sources": night, "db": str(Path(db).resolve()), "batch_size": batch_size,
                  "delay_seconds": delay_seconds, "user_agent": user_agent, "without_contacts": without_contacts,
                  "allow_shrink": allow_shrink, "rehash": rehash, "memory": memory, "parse_workers": parse_workers,
                  "notify_url": notify_url, "quality_margin": quality_margin, "batch_retries": batch_retries,
                  "report_html": str(Path(report_html).resolve()) if report_html else None}
    own_server = not os.environ.get("PREFECT_API_URL")
    try:
        with interrupts(always=True) as received:
            setup_output(quiet, debug)
            with prefect_api(db, ui=True, meanwhile=_import_pipeline) as api:
                from flows.schedule import ServeConflict, check_not_served_elsewhere, note_serving, serve_nightly
                try:
                    check_not_served_elsewhere(name, parameters)
                except ServeConflict as exc:
                    raise UsageError(str(exc)) from None
                if own_server:
                    click.echo(f"Started a local Prefect server: {api.removesuffix('/api')} (UI and run history; "
                               f"state and server.log in {prefect_home_for(db)})")
                note_serving(db, api, name)
                serve_nightly(cron, tz, parameters, name, night_retries,  # returns when stopped
                              on_ready=lambda: click.echo(_serving_lines(name, api, str(parameters["db"]))))
        stopped_by: str | None = received[0] if received else "SIGTERM"
    except (EsfError, click.ClickException):
        raise  # one line and its exit code (cli/__init__.py)
    except BaseException as exc:  # SIGINT/SIGTERM before or after the runner, ours or Prefect's exception
        stopped_by = interrupt_signal(exc)
        if not stopped_by:
            raise
    click.echo(f"esf serve: stopped by {stopped_by}" + ("; the local Prefect server is stopped" if own_server else ""),
               err=True)
    sys.exit(130 if stopped_by == "SIGINT" else EXIT_OK)


def _serving_lines(name: str, api: str, db: str) -> str:
    """What to paste into a shell so that its `prefect` commands reach this API, and what to try then."""
    return (f"Serving esf-refresh/{name}. For your shell's prefect commands: export PREFECT_API_URL={api}\n"
            f"  then: prefect deployment run 'esf-refresh/{name}'   ·   prefect flow-run ls --flow-name esf-refresh"
            f"   ·   esf status --db {db}")
