"""What the CLI prints: run reports, summaries and query results as table, CSV or JSON."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

SUMMARY_QUERIES = {
    "Projects per programme area": """
        SELECT programme_period AS period, programme_area_code AS area,
               coalesce(programme_area_name, '') AS name, projects, esf_grant_sek
        FROM programme_area_summary ORDER BY period, area""",
    "Projects per region": """
        SELECT region, region_code, projects, esf_grant_sek FROM region_summary ORDER BY region_code""",
    "Total": """SELECT count(*) AS projects, sum(esf_grant_sek)::BIGINT AS esf_grant_sek FROM projects""",
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}".replace(",", " ")  # Swedish style: group thousands from five digits
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def table(columns: list[str], rows: list[tuple]) -> str:
    """A plain aligned text table; numbers right-aligned with spaces between thousands."""
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(r[i], (int, float, Decimal)) or r[i] is None for r in rows) and rows
               for i in range(len(columns))]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    out = [line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def as_csv(columns: list[str], rows: list[tuple]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else (v.isoformat() if isinstance(v, (date, datetime)) else v)
                       for v in row] for row in rows])
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
    return json.dumps([dict(zip(columns, row)) for row in rows], ensure_ascii=False, indent=2, default=default)


FORMATTERS = {"table": table, "csv": as_csv, "json": as_json}


COUNT_ORDER = ("new", "changed", "unchanged", "duplicates", "rejected", "failed", "skipped", "not_modified", "gone")


def run_report(report: Any) -> str:
    """The run's counts (they add up to the pages seen), durations, top reject reasons."""
    c = report.counts
    parts = " + ".join(f"{k.replace('_', ' ')} {c.get(k, 0)}" for k in COUNT_ORDER if c.get(k) or k in COUNT_ORDER[:6])
    lines = [f"Run {report.run_id}: {report.status}",
             f"  pages seen {c.get('seen', 0)} = {parts}   (fetched {c.get('fetched', 0)}, warnings {c.get('warnings', 0)})"]
    if report.durations:
        lines.append("  time: " + ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in report.durations.items()))
    if report.top_rejects:
        lines.append("  top reject reasons:")
        lines += [f"    {n} × {reason}" for reason, n in report.top_rejects]
    lines += [f"  note: {note}" for note in getattr(report, "notes", [])]
    if report.published:
        lines.append(f"  published: {report.published}")
    return "\n".join(lines)
