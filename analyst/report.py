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
from analyst.numbers import SEPARATORS, count_axis, kr, mnkr, number, sek_axis
from analyst.places import region_names
from transform.reference import programme_areas

ROLE_NAMES = {"owner": "project owners", "co_financier": "co-financiers", "partner": "partners"}
CHART_HEIGHT = 420
UNKNOWN = "(okänd)"  # a NULL or unknown value in a grouping column


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
    projects, grant, budget, with_grant, with_dates = section.totals.rows[0]
    c = section.charts
    of = f"of {section.period}" if section.period else "in the database"
    parts = [f'<section class="period" data-period="{key}"{"" if section.period is None else " hidden"}>',
             f'<h2>{_e(section.period or "All programme periods")}</h2>',
             f'<p class="totals"><span data-total="projects">{projects or 0}</span> {_plural(projects or 0, "project")}, '
             f'<span data-total="esf_grant_sek">{_e(kr(grant))}</span> ESF grant, {_e(kr(budget))} total budget</p>']
    no_amounts = None if with_grant else (
        f"No amounts: none of the {projects} {_plural(projects, 'project')} {of} has an ESF grant on record "
        "(ESF+ pages show no amounts; they come from the list of operations where it is loaded).")
    no_years = no_amounts or (None if with_dates else
                              f"No years: the projects {of} with an ESF grant have no start or end date to spread it over.")
    heat = c["grant_by_region_area"]
    parts.append(_chart(charts, f"{key}-heatmap", "ESF grant by region and programme area",
                        _heatmap(heat, section.period), heat, "esf_grant_sek", empty=no_amounts))
    parts.append(_chart(charts, f"{key}-years", "ESF grant by year and programme period (spread pro rata by days)",
                        _stacked_years(c["grant_by_year"]), c["grant_by_year"], "esf_grant_sek", empty=no_years))
    no_orgs = f"No organisations: the projects {of} name none."
    for by, result, column in (("projects", c["top_organisations"], "projects"),
                               ("ESF grant", c["top_organisations_by_grant"], "esf_grant_sek")):
        roles = sorted(set(c["top_organisations"].column("role")), key=_order)
        for role in roles:
            rows = [r for r in result.rows if r[0] == role]
            sub = Result(result.sql, result.params | {"role": role}, result.columns, rows)
            values = [r[result.columns.index(column)] for r in rows]
            axis = count_axis(max(values, default=None)) if column == "projects" else sek_axis(max(values, default=None))
            suffix = "" if column == "projects" else "-by-grant"
            parts.append(_chart(charts, f"{key}-org-{role}{suffix}", f"Top {ROLE_NAMES.get(role, role or UNKNOWN)} by {by}",
                                _hbar([r[1] for r in rows], values, column, axis, by.capitalize(), "Organisation"),
                                sub, column, empty=no_amounts if column != "projects" else None))
        if not roles:
            parts.append(_chart(charts, f"{key}-orgs-{column}", "Top organisations by " + by, {"data": []}, result, column,
                                empty=no_orgs))
    muni = c["municipalities_per_county"]
    counts = muni.column("municipalities")
    parts.append(_chart(charts, f"{key}-counties", "Municipalities named by projects, per county",
                        _hbar(muni.column("county"), counts, "municipalities", count_axis(max(counts, default=None)),
                              "Municipalities", "County"), muni, "municipalities",
                        empty=None if muni.rows else f"No municipalities: the projects {of} name none that are known."))
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
                     {"data": traces, "layout": {"barmode": "stack",
                                                 "xaxis": {"type": "category", "title": {"text": "Programme period"}},
                                                 "yaxis": {"title": {"text": "ESF grant (SEK)"}}}}, grant,
                     "esf_grant_sek"),
              "</section>"]
    return "\n".join(parts)


