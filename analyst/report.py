"""`esf report`: one self-contained HTML page (Plotly's JavaScript embedded) built from the analyst views."""
from __future__ import annotations

import html
import json
import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from analyst import figures
from analyst.figures import Result, Section

ROLE_NAMES = {"owner": "project owners", "co_financier": "co-financiers", "partner": "partners"}
CHART_HEIGHT = 420


def build(con: duckdb.DuckDBPyConnection, title: str = "ESF project bank") -> str:
    """The whole page as one string: figures for all periods and each period, the latest run, data quality."""
    from plotly.offline import get_plotlyjs
    sections = [figures.period_section(con, None)] + [figures.period_section(con, p) for p in figures.periods(con)]
    runs = figures.run_section(con)
    lists = figures.lists_section(con)
    charts: list[dict[str, Any]] = []
    body = [_period_html(s, charts) for s in sections]
    body += [_lists_html(lists, charts)] if lists is not None else []
    body += [_runs_html(runs, charts)]
    options = "".join(f'<option value="{_key(s.period)}">{_e(s.period or "All periods")}</option>' for s in sections)
    script = _js_safe(json.dumps(charts, default=_json_default, ensure_ascii=False))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="esf report">
<title>{_e(title)}</title>
<style>{CSS}</style>
<script>{get_plotlyjs()}</script>
</head><body>
<header><h1>{_e(title)}</h1>
<p>Built {datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')} from the published database. Every chart
shows the SQL it comes from; amounts are ESF grant in SEK.</p>
<label>Programme period <select id="period">{options}</select></label>
<p id="report-errors" class="errors" hidden></p></header>
<main>{''.join(body)}</main>
<script type="application/json" id="esf-charts">{script}</script>
<script>{JS}</script>
</body></html>
"""


def write(db: str | os.PathLike, out: str | os.PathLike, title: str = "ESF project bank") -> Path:
    """Build the report from `db` (opened read-only) and write it to `out` atomically; → the path written."""
    from analyst.readonly import open_published
    con = open_published(db)
    try:
        page = build(con, title)
    finally:
        con.close()
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _period_html(section: Section, charts: list[dict[str, Any]]) -> str:
    key = _key(section.period)
    projects, grant, budget = section.totals.rows[0]
    c = section.charts
    parts = [f'<section class="period" data-period="{key}"{"" if section.period is None else " hidden"}>',
             f'<h2>{_e(section.period or "All programme periods")}</h2>',
             f'<p class="totals"><span data-total="projects">{projects or 0}</span> projects, '
             f'<span data-total="esf_grant_sek">{_sek(grant)}</span> SEK ESF grant, '
             f'{_sek(budget)} SEK total budget</p>']
    parts.append(_chart(charts, f"{key}-heatmap", "ESF grant by region and programme area", _heatmap(c["grant_by_region_area"]),
                        c["grant_by_region_area"], "esf_grant_sek"))
    parts.append(_chart(charts, f"{key}-years", "ESF grant by year and programme period (spread pro rata by days)",
                        _stacked_years(c["grant_by_year"]), c["grant_by_year"], "esf_grant_sek"))
    orgs = c["top_organisations"]
    for role in sorted(set(orgs.column("role"))):
        rows = [r for r in orgs.rows if r[0] == role]
        sub = Result(orgs.sql, orgs.params | {"role": role}, orgs.columns, rows)
        parts.append(_chart(charts, f"{key}-org-{role}", f"Top {ROLE_NAMES.get(role, role)} by projects",
                            _hbar([r[1] for r in rows], [r[2] for r in rows], "projects"), sub, "projects"))
    muni = c["municipalities_per_county"]
    parts.append(_chart(charts, f"{key}-counties", "Municipalities named by projects, per county",
                        _hbar(muni.column("county"), muni.column("municipalities"), "municipalities"), muni,
                        "municipalities"))
    parts.append("</section>")
    return "\n".join(parts)


def _lists_html(lists: dict[str, Result], charts: list[dict[str, Any]]) -> str:
    """Project bank against the official lists: how much of each list has a page, where they differ, and the ESF
    grant of each period by where it comes from (ESF+ pages show no amounts: the lists fill them)."""
    grant = lists["grant_by_source"]
    traces = [{"type": "bar", "name": source, "x": [r[0] or "unknown" for r in grant.rows if r[1] == source],
               "y": [r[3] for r in grant.rows if r[1] == source]} for source in sorted(set(grant.column("source")))]
    parts = ['<section class="lists"><h2>Project bank against the official lists</h2>',
             "<p>ESF-rådet's list of operations and Kohesio's export, joined with the project pages "
             "(project_links, reconciliation). Not filtered by period.</p>"]
    if not lists["match_rates"].rows:
        parts.append('<p class="empty">No official list loaded: add the list of operations or Kohesio\'s export '
                     'with --source (see the README).</p>')
    parts += [_table("Match rates: list rows with a project page, and pages in the list", lists["match_rates"]),
              _table("How rows were linked", lists["link_methods"]),
              _table("Matches not made (link_ambiguities)", lists["ambiguities"]),
              _table("The largest differences in amounts (both values; bank_value_source says whose)",
                     lists["largest_differences"]),
              _table("Agreement per field", lists["status"]),
              _chart(charts, "lists-grant-source", "ESF grant per programme period by where the amount comes from",
                     {"data": traces, "layout": {"barmode": "stack", "xaxis": {"type": "category"}}}, grant,
                     "esf_grant_sek"),
              "</section>"]
    return "\n".join(parts)


def _runs_html(runs: dict[str, Result | None], charts: list[dict[str, Any]]) -> str:
    history = runs["run_history"]
    ordered = list(reversed(history.rows))
    traces = [{"type": "bar", "name": name, "x": [f"run {r[0]}" for r in ordered], "y": [r[i] for r in ordered]}
              for i, name in enumerate(history.columns) if name in ("new", "changed", "rejected", "failed")]
    parts = ['<section class="runs"><h2>The latest run and data quality</h2>',
             '<p>Not filtered by period: a run reads every period.</p>',
             _table("Latest run", runs["latest_run"]), _table("What it changed", runs["change_counts"]),
             _table("Changed projects (first 50)", runs["changes"]),
             _chart(charts, "runs-history", "Projects new, changed, rejected and failed per run (last 30 runs)",
                    {"data": traces, "layout": {"barmode": "group"}}, history, "new", "changed", "rejected", "failed"),
             _table("Top reject reasons in the latest run", runs["reject_reasons"]),
             _table("Warnings by field in the latest run", runs["warning_fields"])]
    if runs["quality"] is not None:
        parts.append(_table("Data quality per project (first 20 rows of project_quality)", runs["quality"]))
    parts.append("</section>")
    return "\n".join(parts)


def _chart(charts: list[dict[str, Any]], chart_id: str, title: str, figure: dict[str, Any], result: Result,
           *total_of: str) -> str:
    """A chart's place on the page; its figure goes to the page's chart list, drawn by the script.
    data-expected-total: the sum of the `total_of` columns of its query, which the drawn values must add up to."""
    total = sum(v for column in total_of for v in result.column(column) if v is not None)
    layout = {"title": {"text": _label(title)}, "height": CHART_HEIGHT, "margin": {"l": 160, "r": 20, "t": 50, "b": 60},
              "font": {"family": "system-ui, sans-serif", "size": 12}, "paper_bgcolor": "white",
              "plot_bgcolor": "#f7f7f7", **figure.get("layout", {})}
    charts.append({"id": chart_id, "data": figure["data"], "layout": layout})
    params = ", ".join(f"{k} = {v!r}" for k, v in result.params.items())
    empty = '<p class="empty">No rows.</p>' if not result.rows else ""
    return (f'<figure><div class="chart" id="{_e(chart_id)}" data-expected-total="{total}" data-rows="{len(result.rows)}">'
            f'</div>{empty}<details><summary>SQL ({_e(params) or "no parameters"}; {len(result.rows)} rows)</summary>'
            f'<pre>{_e(result.sql)}</pre></details></figure>')


def _heatmap(result: Result) -> dict[str, Any]:
    regions = sorted(set(result.column("region")))
    areas = sorted(set(result.column("area")))
    cell = {(r[0], r[1]): r[2] for r in result.rows}
    z = [[cell.get((region, area)) for area in areas] for region in regions]
    return {"data": [{"type": "heatmap", "x": [f"area {a}" for a in areas], "y": [_label(r) for r in regions], "z": z,
                      "colorscale": "Blues", "reversescale": True, "hoverongaps": False,
                      "texttemplate": "%{z:,.0f}", "colorbar": {"title": {"text": "SEK"}}}],
            "layout": {"yaxis": {"automargin": True}}}


def _stacked_years(result: Result) -> dict[str, Any]:
    traces = []
    for period in sorted(set(result.column("programme_period"))):
        rows = [r for r in result.rows if r[1] == period]
        traces.append({"type": "bar", "name": period, "x": [r[0] for r in rows], "y": [r[2] for r in rows]})
    return {"data": traces, "layout": {"barmode": "stack", "xaxis": {"type": "category", "title": {"text": "year"}}}}


def _hbar(labels: list[Any], values: list[Any], name: str) -> dict[str, Any]:
    return {"data": [{"type": "bar", "orientation": "h", "name": name, "y": [_label(v) for v in labels], "x": values}],
            "layout": {"yaxis": {"autorange": "reversed", "automargin": True, "type": "category"}}}


def _table(caption: str, result: Result | None) -> str:
    if result is None:
        return ""
    head = "".join(f"<th>{_e(c)}</th>" for c in result.columns)
    rows = "".join("<tr>" + "".join(f"<td>{_e(_cell(v))}</td>" for v in row) + "</tr>" for row in result.rows)
    body = rows or f'<tr><td colspan="{len(result.columns)}">none</td></tr>'
    return (f'<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            f'<details><summary>SQL</summary><pre>{_e(result.sql)}</pre></details>')


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ", timespec="minutes") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return _sek(value)
    return str(value)


def _sek(value: Any) -> str:
    return "–" if value is None else f"{int(value):,}".replace(",", "\u202f")


def _label(text: Any) -> str:
    """Page text as a Plotly label: Plotly reads a few HTML tags in labels, so < and > become entities."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _key(period: str | None) -> str:
    return period or "all"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _js_safe(text: str) -> str:
    """JSON inside <script>: no '</script>' or '<!--' can end or bend it."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


CSS = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 1em;color:#222}
header{position:sticky;top:0;background:white;border-bottom:1px solid #ddd;padding:.5em 0;z-index:10}
h1{margin:.2em 0}h2{margin-top:1.5em;border-bottom:2px solid #2a6ebb}
figure{margin:1em 0}.chart{min-height:%dpx}.totals{font-size:1.2em}.errors{color:#b00;font-weight:bold}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}caption{text-align:left;font-weight:bold;padding:.3em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}pre{background:#f4f4f4;padding:.5em;overflow:auto}
""" % CHART_HEIGHT

# Draws every chart, writes what it drew back into the page (data-rendered-total: the sum of the drawn
# values), shows errors on the page, and switches periods.
JS = """
(function () {
  var charts = JSON.parse(document.getElementById('esf-charts').textContent);
  var errors = document.getElementById('report-errors');
  function fail(message) { errors.hidden = false; errors.textContent += message + ' '; }
  function sum(values) {
    var total = 0;
    (values || []).forEach(function (v) {
      if (Array.isArray(v)) { total += sum(v); } else if (typeof v === 'number') { total += v; }
    });
    return total;
  }
  var drawn = 0;
  charts.forEach(function (chart) {
    var div = document.getElementById(chart.id);
    try {
      Plotly.newPlot(div, chart.data, chart.layout, {responsive: true, displaylogo: false}).then(function (gd) {
        var total = 0;
        gd.data.forEach(function (trace) {
          total += sum(trace.type === 'heatmap' ? trace.z : (trace.orientation === 'h' ? trace.x : trace.y));
        });
        div.setAttribute('data-rendered-total', String(total));
        drawn += 1;
        document.body.setAttribute('data-charts-drawn', String(drawn));
      }).catch(function (e) { fail('chart ' + chart.id + ' failed: ' + e); });
    } catch (e) { fail('chart ' + chart.id + ' failed: ' + e); }
  });
  document.body.setAttribute('data-charts', String(charts.length));
  var select = document.getElementById('period');
  function show(period) {
    document.querySelectorAll('section.period').forEach(function (section) {
      section.hidden = section.getAttribute('data-period') !== period;
      if (!section.hidden) {
        section.querySelectorAll('.js-plotly-plot').forEach(function (gd) { Plotly.Plots.resize(gd); });
      }
    });
  }
  select.addEventListener('change', function () {
    show(select.value);
    history.replaceState(null, '', select.value === 'all' ? '#' : '#period=' + select.value);
  });
  // report.html#period=2014-2020 opens on that period (a link can name one)
  var wanted = decodeURIComponent((location.hash.match(/period=([^&]+)/) || [])[1] || '');
  if (wanted && select.querySelector('option[value="' + wanted.replace(/"/g, '') + '"]')) {
    select.value = wanted;
    show(wanted);
  }
})();
"""
