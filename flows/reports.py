"""What the CLI prints: run reports, summaries and query results as table, CSV or JSON."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

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


# C0 controls, DEL and C1 controls, plus the Unicode line separators and bidirectional overrides and isolates
# (they reorder what a terminal shows): every one shown as an escape, never sent to a terminal raw.
_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_CONTROL_ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})
_CONTROL_ESCAPES.update({c: f"\\u{c:04x}" for c in [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]})
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in _CONTROL_ESCAPES if c >= 0x7F}  # json.dumps escapes the C0 ones itself
_MARKDOWN_SPECIALS = "\\`*_[]<>|#!~&"


def escape_control(text: str) -> str:
    """Text with every control character shown as an escape (ESC as \\x1b, a newline as \\n); backslashes kept."""
    return text.translate(_CONTROL_ESCAPES)


def escape_markdown(text: str) -> str:
    """Page text made inert in Markdown: one line, control characters escaped, no links, emphasis, code or HTML."""
    one_line = escape_control(" ".join(text.splitlines()))
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in one_line)


def _cell(value: Any) -> str:
    return escape_control(_plain(value))


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}".replace(",", " ")  # Swedish style: group thousands from five digits
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def table(columns: list[str], rows: list[tuple]) -> str:
    """A plain aligned text table; numbers right-aligned with spaces between thousands, control characters escaped."""
    columns = [escape_control(str(c)) for c in columns]
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(r[i], (int, float, Decimal)) or r[i] is None for r in rows) and rows
               for i in range(len(columns))]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    out = [line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def as_csv(columns: list[str], rows: list[tuple], escape: bool = False) -> str:
    """CSV with a header; the values as they are, or with control characters escaped (`escape`, for a terminal)."""
    def cell(v: Any) -> Any:
        v = "" if v is None else (v.isoformat() if isinstance(v, (date, datetime)) else v)
        return escape_control(str(v)) if escape and isinstance(v, str) else v
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([cell(c) for c in columns])
    writer.writerows([[cell(v) for v in row] for row in rows])
    return buf.getvalue().rstrip("\n")


def as_json(columns: list[str], rows: list[tuple]) -> str:
    def default(v: Any) -> Any:
        if isinstance(v, (date, datetime)):
            return v.isoformat()
        if isinstance(v, Decimal):
            return float(v)
        if isinstance(v, bytes):
            return v.hex()
        return str(v)
    text = json.dumps([dict(zip(columns, row)) for row in rows], ensure_ascii=False, indent=2, default=default)
    return text.translate(_JSON_ESCAPES)  # the same JSON, with DEL, C1 and bidi controls as \\u escapes


FORMATTERS = {"table": table, "csv": as_csv, "json": as_json}




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
    return lines