def _runs_html(runs: dict[str, Result | None], charts: list[dict[str, Any]]) -> str:
    history = runs["run_history"]
    assert history is not None, "the run tables are read whenever the runs section is drawn"
    ordered = list(reversed(history.rows))
    traces = [{"type": "bar", "name": name, "x": [f"run {r[0]}" for r in ordered], "y": [r[i] for r in ordered]}
              for i, name in enumerate(history.columns) if name in ("new", "changed", "rejected", "failed")]
    parts = ['<section class="runs"><h2>The latest run and data quality</h2>',
             '<p>Not filtered by period: a run reads every period.</p>',
             _table("Latest run", runs["latest_run"]), _table("What it changed", runs["change_counts"]),
             _table("Changed projects (first 50)", runs["changes"]),
             _chart(charts, "runs-history", "Projects new, changed, rejected and failed per run (last 30 runs)",
                    {"data": traces, "layout": {
                        "barmode": "group", "xaxis": {"title": {"text": "Run"}, "type": "category"},
                        "yaxis": {"title": {"text": "Projects"},
                                  **count_axis(max((v for t in traces for v in t["y"]), default=None))}}},
                    history, "new", "changed", "rejected", "failed"),
             _table("Top reject reasons in the latest run", runs["reject_reasons"]),
             _table("Warnings by field in the latest run", runs["warning_fields"])]
    if runs["quality"] is not None:
        parts.append(_table("Data quality per project (first 20 rows of project_quality)", runs["quality"]))
    parts.append("</section>")
    return "\n".join(parts)


def _chart(charts: list[dict[str, Any]], chart_id: str, title: str, figure: dict[str, Any], result: Result,
           *total_of: str, empty: str | None = None) -> str:
    """A chart's place on the page; its figure goes to the page's chart list, drawn by the script.
    data-expected-total: the sum of the `total_of` columns of its query, which the drawn values must add up to.
    A chart with nothing to draw is a line saying why (`empty`, or that its query found no rows) instead."""
    values = [v for column in total_of for v in result.column(column) if v is not None]
    sql = (f'<details><summary>SQL ({_e(_params(result.params))}; {len(result.rows)} {_plural(len(result.rows), "row")})</summary>'
           f'<pre>{_e(result.sql)}</pre></details>')
    if empty is not None or not values:
        why = empty or "No rows: the query below finds nothing for this period."
        return f'<figure><h3>{_e(title)}</h3><p class="empty" data-chart="{_e(chart_id)}">{_e(why)}</p>{sql}</figure>'
    layout = {"title": {"text": _label(title)}, "height": CHART_HEIGHT, "margin": {"l": 160, "r": 20, "t": 50, "b": 60},
              "font": {"family": "system-ui, sans-serif", "size": 12}, "paper_bgcolor": "white",
              "plot_bgcolor": "#f7f7f7", "separators": SEPARATORS, **figure.get("layout", {})}
    charts.append({"id": chart_id, "data": figure["data"], "layout": layout})
    return (f'<figure><div class="chart" id="{_e(chart_id)}" data-expected-total="{sum(values)}" '
            f'data-rows="{len(result.rows)}"></div>{sql}</figure>')


def _params(params: dict[str, Any]) -> str:
    """The query's parameters as SQL values: $period = '2014-2020', or $period = NULL (all periods)."""
    shown = [f"${k} = NULL" if v is None else f"${k} = '{v}'" for k, v in params.items()]
    return ", ".join(shown) or "no parameters"


def _plural(n: int, word: str) -> str:
    """`word` for one, `words` for any other count: "1 row", "2 rows"."""
    return word if n == 1 else word + "s"


def _order(value: Any) -> tuple[bool, Any]:
    """Sort key with NULL last."""
    return (value is None, value if value is not None else "")


def _regions(names: list[Any]) -> list[Any]:
    """Regions north to south (data/reference/regions.csv), then others by name, then NULL."""
    rank = {name: i for i, name in enumerate(region_names())}
    return sorted(set(names), key=lambda r: (r is None, rank.get(r, len(rank)), r or ""))


