"""The `esf` command. Every subcommand's help ends with an example; user mistakes get one line and exit 2."""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REJECTS = 0, 1, 2, 3
PARTITIONED_EXPORTS = {"projects": "programme_period", "project_versions": "programme_period"}
DEFAULT_DB = "esf.duckdb"


class UserError(click.ClickException):
    """A mistake in what the user asked for: one line, exit 2."""
    exit_code = EXIT_USAGE


def _default_db() -> str:
    return os.environ.get("ESF_DB") or DEFAULT_DB


def _default_source() -> str:
    from transform.reference import data_dir
    return str(data_dir() / "samples")


def _open_read_only(db: str, file_dirs: Sequence[str | Path] = (), extensions: Sequence[str | Path] = ()):
    """The published database, read-only with files out of reach except under `file_dirs` (flows/readonly.py)."""
    import duckdb
    from flows.readonly import first_line, open_published
    if not Path(db).exists():
        raise UserError(f"no database at {db}: run `esf run` first, or pass --db")
    try:
        return open_published(db, file_dirs, extensions)
    except duckdb.Error as exc:
        raise click.ClickException(f"cannot open {db} read-only: {first_line(exc)}") from None


db_option = click.option("--db", default=_default_db, show_default="$ESF_DB or ./esf.duckdb",
                         help="The published analysts' database.")


memory_option = click.option(
    "--memory", envvar="ESF_DUCKDB_MEMORY", default=None, metavar="SIZE",
    help="DuckDB's memory limit for the run's writer, e.g. 1GB. Default: an eighth of the machine's memory, "
         "between 256MB and 2GB. [env: ESF_DUCKDB_MEMORY]")


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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="esf-projektbanken", prog_name="esf", message="%(prog)s %(version)s")
def cli() -> None:
    """ESF project bank pipeline: scrape, normalize and load ESF project pages into DuckDB.

    \b
    Example:
      esf run                       # the bundled sample pages into ./esf.duckdb
      esf query "select region, count(*) from projects group by 1"
    """


@cli.command()
@click.option("--source", "sources", multiple=True, metavar="PATH|URL",
              help="Folder, .zip or file of saved pages; or a sitemap, listing page or project page URL. "
                   "Repeatable. Default: the bundled samples.")
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
    from extract.sources import SourceError, check_source
    sources = list(sources) or ([] if urls_file else [_default_source()])
    if urls_file:
        if not Path(urls_file).is_file():
            raise UserError(f"URL list not found: {urls_file}")
        sources.append(f"urls:{urls_file}")
    for source in sources:
        try:
            check_source(source)
        except SourceError as exc:
            raise UserError(str(exc)) from None
    report = _run_flow("refresh", runner, quiet=quiet, debug=debug, sources=sources, db=db, batch_size=batch_size,
                       delay_seconds=delay_seconds, user_agent=user_agent, without_contacts=without_contacts,
                       parse_workers=parse_workers, allow_shrink=allow_shrink, rehash=rehash, memory=memory,
                       report_html=str(Path(report_html).resolve()) if report_html else None)
    if report_html and report.published and Path(report_html).is_file():
        click.echo(f"report: {Path(report_html).resolve()}")
    _finish(report, db, summary and not quiet)


@cli.command()
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


def _import_pipeline() -> None:
    """Import the flows (Prefect, the run service, DuckDB, the parser): done while the local server starts."""
    import flows.pipeline  # noqa: F401


def _run_flow(name: str, runner: str, *, quiet: bool, debug: bool, **params):
    """Run a flow in this process against the Prefect API (ours unless PREFECT_API_URL is set); every way
    it can end becomes one line and an exit code."""
    from extract.sources import SourceError
    from flows.console import EXIT_CODE_OF_SIGNAL, interrupts, setup_output
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
    from flows.reports import SUMMARY_QUERIES, run_report, table
    click.echo(run_report(report))
    if summary:
        con = _open_read_only(db)
        for title, sql in SUMMARY_QUERIES.items():
            cur = con.execute(sql)
            click.echo(f"\n{title}\n" + table([d[0] for d in cur.description], cur.fetchall()))
        con.close()
    sys.exit(EXIT_REJECTS if report.status == "rejects" else EXIT_OK)


@cli.command()
@click.argument("page", metavar="PATH|URL")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True)
@click.option("--user-agent", envvar="ESF_USER_AGENT", default=None,
              help="User agent when PAGE is a URL. [env: ESF_USER_AGENT]")
