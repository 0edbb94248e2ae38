"""Page text printed to a terminal or put into Markdown cannot steer either: control characters and markup escaped."""
from __future__ import annotations

import csv
import html
import io
import json
from types import SimpleNamespace

import pytest

from analyst.formats import as_csv, as_json, escape_control, escape_markdown, table
from analyst.run_report import run_report
from records.run import RunCounts

RAW_CONTROLS = "\x00\x07\x08\x1b\x7f\x85\x9b\u2028\u202e\u2066"
HOSTILE = [
    "\x1b]0;pwned\x07title",
    "\x1b[2J\x1b[Hcleared",
    "tab\there\r\nnew line",
    "\x9b31mC1 CSI\x85next line",
    "\u202eevil.exe\u202c",
    "[click me](javascript:alert(1))",
    "![img](http://x/y.png)",
    "<script>alert(1)</script> <img src=x onerror=alert(1)>",
    "a | b | c",
    "`code` **bold** _italic_ ~~struck~~",
    "# heading\n> quote\n- item",
    "&lt;b&gt; entity &amp; [ref]: http://x",
    "back\\slash \\*kept\\*",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_control_leaves_no_raw_control_character(text):
    escaped = escape_control(text)
    assert not any(ch in escaped for ch in RAW_CONTROLS + "\n\r\t")
    assert escaped.isprintable()


def test_escape_control_shows_what_it_escaped():
    assert escape_control("a\x1b]0;x\x07\nb\tc\x9b\u202e") == r"a\x1b]0;x\x07\nb\tc\x9b\u202e"
    assert escape_control("Vägval – Umeå") == "Vägval – Umeå"


def test_table_escapes_cells_and_column_names():
    out = table(["ti\x1btle", "n"], [("\x1b]0;pwned\x07\nrow", 12000), (None, 5)])
    assert "\x1b" not in out and "\x07" not in out
    assert out.splitlines() == [r"ti\x1btle                   n", "---------------------  ------",
                                r"\x1b]0;pwned\x07\nrow  12 000", "                            5", "(2 rows)"]


def test_csv_is_faithful_unless_asked_to_escape():
    rows = [("\x1b[31mred\x1b[0m\nline", 1)]
    assert list(csv.reader(io.StringIO(as_csv(["t", "n"], rows))))[1] == ["\x1b[31mred\x1b[0m\nline", "1"]
    escaped = as_csv(["t", "n"], rows, escape=True)
    assert escaped == "t,n\n\\x1b[31mred\\x1b[0m\\nline,1"


def test_json_escapes_every_control_and_round_trips():
    text = as_json(["t"], [(s,) for s in HOSTILE])
    assert not any(ch in text for ch in RAW_CONTROLS)
    assert [r["t"] for r in json.loads(text)] == HOSTILE


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_markdown_renders_as_the_same_plain_text(text):
    markdown_it = pytest.importorskip("markdown_it")
    escaped = escape_markdown(text)
    assert "\n" not in escaped and escaped.isprintable()
    rendered = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(escaped)
    assert rendered.startswith("<p>") and rendered.endswith("</p>\n") and rendered.count("<") == 2, rendered
    assert html.unescape(rendered[3:-5]) == escape_control(" ".join(text.splitlines()))


def test_escape_markdown_in_a_table_cell_stays_one_cell():
    markdown_it = pytest.importorskip("markdown_it")
    first, second = escape_markdown("a | b"), escape_markdown("x\ny | z")
    row = f"| {first} | {second} |"
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(f"| r | s |\n|---|---|\n{row}\n")
    assert rendered.count("<td>") == 2 and "<td>a | b</td>" in rendered and "<td>x y | z</td>" in rendered


def report(**fields):
    base = dict(run_id=7, status="rejects", counts=RunCounts(seen=2, new=1, rejected=1), durations={},
                top_rejects=[("title: \x1b]0;pwned\x07 [x](javascript:y) <b>", 1)],
                notes=["not followed: http://x/_a_\n*b*"], published="/srv/esf_data/esf.duckdb")
    return SimpleNamespace(**{**base, **fields})


def test_run_report_escapes_reasons_and_notes_for_the_terminal():
    out = run_report(report())
    assert "\x1b" not in out and "\x07" not in out
    assert r"1 × title: \x1b]0;pwned\x07 [x](javascript:y) <b>" in out
    assert r"note: not followed: http://x/_a_\n*b*" in out and "published: /srv/esf_data/esf.duckdb" in out


def test_run_report_escapes_reasons_and_notes_for_markdown():
    markdown_it = pytest.importorskip("markdown_it")
    out = run_report(report(), markdown=True)
    assert r"1 × title: \\x1b\]0;pwned\\x07 \[x\](javascript:y) \<b\>" in out
    assert r"note: not followed: http://x/\_a\_ \*b\*" in out and r"/srv/esf\_data/esf.duckdb" in out
    rendered = markdown_it.MarkdownIt("commonmark").render(out.replace("\n", "  \n"))
    assert "<a " not in rendered and "<em>" not in rendered and "<b>" not in rendered
