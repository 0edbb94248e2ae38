"""`esf report` in headless Chromium, chart by chart: every chart has its title and axis titles, the page shows no
None or nan, and each choice of the period filter shows its section with drawn plots (and a screenshot)."""
from __future__ import annotations

import re
from html import unescape

import pytest

from test_report import CHROMIUM, charts, chromium, page, published  # noqa: F401  (page, published: fixtures)


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