def parse(page: str, fmt: str, user_agent: str | None) -> None:
    """Parse one page and print the normalized record and its problems (no database).

    Exit code 3 when the page would be rejected (not a project page, or no identity).

    \b
    Example:
      esf parse data/samples/b-steget-vidare.txt --format text
    """
    from extract.files import FileItem, read_item
    from extract.polite import HostUnreachable, Politeness
    from extract.sources import WebSource, is_url
    from schemas.validate import validate
    from transform import parse_page
    if is_url(page):
        try:  # fetched and keyed as a crawl would
            raw = WebSource.single(page, Politeness(**({"user_agent": user_agent} if user_agent else {}))).read_one()
        except HostUnreachable as exc:
            raise click.ClickException(str(exc)) from None
    else:
        if not Path(page).is_file():
            raise UserError(f"no such file: {page}")
        raw = read_item(FileItem(Path(page).name, page))
    if raw.failed:
        raise click.ClickException(f"cannot read {page}: {raw.error}")
    parsed = parse_page(raw.body, raw.source_key, url=raw.url, content_type=raw.content_type, sha256=raw.sha256)
    out = parsed.to_json()
    if parsed.ok:
        result = validate([parsed])
        for row in result.rejects + result.warnings:
            out["problems"].append({"field": row["field"], "reason": row["reason"], "value": row["value"],
                                    "severity": row["severity"], "stage": "validate"})
    if fmt == "json":
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        _print_text(out)
    sys.exit(EXIT_REJECTS if any(p["severity"] == "error" for p in out["problems"]) else EXIT_OK)


def _print_text(out: dict) -> None:
    for key, value in out.items():
        if key in ("organisations", "municipalities", "sections", "problems"):
            continue
        click.echo(f"{key:22} {'' if value is None else value}")
    for o in out["organisations"]:
        click.echo(f"organisation           {o['role']}: {o['name']}" + (" (truncated)" if o["truncated"] else ""))
    for m in out["municipalities"]:
        click.echo(f"municipality           {m['name_as_written']} → {m['municipality'] or '?'} {m['municipality_code'] or ''}")
    for s in out["sections"]:
        click.echo(f"section                {s['section']}: {len(s['text'])} characters")
    for p in out["problems"]:
        click.echo(f"{p['severity']:22} {p['field'] or '(page)'}: {p['reason']}")


@cli.command()
@click.argument("sql")
@db_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--allow-files", "file_dirs", multiple=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False),
              help="Let the query read files under DIR (read_csv, read_parquet, ...). Repeatable. Nothing is written.")
def query(sql: str, db: str, fmt: str, file_dirs: tuple[str, ...]) -> None:
    """Run one read-only SQL query against the published database.

    One statement of a read form (SELECT, WITH, FROM, VALUES, TABLE, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN);
    anything else, and any file access without --allow-files, is refused (exit 2).

    \b
    Example:
      esf query "select region, count(*) from projects group by 1" --format csv
      esf query "from read_csv('extra/regions.csv') join region_summary using (region_code)" --allow-files extra
    """
    import duckdb
    from flows.readonly import Refused, first_line, run_query
    from flows.reports import FORMATTERS, as_csv
    con = _open_read_only(db, file_dirs)
    try:
        columns, rows = run_query(con, sql)
    except Refused as exc:
        raise UserError(f"refused: {exc}") from None
    except duckdb.Error as exc:
        raise UserError(f"query failed: {first_line(exc)}") from None
    finally:
        con.close()
    terminal = sys.stdout.isatty()  # CSV is faithful when redirected; a terminal gets no raw control characters
    text = as_csv(columns, rows, escape=True) if fmt == "csv" and terminal else FORMATTERS[fmt](columns, rows)
    click.echo(text, color=True)  # color=True: click would drop ANSI sequences from the data when piped


@cli.command()
@click.argument("table", required=False)
@db_option
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "html"]), default="text", show_default=True,
              help="markdown or html: the whole dictionary as a page (row counts, one example row per table).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the page to FILE instead of printing it.")
def describe(table: str | None, db: str, fmt: str, out_file: str | None) -> None:
    """Print the data dictionary: every table and view, or one with its columns.

    With --format markdown or html: the whole dictionary as a page to publish beside the report (tables,
    columns, comments, row counts and one example row; contact data is never shown).

    \b
    Examples:
      esf describe region_summary
      esf describe --format html --out dictionary.html
    """
    from flows.reports import escape_control, table as fmt_table
    if out_file and fmt == "text":
        raise UserError("--out writes a page: add --format markdown or --format html")
    con = _open_read_only(db)
    if fmt != "text":
        from report import dictionary
        items = dictionary.objects(con)
        con.close()
        if table is not None:
            items = [o for o in items if o["name"] == table]
            if not items:
                raise UserError(f"no table or view named {table!r}; `esf describe` lists them")
        text = (dictionary.markdown if fmt == "markdown" else dictionary.page)(items, "ESF project bank: data dictionary")
        if out_file is None:
            click.echo(text, nl=False)
            return
        from flows.fserrors import writable_dir
        writable_dir(Path(out_file).parent)
        Path(out_file).write_text(text, encoding="utf-8")
        click.echo(f"data dictionary written: {out_file}")
        return
    objects = con.execute("""
        SELECT table_name, 'table' AS kind, comment FROM duckdb_tables() WHERE schema_name = 'main'
        UNION ALL SELECT view_name, 'view', comment FROM duckdb_views() WHERE NOT internal
        ORDER BY kind, table_name""").fetchall()
    if table is None:
        click.echo(fmt_table(["name", "kind", "description"], objects))
        return
    if table not in {o[0] for o in objects}:
        raise UserError(f"no table or view named {table!r}; `esf describe` lists them")
    cols = con.execute("SELECT column_name, data_type, comment FROM duckdb_columns() WHERE table_name = ? "
                       "ORDER BY column_index", [table]).fetchall()
    click.echo(escape_control(next(o[2] for o in objects if o[0] == table) or ""))
    click.echo(fmt_table(["column", "type", "description"], cols))