def _area_label(period: str | None, code: str | None, with_period: bool) -> str:
    """`2 Öka övergångarna till arbete` (with its period where the chart shows several), wrapped for the axis."""
    name = programme_areas().get((period, code)) if period and code else None
    text = f"{code or UNKNOWN} {name or ''}".strip()
    if with_period:
        text = f"{period or UNKNOWN}: {text}"
    return _label(_wrap(text, 22))


def _wrap(text: str, width: int) -> str:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join(lines + [line])


def _heatmap(result: Result, period: str | None) -> dict[str, Any]:
    amounts = [r for r in result.rows if r[3] is not None]  # an area or region with no amount is no column or row
    regions = _regions([r[0] for r in amounts])
    areas = sorted({(r[1], r[2]) for r in amounts}, key=lambda pa: (_order(pa[0]), _order(pa[1])))
    cell = {(r[0], r[1], r[2]): r[3] for r in result.rows}
    z = [[cell.get((region, *area)) for area in areas] for region in regions]
    text = [[mnkr(v) if v is not None else "" for v in row] for row in z]
    largest = max((v for row in z for v in row if v is not None), default=None)
    return {"data": [{"type": "heatmap", "x": [_area_label(*a, with_period=period is None).replace("\n", "<br>")
                                               for a in areas],
                      "y": [_label(r if r is not None else UNKNOWN) for r in regions], "z": z, "text": text,
                      "colorscale": "Blues", "reversescale": True, "hoverongaps": False, "texttemplate": "%{text}",
                      "hovertemplate": "%{y}<br>%{x}<br>%{z:,.0f} kr<extra></extra>",
                      "colorbar": {"title": {"text": "ESF grant"}, **_ticks(sek_axis(largest))}}],
            "layout": {"yaxis": {"automargin": True, "autorange": "reversed", "title": {"text": "ESF region (north to south)"}},
                       "xaxis": {"automargin": True, "title": {"text": "Programme area"}}}}


def _ticks(axis: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in axis.items() if k in ("tickmode", "tickvals", "ticktext")}


def _stacked_years(result: Result) -> dict[str, Any]:
    traces: list[dict[str, Any]] = []
    totals: dict[Any, int] = {}
    years = sorted(set(result.column("year")), key=_order)
    for period in sorted(set(result.column("programme_period")), key=_order):
        rows = [r for r in result.rows if r[1] == period]
        for r in rows:
            totals[r[0]] = totals.get(r[0], 0) + (r[2] or 0)
        traces.append({"type": "bar", "name": period or UNKNOWN, "x": [_year(r[0]) for r in rows],
                       "y": [r[2] for r in rows], "hovertemplate": "%{x}: %{y:,.0f} kr<extra>%{fullData.name}</extra>"})
    return {"data": traces, "layout": {
        "barmode": "stack",
        "xaxis": {"type": "category", "title": {"text": "Year"}, "categoryorder": "array",
                  "categoryarray": [_year(y) for y in years]},
        "yaxis": {"title": {"text": "ESF grant"}, **sek_axis(max(totals.values(), default=None))}}}


def _year(year: int | None) -> str:
    return str(year) if year is not None else UNKNOWN


def _hbar(labels: list[Any], values: list[Any], name: str, axis: dict[str, Any], value_title: str,
          label_title: str) -> dict[str, Any]:
    hover = "%{y}: %{x:,.0f} kr<extra></extra>" if name == "esf_grant_sek" else "%{y}: %{x}<extra></extra>"
    return {"data": [{"type": "bar", "orientation": "h", "name": name, "x": values, "hovertemplate": hover,
                      "y": [_label(v if v is not None else UNKNOWN) for v in labels]}],
            "layout": {"yaxis": {"autorange": "reversed", "automargin": True, "type": "category",
                                 "title": {"text": label_title}},
                       "xaxis": {"title": {"text": value_title}, **axis}}}


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
        return number(value)
    return str(value)


def _sek(value: Any) -> str:
    return number(value)


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
h3{font-size:1em;margin:.5em 0}.empty{color:#555;font-style:italic;border-left:3px solid #ccc;padding-left:.5em}
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
