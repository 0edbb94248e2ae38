"""The analysts' commands: query, describe, quality, export, search and report; they only read the published file."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.options import EXIT_USAGE, UsageError, _open_read_only, db_option

SAFE_CSV_HELP = ("With --format csv: a text cell beginning with = + - @, a tab or CR gets a leading ' so that a "
                 "spreadsheet shows it as text instead of running it as a formula (the CSV is then not byte-faithful).")


@click.command()
@click.argument("sql")
@db_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--allow-files", "file_dirs", multiple=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False),
              help="Let the query read files under DIR (read_csv, read_parquet, ...). Repeatable. Nothing is written.")
@click.option("--safe-csv", is_flag=True, help=SAFE_CSV_HELP)
def query(sql: str, db: str, fmt: str, file_dirs: tuple[str, ...], safe_csv: bool) -> None:
    """Run one read-only SQL query against the published database.

    One statement of a read form (SELECT, WITH, FROM, VALUES, TABLE, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN);
    anything else, and any file access without --allow-files, is refused (exit 2).

    \b
    Example:
      esf query "select region, count(*) from projects group by 1" --format csv
      esf query "from read_csv('extra/regions.csv') join region_summary using (region_code)" --allow-files extra
    """
    import duckdb
    from analyst.readonly import Refused, error_lines, run_query
    _check_safe_csv(safe_csv, fmt)
    con = _open_read_only(db, file_dirs)
    try:
        columns, rows = run_query(con, sql)
    except Refused as exc:
        raise UsageError(f"refused: {exc}") from None
    except duckdb.Error as exc:  # the message, then DuckDB's hints (Did you mean …, candidates) and the caret
        first, *hints = error_lines(exc)
        click.echo("\n".join([f"esf: query failed: {first}", *(f"  {line}" for line in hints)]), err=True)
        sys.exit(EXIT_USAGE)
    finally:
        con.close()
    _print_result(columns, rows, fmt, safe_csv)


def _check_safe_csv(safe_csv: bool, fmt: str) -> None:
    if safe_csv and fmt != "csv":
        raise UsageError("--safe-csv changes CSV cells: use it with --format csv")


def _print_result(columns: list[str], rows: list[tuple], fmt: str, safe_csv: bool) -> None:
    """Print a result. CSV is faithful when redirected (or formula-safe with --safe-csv); a terminal gets no raw
    control characters."""
    from analyst.formats import FORMATTERS, as_csv
    if fmt == "csv":
        text = as_csv(columns, rows, escape=sys.stdout.isatty(), safe=safe_csv)
    else:
        text = FORMATTERS[fmt](columns, rows)
    click.echo(text, color=True)  # color=True: click would drop ANSI sequences from the data when piped


@click.command()
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
    from analyst.formats import escape_control, table as fmt_table
    from load.sql import columns, relations
    if out_file and fmt == "text":
        raise UsageError("--out writes a page: add --format markdown or --format html")
    con = _open_read_only(db)
    if fmt != "text":
        from analyst import dictionary
        items = dictionary.objects(con)
        con.close()
        if table is not None:
            names = [o["name"] for o in items]
            items = [o for o in items if o["name"] == table]
            if not items:
                raise UsageError(_unknown_table(table, names))
        text = (dictionary.markdown if fmt == "markdown" else dictionary.page)(items, "ESF project bank: data dictionary")
        if out_file is None:
            click.echo(text, nl=False)
            return
        from cli.fserrors import writable_dir
        writable_dir(Path(out_file).parent)
        Path(out_file).write_text(text, encoding="utf-8")
        click.echo(f"data dictionary written: {out_file}")
        return
    try:  # closed before any error: a later open of the file in this process must not find it locked
        objects = [(r.name, r.kind, r.comment) for r in relations(con)]
        cols = columns(con, table) if table is not None else []
    finally:
        con.close()
    if table is None:
        click.echo(fmt_table(["name", "kind", "description"], objects))
        return
    if table not in {o[0] for o in objects}:
        raise UsageError(_unknown_table(table, [o[0] for o in objects]))
    click.echo(escape_control(next(o[2] for o in objects if o[0] == table) or ""))
    click.echo(fmt_table(["column", "type", "description"], cols))


def _unknown_table(name: str, names: list[str]) -> str:
    from analyst.readonly import close_names
    close = close_names(name, names)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"no table or view named {name!r}; {hint}`esf describe` lists them"


@click.command()
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
    from analyst.readonly import first_line
    from analyst.run_report import quality_lines
    from load.quality import has_run, quality_report
    con = _open_read_only(db)
    try:
        if run_id is not None and not has_run(con, run_id):
            raise UsageError(f"no run {run_id} in {db}; `esf query \"from runs\"` lists them")
        report = quality_report(con, run_id, top)
    except duckdb.CatalogException as exc:
        raise UsageError(f"{db} has no quality tables yet (run `esf run` with this version): {first_line(exc)}") from None
    finally:
        con.close()
    if report.run_id is None:
        raise UsageError(f"no run has loaded {db} yet: run `esf run` first")
    click.echo("\n".join(quality_lines(report)))


@click.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to write into.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "xlsx"]), default="parquet", show_default=True,
              help="parquet; csv (byte-faithful, see --safe-csv and --excel); xlsx (one workbook per table).")
@click.option("--excel", is_flag=True,
              help="With --format csv: for Swedish Excel (UTF-8 with BOM, ';', decimal comma, formula-safe cells).")
@click.option("--safe-csv", is_flag=True, help=SAFE_CSV_HELP)
@db_option
@click.option("--without-contacts", is_flag=True,
              help="Leave personal data out: contact columns empty, problem texts about them withheld.")
def export(out_dir: str, fmt: str, excel: bool, safe_csv: bool, db: str, without_contacts: bool) -> None:
    """Write every table and view to files (raw page bodies are left out).

    A folder that cannot be written ends with one line and exit 2; a write that fails part-way
    (a full disk) with one line and exit 1.

    \b
    Example:
      esf export --format parquet --out export/
      esf export --format csv --excel --without-contacts --out till-excel/
      esf export --format xlsx --out export/
    """
    from analyst.export import ExportWriteError, export_all
    from cli.fserrors import WriteFailed, reason, writable_dir
    if excel and fmt != "csv":
        raise UsageError("--excel is a kind of CSV: use it with --format csv (--format xlsx writes workbooks)")
    _check_safe_csv(safe_csv, fmt)
    con = _open_read_only(db, [out_dir])  # DuckDB may write under the export folder and nowhere else
    try:
        out = writable_dir(out_dir)
        export_all(con, out, fmt, without_contacts=without_contacts, safe_csv=safe_csv, excel=excel,
                   on_written=lambda target: click.echo(f"{target}"))
    except ExportWriteError as exc:
        raise WriteFailed(f"cannot write {exc.path}: {reason(exc.error)}") from None
    finally:
        con.close()


@click.command()
@click.argument("text")
@db_option
@click.option("--period", type=click.Choice(["2007-2013", "2014-2020", "2021-2027"]), help="Only this programme period.")
@click.option("--region", metavar="NAME|CODE", help="Only this region: its name (Västsverige) or code (SE23).")
@click.option("--area", metavar="CODE", help="Only this programme area: 1..5 (2007-2020) or A..F (2021-2027).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="At most this many projects.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--safe-csv", is_flag=True, help=SAFE_CSV_HELP)
def search(text: str, db: str, period: str | None, region: str | None, area: str | None, limit: int, fmt: str,
           safe_csv: bool) -> None:
    """Search project titles and texts (summary, background, goals ...), best matches first.

    Ranked by BM25 over words in any form: "arbetsmarknad" also finds "arbetsmarknaden" and
    "arbetsmarknadens"; common words (och, att, för) are left out. arbets* finds every word that starts
    so; "nyanlända kvinnor" in double quotes finds the words next to each other. Where the official lists
    are loaded, the English name and summary of each project's list rows are searched too, in English
    forms ("training" also finds "trained"; the, of are left out): every word is looked for in both
    languages, in one ranking. Shows project, region, period, score and a snippet with the first match in
    [brackets]. A search that finds nothing says why on stderr (exit 0).

    \b
    Examples:
      esf search "arbetsmarknad"
      esf search '"nyanlända kvinnor"' --region Västsverige
      esf search "psykisk ohälsa" --period 2014-2020 --region Västsverige --limit 5 --format csv
      esf search "vocational training" --period 2021-2027
    """
    from analyst.formats import escape_control
    from load.search import extension_path
    from analyst.search import search as run_search
    _check_safe_csv(safe_csv, fmt)
    if not text.strip():
        raise UsageError("nothing to search for: give a word or two, e.g. esf search \"nyanlända kvinnor\"")
    con = _open_read_only(db, extensions=[extension_path()])  # SearchUnavailable, NoIndex: one line each
    try:
        found = run_search(con, text, period=period, region=region, area=area, limit=limit)
    finally:
        con.close()
    _print_result(found.columns, found.rows, fmt, safe_csv)
    if found.note:  # why nothing was found: one line on stderr, and still exit 0
        click.echo(f"esf: {escape_control(found.note)}", err=True)


@click.command(name="report")
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
    from cli.fserrors import failed_write, writable_dir
    from analyst.report import write
    _open_read_only(db).close()  # one line for a missing or unreadable database
    writable_dir(Path(out_file).parent)
    try:
        path = write(db, out_file, title)
    except OSError as exc:  # a folder in the way (exit 2), a full disk (exit 1): the path named either way
        raise failed_write(out_file, exc) from None
    click.echo(f"report written: {path} (open it in a browser; it needs no network)")