@cli.command()
@db_option
@click.option("--run", "run_id", type=int, default=None, help="A run's id (default: the latest run that loaded).")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 1000), help="How many top warnings.")
def quality(db: str, run_id: int | None, top: int) -> None:
    """How well the pages were read: fill rate per field per template and programme period against the previous
    run, the top warnings, labels never seen before (one example page each), rejects by reason.

    \b
    Example:
      esf quality
      esf query "select * from project_quality where field = 'programme_area_code'"
    """
    import duckdb
    from flows.readonly import first_line
    from flows.reports import quality_lines
    from load.quality import quality_report
    con = _open_read_only(db)
    try:
        if run_id is not None and not con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchone()[0]:
            raise UserError(f"no run {run_id} in {db}; `esf query \"from runs\"` lists them")
        report = quality_report(con, run_id, top)
    except duckdb.CatalogException as exc:
        raise UserError(f"{db} has no quality tables yet (run `esf run` with this version): {first_line(exc)}") from None
    finally:
        con.close()
    if report.run_id is None:
        raise UserError(f"no run has loaded {db} yet: run `esf run` first")
    click.echo("\n".join(quality_lines(report)))


@cli.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to write into.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@db_option
@click.option("--without-contacts", is_flag=True,
              help="Leave contact names, e-mails and phones out (the columns stay, empty).")
def export(out_dir: str, fmt: str, db: str, without_contacts: bool) -> None:
    """Write every table and view to files (raw page bodies are left out).

    A folder that cannot be written ends with one line and exit 2; a write that fails part-way
    (a full disk) with one line and exit 1.

    \b
    Example:
      esf export --format parquet --out export/
    """
    import duckdb
    from flows.fserrors import WriteFailed, reason, writable_dir
    con = _open_read_only(db, [out_dir])  # DuckDB may write under the export folder and nowhere else
    try:
        out = writable_dir(out_dir)
        for name in _exported(con):
            target, copy = _export_statement(con, out, name, fmt, without_contacts)
            try:
                con.execute(copy)
            except (duckdb.IOException, duckdb.PermissionException) as exc:
                raise WriteFailed(f"cannot write {target}: {reason(exc)}") from None
            click.echo(f"{target}")
    finally:
        con.close()


