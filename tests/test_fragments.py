"""The parser-free rendering of simple summary HTML gives the parser's lines, and refuses what it cannot."""
from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from transform.fragments import simple_fragment_lines
from transform.lines import _SPACES, ZERO_WIDTH, clean_line, html_fragment_lines

WORDS = ["Projektet", "stärker", "deltagarnas", "väg", "till", "arbete", "Åsa", "öka", "•", "-", "1 234,50", "90 %"]
SPACES = [" ", "  ", "\n", "\r\n", "\t", "\u00a0", "\u200b", "\u2028", "\u3000", ""]
TAGS = ["<p>", "</p>", "<P>", "</P >", "<p\n>", "<br>", "<br/>", "<br />", "<BR>", "<strong>", "</strong>", "<em>", "</em>",
        "<b>", "</b>", "<i>", "</i>", "<u>", "</u>"]
ENTITIES = ["&amp;", "&lt;", "&gt;", "&quot;", "&nbsp;", "&#229;", "&#xE5;", "&#65;", "&#x2013;"]
NOT_SIMPLE = ["<p class=\"x\">", "<li>", "<div>", "<!-- x -->", "<script>x</script>", "&copy;", "&#128;", "a < b",
              "& ", "&amp", "</br>", "<span>", "\x00", "<p/>", "a > b"]


def parser_lines(fragment: str) -> list[str]:
    """What plain_text makes of the parser's lines (a newline inside a line is a space)."""
    return [" ".join(line.split()) for line in html_fragment_lines(fragment)]


fragments = st.lists(st.sampled_from(WORDS + SPACES + TAGS + ENTITIES), max_size=30).map("".join)
inline = st.lists(st.sampled_from(WORDS + SPACES + ENTITIES + ["<br>", "<br />"]), max_size=8).map("".join)
emphasis = st.tuples(st.sampled_from(["strong", "em", "b", "i", "u"]), inline).map(lambda t: f"<{t[0]}>{t[1]}</{t[0]}>")
paragraph = st.lists(st.one_of(inline, emphasis), max_size=4).map(lambda parts: "<p>" + "".join(parts) + "</p>")
summaries = st.lists(st.one_of(paragraph, st.sampled_from(SPACES)), max_size=6).map("".join)


@settings(max_examples=500, deadline=None)
@given(summaries)
def test_paragraphs_are_simple_and_render_as_the_parser_does(fragment):
    assert simple_fragment_lines(fragment) == parser_lines(fragment)


@settings(max_examples=1000, deadline=None)
@given(fragments)
def test_whatever_is_taken_as_simple_renders_as_the_parser_does(fragment):
    lines = simple_fragment_lines(fragment)
    assert lines is None or lines == parser_lines(fragment)


@settings(max_examples=300, deadline=None)
@given(fragments, st.sampled_from(NOT_SIMPLE), fragments)
def test_other_html_is_left_to_the_parser(before, other, after):
    assert simple_fragment_lines(before + other + after) is None


def test_a_summary_as_the_list_writes_it():
    fragment = ("<p>Projektet stärker <strong>vägledning</strong> &amp; praktik.</p>\r\n"
                "<p>Det når omkring 120&nbsp;deltagare.<br />I tre år.</p>")
    assert simple_fragment_lines(fragment) == ["Projektet stärker vägledning & praktik.",
                                               "Det når omkring 120 deltagare.", "I tre år."]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(list("aå Ö.\t\n") + ["\u00a0", "\u2007", "\u202f", "\u3000", "\ufeff", "\u200b",
                                                     "\u00ad", "a\u030a", "  "])).map("".join))
def test_clean_line_skips_no_replacement_it_needs(text):
    """clean_line searches before it replaces (the faster way); the result is the plain definition's."""
    plain = _SPACES.sub(" ", unicodedata.normalize("NFC", ZERO_WIDTH.sub("", text))).strip()
    assert clean_line(text) == plain
