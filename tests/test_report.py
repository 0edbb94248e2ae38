"""`esf report`: every chart equals the SQL it comes from (and an independent query of the base tables), the
page is one offline file, page text cannot become markup, and `--report` files it as a Prefect artifact."""
from __future__ import annotations

import json
import subprocess
import re
import shutil
from html import unescape
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from cli import cli
from service import run as service
from service.run import RunSettings


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """The bundled samples loaded and published once for this module."""
    db = tmp_path_factory.mktemp("report") / "esf.duckdb"
    service.refresh(RunSettings(db=str(db), sources=(str(SAMPLES),)))
    return db


@pytest.fixture(scope="module")
def page(published) -> str:
    out = published.parent / "report.html"
    result = CliRunner().invoke(cli, ["report", "--db", str(published), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report written: {out}" in result.output
    return out.read_text(encoding="utf-8")


def charts(page: str) -> dict[str, dict]:
    """The figures the page hands to Plotly, by chart id."""
    found = re.search(r'<script type="application/json" id="esf-charts">(.*?)</script>', page, re.S)
    return {c["id"]: c for c in json.loads(found.group(1))}


def query(db: Path, sql: str, params: dict | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def periods(db: Path) -> list[str | None]:
    return [None] + [p for (p,) in query(db, "SELECT DISTINCT programme_period FROM projects ORDER BY 1")]


def test_heatmap_is_grant_by_region_and_area_in_every_period(published, page):
    shown = charts(page)
    for period in periods(published):
        expected = query(published, """SELECT region, programme_period, programme_area_code, sum(esf_grant_sek)
                                       FROM projects WHERE esf_grant_sek IS NOT NULL
                                       AND ($p IS NULL OR programme_period = $p) GROUP BY ALL""", {"p": period})
        if not expected:
            assert f'data-chart="{period}-heatmap">No amounts: ' in page
            continue
        chart = shown[f"{period or 'all'}-heatmap"]["data"][0]
        cells = {(unescape(region), *area_of(label, period)): z
                 for region, row in zip(chart["y"], chart["z"]) for label, z in zip(chart["x"], row) if z is not None}
        assert cells == {(r, p, a): g for r, p, a, g in expected}


def area_of(label: str, period: str | None) -> tuple[str, str]:
    """(period, area code) from a heatmap column label: `2014-2020: 2 Öka<br>övergångarna …` or, in one period's
    section, `2 Öka …`; the name after the code is the reference's name of that area."""
    from transform.reference import programme_areas
    text = unescape(label).replace("<br>", " ")
    if period is None:
        period, text = text.split(": ", 1)
    code, _, name = text.partition(" ")
    assert name == (programme_areas().get((period, code)) or ""), label
    return period, code


def test_heatmap_regions_run_north_to_south(page):
    from analyst.places import region_names
    regions = [unescape(r) for r in charts(page)["all-heatmap"]["data"][0]["y"]]
    order = region_names()
    assert len(regions) > 3 and regions == sorted(regions, key=order.index)
    assert charts(page)["all-heatmap"]["layout"]["yaxis"]["autorange"] == "reversed"  # the first (north) on top


def test_grant_by_year_is_funding_by_year_per_period(published, page):
    chart = charts(page)["all-years"]["data"]
    shown = {(year, trace["name"]): y for trace in chart for year, y in zip(trace["x"], trace["y"])}
    expected = query(published, "SELECT year, programme_period, sum(esf_grant_sek) FROM funding_by_year GROUP BY ALL")
    assert shown == {(str(y) if y is not None else "(okänd)", p): g for y, p, g in expected}
    assert len(chart) == len({p for _, p, _ in expected})  # one stacked trace per period


def test_top_organisations_match_organisation_activity(published, page):
    shown = charts(page)
    roles = [r for (r,) in query(published, "SELECT DISTINCT role FROM organisation_activity ORDER BY 1")]
    assert roles
    for role in roles:
        bar = shown[f"all-org-{role}"]["data"][0]
        expected = query(published, """SELECT organisation, projects FROM organisation_activity WHERE role = $role
                                       ORDER BY projects DESC, esf_grant_sek DESC NULLS LAST, organisation LIMIT 10""",
                         {"role": role})
        assert list(zip(map(unescape, bar["y"]), bar["x"])) == expected


def test_top_organisations_by_grant_match_organisation_activity(published, page):
    shown = charts(page)
    for (role,) in query(published, "SELECT DISTINCT role FROM organisation_activity ORDER BY 1"):
        bar = shown[f"all-org-{role}-by-grant"]["data"][0]
        expected = query(published, """SELECT organisation, esf_grant_sek FROM organisation_activity WHERE role = $role
                                       AND esf_grant_sek IS NOT NULL
                                       ORDER BY esf_grant_sek DESC, projects DESC, organisation LIMIT 10""", {"role": role})
        assert list(zip(map(unescape, bar["y"]), bar["x"])) == expected


def test_numbers_are_swedish_and_counts_whole(page):
    shown = charts(page)
    years = shown["all-years"]["layout"]["yaxis"]
    assert years["ticktext"][1:] and all(re.fullmatch(r"\d+(,\d)? mnkr", t) for t in years["ticktext"][1:]), years
    assert all(c["layout"]["separators"] == ",\u202f" for c in shown.values())  # decimal comma, thin space
    for chart_id, chart in shown.items():
        axis = chart["layout"].get("xaxis" if chart["data"][0].get("orientation") == "h" else "yaxis", {})
        if chart_id.endswith(("counties", "history")) or re.search(r"org-[a-z_]+$", chart_id):
            assert axis["tickformat"] == "d" and axis.get("dtick", 1) >= 1, chart_id


def test_no_python_reprs_and_plural_rows(page):
    body = page.split("<main>")[1].split('<script type="application/json"')[0]
    assert not re.search(r"\bNone\b|\bnan\b|\bNaN\b", body)
    assert "period = None" not in body and "$period = NULL" in body
    assert not re.search(r"\b1 rows\b", body)
    summaries = re.findall(r"; (\d+) (rows?)\)</summary>", body)
    assert summaries and all((n == "1") == (word == "row") for n, word in summaries)


def test_municipalities_per_county_match_municipality_coverage(published, page):
    bar = charts(page)["all-counties"]["data"][0]
    expected = query(published, "SELECT county, count(*) FROM municipality_coverage GROUP BY county "
                                "ORDER BY 2 DESC, county")
    assert list(zip(bar["y"], bar["x"])) == expected


def test_every_chart_equals_the_sql_shown_under_it(published, page):
    """Each chart's <details> holds its SQL and parameters: run them, and the total drawn is the total answered."""
    shown = charts(page)
    figures = re.findall(r'<div class="chart" id="([^"]+)" data-expected-total="(\d+)" data-rows="(\d+)"></div>'
                         r'<details><summary>SQL \(([^)]*);[^<]*</summary>'
                         r'<pre>(.*?)</pre>', page, re.S)
    assert len(figures) == len(shown) >= 5 * len(periods(published))
    for chart_id, total, rows, params, sql in figures:
        bound = dict(re.findall(r"\$(\w+) = (NULL|'[^']*')", unescape(params)))
        bound = {k: None if v == "NULL" else v.strip("'") for k, v in bound.items()}
        role = bound.pop("role", None)
        answer = query(published, unescape(sql), bound)
        if role:
            answer = [r for r in answer if r[0] == role]
        assert len(answer) == int(rows), chart_id
        drawn = shown[chart_id]["data"]
        values = [v for t in drawn for v in _flat(t["z"] if t["type"] == "heatmap" else
                                                  t["x"] if t.get("orientation") == "h" else t["y"])]
        assert sum(v for v in values if v is not None) == int(total), chart_id


def _flat(values):
    for v in values:
        yield from (_flat(v) if isinstance(v, list) else [v])


def test_the_period_filter_offers_every_period(published, page):
    options = re.findall(r'<option value="([^"]+)">', page)
    assert options == ["all"] + [p for p in periods(published) if p]
    sections = re.findall(r'<section class="period" data-period="([^"]+)"', page)
    assert sections == options


def test_the_page_needs_no_network(page):
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page, re.I)
    assert "Plotly.newPlot" in page and "plotly.js" in page.lower()  # the library itself is in the page


def test_totals_and_latest_run_are_shown(published, page):
    projects, grant = query(published, "SELECT count(*), sum(esf_grant_sek) FROM projects")[0]
    assert f'<span data-total="projects">{projects}</span>' in page
    assert f'<span data-total="esf_grant_sek">{grant:,} kr</span>'.replace(",", "\u202f") in page
    (run_id,) = query(published, "SELECT max(run_id) FROM runs")[0]
    assert re.search(rf"<caption>Latest run</caption>.*?<td>{run_id}</td>", page, re.S)
    assert "<caption>What it changed</caption><thead><tr><th>change</th><th>projects</th></tr></thead>" \
           f"<tbody><tr><td>new</td><td>{projects}</td></tr>" in page


def test_page_text_cannot_become_markup(published, tmp_path):
    db = tmp_path / "esf.duckdb"
    shutil.copyfile(published, db)
    hostile = "</script><img src=x onerror=alert(1)>"
    con = duckdb.connect(str(db))
    con.execute("UPDATE organisation_activity SET organisation = ? WHERE role = 'owner'", [hostile])
    con.execute("UPDATE project_organisations SET organisation = ? WHERE role = 'owner'", [hostile])
    con.execute("UPDATE project_versions SET title = ?", [hostile])
    con.close()
    out = tmp_path / "r.html"
    assert CliRunner().invoke(cli, ["report", "--db", str(db), "--out", str(out)]).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert hostile not in text and "<img" not in text
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in text  # shown as text in the changes table


def test_the_quality_view_is_shown_where_it_exists(published, page, tmp_path):
    """project_quality is shown from the warehouse; a file from before it (no such view) gets a report without it."""
    body = lambda html: html.split("<main>")[1].split('<script type="application/json"')[0]
    assert "rows of project_quality" in body(page)
    db = tmp_path / "esf.duckdb"
    shutil.copyfile(published, db)
    con = duckdb.connect(str(db))
    con.execute("DROP VIEW project_quality")
    con.close()
    out = tmp_path / "r.html"
    assert CliRunner().invoke(cli, ["report", "--db", str(db), "--out", str(out)]).exit_code == 0
    assert "project_quality" not in body(out.read_text(encoding="utf-8"))


def test_rejects_and_their_reasons_are_in_the_quality_part(tmp_path):
    pages = tmp_path / "pages"
    shutil.copytree(SAMPLES, pages)
    (pages / "anonymous.txt").write_text(  # neither case number nor title: the one kind of page rejected
        "Programområde\n2.1 Öka övergångarna till arbete\nRegion\nVästsverige\nProjektägare\nRegion Halland\n",
        encoding="utf-8")
    db = tmp_path / "esf.duckdb"
    assert service.refresh(RunSettings(db=str(db), sources=(str(pages),))).status == "rejects"
    out = tmp_path / "r.html"
    assert CliRunner().invoke(cli, ["report", "--db", str(db), "--out", str(out)]).exit_code == 0
    text = out.read_text(encoding="utf-8")
    (reason,) = query(db, "SELECT reason FROM rejects")[0]
    quality = text.split("<caption>Top reject reasons in the latest run</caption>")[1].split("</table>")[0]
    assert f"<td>{reason}</td><td>1</td>" in quality.replace("&#x27;", "'")
    new, rejected = query(db, "SELECT new, rejected FROM runs")[0]
    assert rejected == 1 and re.search(rf'id="runs-history" data-expected-total="{new + rejected}"', text)


def test_report_without_a_database_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["report", "--db", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "no database at" in result.output


def test_report_into_a_folder_that_cannot_exist_is_one_line(published, tmp_path):
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(cli, ["report", "--db", str(published), "--out", str(tmp_path / "file" / "r.html")])
    assert result.exit_code == 2 and "cannot write" in result.output and "not a folder" in result.output


@pytest.mark.prefect
def test_run_with_report_files_a_link_artifact(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from flows import pipeline
    out = tmp_path / "out" / "report.html"
    out.parent.mkdir()
    pipeline.refresh(sources=[str(SAMPLES)], db=str(tmp_path / "esf.duckdb"), report_html=str(out))
    assert "Plotly.newPlot" in out.read_text(encoding="utf-8")
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["esf-report"])))
    assert any(out.resolve().as_uri() in a.data for a in artifacts), [a.data for a in artifacts]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# As root in a container Chromium needs --no-sandbox; the rest keep it off a network this machine does not have.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--virtual-time-budget=20000"]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is absent (Debian: apt-get install -y chromium)")
def test_the_report_draws_in_chromium(published, page, tmp_path):
    """Headless Chromium opens the file: every chart is drawn, the totals Plotly drew are the SQL's, the page
    logs nothing to the console (errors included), and a screenshot is written."""
    html_file = published.parent / "report.html"
    loaded = chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", html_file.as_uri())
    dom = loaded.stdout
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    console = [line for line in loaded.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    count = len(charts(page))
    assert re.search(rf'<body[^>]* data-charts-drawn="{count}"', dom), "not every chart was drawn"
    assert len(re.findall(r'class="[^"]*js-plotly-plot', dom)) == count
    assert re.search(r'id="report-errors" class="errors" hidden', dom)
    drawn = re.findall(r'id="([^"]+)" data-expected-total="(\d+)" data-rows="\d+" data-rendered-total="([\d.]+)"', dom)
    assert len(drawn) == count
    assert [(i, float(t)) for i, _, t in drawn] == [(i, float(e)) for i, e, _ in drawn]
    projects, grant = query(published, "SELECT count(*), sum(esf_grant_sek) FROM projects")[0]
    assert dict(re.findall(r'id="all-heatmap" data-expected-total="\d+" data-rows="\d+" data-rendered-total="(\d+)"()',
                           dom)) == {str(grant): ""}
    assert f'<span data-total="projects">{projects}</span>' in dom
    assert "<svg" in dom and "Övre Norrland" in dom  # Plotly drew axes with the data's labels
    # the period filter, in the browser: #period=2014-2020 shows that period's section and hides the others
    filtered = chromium(tmp_path, "--dump-dom", html_file.as_uri() + "#period=2014-2020").stdout
    shown = re.findall(r'<section class="period" data-period="([^"]+)"(?! hidden)>', filtered)
    assert shown == ["2014-2020"], shown
    shot = tmp_path / "report.png"
    taken = chromium(tmp_path, "--window-size=1200,2400", f"--screenshot={shot}", html_file.as_uri() + "#period=2014-2020")
    assert taken.returncode == 0 and shot.stat().st_size > 50_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {shot}")


def test_nulls_in_every_nullable_column_are_shown_as_unknown(published, tmp_path):
    """A warehouse (made by SQL from the loaded samples) with NULL in every nullable column of projects for some
    projects, and in the organisations' and municipalities' grouping columns: the report is written, every unknown
    value is "(okänd)", and no chart or text shows None or nan."""
    db = tmp_path / "esf.duckdb"
    shutil.copyfile(published, db)
    con = duckdb.connect(str(db))
    nullable = [c for (c,) in con.execute("""SELECT column_name FROM duckdb_columns() WHERE table_name = 'projects'
                                             AND schema_name = 'main' AND is_nullable""").fetchall()]
    assert {"region", "programme_period", "programme_area_code", "esf_grant_sek", "start_date"} <= set(nullable)
    some = "project_id IN (SELECT project_id FROM projects ORDER BY project_id LIMIT 4)"
    con.execute(f"UPDATE projects SET {', '.join(f'{c} = NULL' for c in nullable)} WHERE {some}")
    con.execute(f"UPDATE projects SET region = NULL, programme_area_code = NULL WHERE project_id IN "
                f"(SELECT project_id FROM projects WHERE esf_grant_sek IS NOT NULL ORDER BY project_id LIMIT 2)")
    con.execute(f"UPDATE project_organisations SET organisation = NULL WHERE {some}")  # role is NOT NULL
    con.execute(f"UPDATE project_municipalities SET county = NULL WHERE {some}")
    con.close()
    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["report", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    body = text.split("<main>")[1].split('<script type="application/json"')[0]
    assert not re.search(r"\bNone\b|\bnan\b|\bNaN\b", body)
    shown = charts(text)
    labels = [label for c in shown.values() for t in c["data"] for label in [*t.get("x", []), *t.get("y", [])]
              if isinstance(label, str)]
    assert "(okänd)" in labels and not any(label in ("None", "nan", "null") for label in labels)
    assert all(label is not None for c in shown.values() for t in c["data"] for label in t.get("y", [])
               if t.get("orientation") == "h")
    heatmap = shown["all-heatmap"]["data"][0]
    assert heatmap["y"][-1] == "(okänd)"  # unknown region last, after the regions north to south
    (grant,) = query(db, "SELECT sum(esf_grant_sek) FROM projects")[0]
    assert sum(v for row in heatmap["z"] for v in row if v is not None) == grant  # nothing lost with its region


def without_scripts(dom: str) -> str:
    return re.sub(r"<script\b.*?</script>", "", dom, flags=re.S)


def chart_dom(dom: str, chart_id: str) -> str:
    """The drawn DOM of one chart: from its div to the end of its figure."""
    start = dom.index(f'id="{chart_id}"')
    return dom[start:dom.index("</figure>", start)]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is absent (Debian: apt-get install -y chromium)")
def test_every_chart_has_its_title_and_axis_titles_and_no_none_in_chromium(published, page, tmp_path):
    html_file = published.parent / "report.html"
    dom = chromium(tmp_path, "--dump-dom", html_file.as_uri()).stdout
    assert re.search(rf'<body[^>]* data-charts-drawn="{len(charts(page))}"', dom), "not every chart was drawn"
    for chart_id, chart in charts(page).items():
        drawn = chart_dom(dom, chart_id)
        titles = {kind: unescape(re.sub(r"<[^>]+>", "", text)) for kind, text in
                  re.findall(r'<text class="(gtitle|xtitle|ytitle)"[^>]*>(.*?)</text>', drawn, re.S)}
        assert titles.get("gtitle") == unescape(chart["layout"]["title"]["text"]), chart_id
        assert titles.get("xtitle") and titles.get("ytitle"), (chart_id, titles)
    visible = without_scripts(dom)
    assert not re.search(r"\bNone\b|\bnan\b|\bNaN\b|\bundefined\b", visible)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is absent (Debian: apt-get install -y chromium)")
def test_each_period_filter_shows_drawn_plots(published, page, tmp_path):
    """For each choice of the period filter: its section alone is shown, every chart in it is drawn with marks
    (bars, heatmap cells) adding up to its SQL, a chart with nothing to draw says why, and a screenshot has content."""
    html_file = published.parent / "report.html"
    for option in re.findall(r'<option value="([^"]+)">', page):
        url = html_file.as_uri() + ("" if option == "all" else f"#period={option}")
        dom = chromium(tmp_path, "--dump-dom", url).stdout
        shown = re.findall(r'<section class="period" data-period="([^"]+)"(?! hidden)>', dom)
        assert shown == [option], shown
        section = dom.split(f'<section class="period" data-period="{option}">')[1].split("</section>")[0]
        ids = re.findall(r'<div class="chart[^"]*" id="([^"]+)" data-expected-total="(\d+)" data-rows="\d+" '
                         r'data-rendered-total="([\d.]+)"', section)
        empty = re.findall(r'<p class="empty" data-chart="[^"]+">([^<]+)</p>', section)
        assert ids or empty
        for chart_id, expected, rendered in ids:
            assert float(rendered) == float(expected) > 0, chart_id
            marks = chart_dom(section, chart_id)
            assert re.search(r'class="(point|hm)"|<image', marks), f"{chart_id}: nothing drawn"
        assert all(line.startswith(("No amounts:", "No years:", "No organisations:", "No municipalities:", "No rows:"))
                   for line in empty)
        shot = tmp_path / f"report-{option}.png"
        taken = chromium(tmp_path, "--window-size=1200,1600", f"--screenshot={shot}", url)
        assert taken.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 40_000, f"{option}: the screenshot is nearly blank"