def _exported(con) -> list[str]:
    """Every table and view of the published database, by name (the search index's own schema left out)."""
    return [n for (n,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' UNION ALL "
        "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]


def _export_statement(con, out: Path, name: str, fmt: str, without_contacts: bool) -> tuple[Path, str]:
    """Where one table or view goes (a file, or Hive-style folders analysts can prune by period) and the COPY."""
    contact = {"contact_name", "contact_email", "contact_phone"}
    cols = [c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                                      "ORDER BY column_index", [name]).fetchall()]
    # Without contacts the columns stay and hold NULL, as in a database `esf run --without-contacts` published:
    # one schema for a table, whichever way its contacts were left out.
    keep = [f"NULL::VARCHAR AS {c}" if without_contacts and c in contact else c for c in cols if c != "body"]
    target = out / f"{name}.{fmt}"
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    if fmt == "parquet" and name in PARTITIONED_EXPORTS:
        target = out / name
        options += f", PARTITION_BY ({PARTITIONED_EXPORTS[name]}), OVERWRITE_OR_IGNORE"
    path = str(target).replace("'", "''")
    return target, f"COPY (SELECT {', '.join(keep)} FROM {name}) TO '{path}' ({options})"


@cli.command()
@click.argument("text")
@db_option
@click.option("--period", type=click.Choice(["2007-2013", "2014-2020", "2021-2027"]), help="Only this programme period.")
@click.option("--region", metavar="NAME|CODE", help="Only this region: its name (Västsverige) or code (SE23).")
@click.option("--area", metavar="CODE", help="Only this programme area: 1..5 (2007-2020) or A..F (2021-2027).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="At most this many projects.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def search(text: str, db: str, period: str | None, region: str | None, area: str | None, limit: int, fmt: str) -> None:
    """Search project titles and texts (summary, background, goals ...), best matches first.

    Ranked by BM25 with Swedish stemming (DuckDB's fts extension): "ungdomar" also finds "ungdom" and
    "ungdomarna"; common words (och, att, för) are left out. Shows project, region, period, score and a
    snippet with the first match in [brackets].

    \b
    Examples:
      esf search "nyanlända kvinnor"
      esf search "psykisk ohälsa" --period 2014-2020 --region Västsverige --limit 5 --format csv
    """
    from flows.reports import FORMATTERS
    from load.search import SearchUnavailable, extension_path
    from report.search import NoIndex, search as run_search
    if not text.strip():
        raise UserError("nothing to search for: give a word or two, e.g. esf search \"nyanlända kvinnor\"")
    try:
        extension = extension_path()
    except SearchUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    con = _open_read_only(db, extensions=[extension])
    try:
        columns, rows = run_search(con, text, period=period, region=region, area=area, limit=limit)
    except NoIndex as exc:
        raise UserError(str(exc)) from None
    finally:
        con.close()
    click.echo(FORMATTERS[fmt](columns, rows), color=True)


@cli.command(name="report")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The HTML file to write (one file, opens offline).")
@db_option
@click.option("--title", default="ESF project bank", show_default=True, help="The page's title.")
def report_cmd(out_file: str, db: str, title: str) -> None:
    """Write the analysts' report: one self-contained HTML page of charts, with a period filter.

    ESF grant by region and programme area, by year and period, top organisations by role, municipalities
    per county, the latest run's changes and data quality. Each chart shows the SQL it comes from.
    Plotly's JavaScript is embedded: the file opens offline, with no network.

    \b
    Example:
      esf report --out report.html
      esf report --db /srv/esf/esf.duckdb --out /srv/www/esf/index.html
    """
    from flows.fserrors import PathUnusable, reason, writable_dir
    from report.html import write
    _open_read_only(db).close()  # one line for a missing or unreadable database
    writable_dir(Path(out_file).parent)
    try:
        path = write(db, out_file, title)
    except IsADirectoryError as exc:
        raise PathUnusable(f"cannot write {out_file}: {reason(exc)}") from None
    click.echo(f"report written: {path} (open it in a browser; it needs no network)")


@cli.command()
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
    from extract.sources import SourceError, check_source
    from flows.console import interrupts, setup_output
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
    for source in sources:
        try:
            check_source(source)
        except SourceError as exc:
            raise UserError(str(exc)) from None
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


@cli.command(name="demo-site")
@click.option("--pages", default=1000, show_default=True, type=click.IntRange(1, 1_000_000), help="Number of project pages.")
@click.option("--seed", default=0, show_default=True, help="Same seed, same site.")
@click.option("--version", "site_version", default=0, show_default=True, type=click.IntRange(0, 100),
              help="Site version: each step changes about 1 % of pages (new end date and budget).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--faults", is_flag=True, help="Turn on a mix of faults: 5xx bursts, 429 with Retry-After, drops, "
                                             "truncated bodies, redirects, second addresses of pages, a redirect loop, "
                                             "off-site links.")
def demo_site(pages: int, seed: int, site_version: int, port: int, faults: bool) -> None:
    """Serve a synthetic copy of the project bank on 127.0.0.1, to try the crawler without the internet.

    It has listing pages with pagination (/resultat/projektbanken/), a sitemap (/sitemap.xml),
    robots.txt, ETags and Last-Modified, and project pages in all three templates.

    \b
    Example:
      esf demo-site --pages 500 --port 8000 &
      esf run --source http://127.0.0.1:8000/resultat/projektbanken/ --delay 0.1 --db demo.duckdb
    """
    from demo.site import DemoSite, Faults
    mix = Faults(seed=seed, server_error_share=0.02, rate_limit_share=0.005, drop_share=0.01, truncate_share=0.01,
                 redirect_share=0.02, alias_share=0.05, offsite_link=True, redirect_loop=True) \
        if faults else Faults(seed=seed)
    site = DemoSite(pages, seed=seed, version=site_version, faults=mix, port=port)
    try:
        site.start()
    except OSError as exc:
        raise UserError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    click.echo(f"Serving {pages} synthetic project pages on {site.url} (listing {site.url}/resultat/projektbanken/, "
               f"sitemap {site.url}/sitemap.xml). Ctrl-C stops.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()


def main() -> None:
    """Console entry point: click's own errors and file-system errors become one line, never a traceback."""
    from flows.fserrors import io_error_line, is_io_error
    from flows.reports import escape_control
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
