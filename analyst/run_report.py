"""What a run shows its operator: the run report (counts, durations, rejects, quality) and the summary
printed after it. Text from pages is escaped for a terminal, or for Markdown in a Prefect artifact."""
from __future__ import annotations

from typing import Any

from analyst.formats import escape_control, escape_markdown, table
from records.run import OUTCOMES

SUMMARY_QUERIES = {
    "Projects per programme area": """
        SELECT programme_period AS period, programme_area_code AS area,
               coalesce(programme_area_name, '') AS name, projects, esf_grant_sek
        FROM programme_area_summary ORDER BY period, area""",
    "Projects per region": """
        SELECT region, region_code, projects, esf_grant_sek FROM region_summary ORDER BY region_code""",
    "Total": """SELECT count(*) AS projects, sum(esf_grant_sek)::BIGINT AS esf_grant_sek FROM projects""",
}


def run_report(report: Any, markdown: bool = False) -> str:
    """The run's counts (they add up to the pages seen), durations, top reject reasons.

    Reasons, notes and the published path come from pages and sources: escaped for a terminal, or for Markdown
    with `markdown` (a Prefect artifact)."""
    text = escape_markdown if markdown else escape_control
    c = report.counts
    parts = " + ".join(f"{k.replace('_', ' ')} {getattr(c, k)}" for k in OUTCOMES if getattr(c, k) or k in OUTCOMES[:6])
    lines = [f"Run {report.run_id}: {report.status}",
             f"  pages seen {c.seen} = {parts}   (fetched {c.fetched}, warnings {c.warnings})"]
    if report.durations:
        lines.append("  time: " + ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in report.durations.items()))
    if report.top_rejects:
        lines.append("  top reject reasons:")
        lines += [f"    {n} × {text(str(reason))}" for reason, n in report.top_rejects]
    lines += [f"  {text(line)}" for line in list_lines(getattr(report, "lists", []))]
    quality = getattr(report, "quality", None)
    if quality is not None and quality.run_id is not None:
        lines += ["  " + line for line in quality_lines(quality, markdown, full=False)]
    lines += [f"  note: {text(str(note))}" for note in getattr(report, "notes", [])]
    if report.published:
        lines.append(f"  published: {text(str(report.published))}")
    return "\n".join(lines)


def _pct(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f} %"


def quality_lines(q: Any, markdown: bool = False, full: bool = True) -> list[str]:
    """The quality section: fill rates per field, template and period against the previous run, the top
    warnings, labels never seen before (one example page each), rejects by reason. `full`: every fill rate;
    otherwise only those that moved by 5 points or more (the run report)."""
    text = escape_markdown if markdown else escape_control
    since = f"run {q.previous_run_id}" if q.previous_run_id is not None else "no earlier run"
    rows = q.fill if full else q.changed_fill()
    lines = [f"quality of run {q.run_id} (compared with {since}):"]
    if full:
        lines.append("fill rate per field, template and programme period:")
    else:
        lines.append(f"fill rates that moved 5 points or more: {len(rows)}"
                     + (" (all fields: esf quality)" if q.fill else ""))
    if rows:
        cells = [(t, p or "", f, n, _pct(now), _pct(before),
                  "" if before is None else f"{float(now) - float(before):+.1f}") for t, p, f, n, now, before in rows]
        rendered = ["  " + line for line in table(["template", "period", "field", "projects", "filled", "before",
                                                     "change"], cells).splitlines()[:-1]]
        lines += ["```", *rendered, "```"] if markdown else rendered  # a Markdown artifact keeps the columns
    lines.append("top warnings:" if q.top_warnings else "top warnings: none")
    lines += [f"  {n} × {text(str(f))}: {text(str(reason))}" for f, reason, n in q.top_warnings]
    lines.append("labels never seen before:" if q.new_labels else "labels never seen before: none")
    lines += [f"  {text(str(label))!s}  (e.g. {text(str(page))})" for label, page in q.new_labels]
    lines.append("rejects by reason:" if q.rejects else "rejects by reason: none")
    lines += [f"  {n} × {text(str(reason))}" for reason, n in q.rejects]
    lines += coverage_lines(getattr(q, "coverage", []))
    return lines


def list_lines(loaded: list[Any]) -> list[str]:
    """One line per official list file the run read: rows, what became of them, problems, missing columns."""
    lines = []
    for item in loaded:
        line = (f"list {item.source_key} ({item.kind}): {item.rows} rows (new {item.new}, changed {item.changed}, "
                f"unchanged {item.unchanged}, removed {item.removed}), {item.rejected} rejected, "
                f"{item.warnings} warnings")
        if item.missing_columns:
            line += "; missing columns: " + ", ".join(item.missing_columns)
        lines.append(line)
    return lines


def coverage_lines(coverage: list[tuple]) -> list[str]:
    """The official lists against the pages, per list and period (a crawl that missed pages shows here)."""
    if not coverage:
        return []
    lines = ["official lists against the pages, per programme period:"]
    lines += [f"  {source} {period or '(no period)'}: {rows} rows, {without} without a page; "
              f"{pages} pages, {no_row} with no row in the list"
              for source, period, rows, _, without, pages, no_row in coverage]
    return lines
