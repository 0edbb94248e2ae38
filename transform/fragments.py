"""A summary cell's HTML rendered to lines without a parser, when the HTML is simple: paragraphs, line breaks,
a few inline tags without attributes, and the common entities — what the list of operations writes in nearly every
row. The lines are the parser's (transform.lines.html_fragment_lines, each line's whitespace made single spaces, as
transform.list_values.plain_text does; a property test holds the two equal); any other HTML gives None and the
caller uses the parser. A list has 200,000 summaries: parsing each costs several times this."""
from __future__ import annotations

import html
import re
import unicodedata

from transform.lines import BULLET, ZERO_WIDTH, has_zero_width

BREAK = "\x00"  # where a paragraph starts or ends, or a <br>: the line ends (a fragment holding NUL is not simple)
PARAGRAPH, LINE_BREAK = "p", "br"
INLINE = ("strong", "b", "em", "i", "u")
KINDS = {"<p>": PARAGRAPH, "</p>": "/" + PARAGRAPH, "<br>": LINE_BREAK, "<br/>": LINE_BREAK,
         **{f"<{t}>": t for t in INLINE}, **{f"</{t}>": "/" + t for t in INLINE}}  # a tag, its spaces removed
_TAG = re.compile(r"(<[^<>]*>)")  # (captured: split keeps the tags)
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|nbsp|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));|(&)")


def simple_fragment_lines(fragment: str) -> list[str] | None:
    """The fragment's text lines, one a paragraph or <br>-separated line; None when the HTML is not simple."""
    if BREAK in fragment:
        return None
    text = _text_with_breaks(fragment)
    if text is None or "<" in text or ">" in text:
        return None
    if "&" in text:
        if not _entities_are_plain(text):
            return None
        text = html.unescape(text)
    if has_zero_width(text):
        text = ZERO_WIDTH.sub("", text)
    # NFC cannot join letters across a BREAK (NUL is a starter); U+FEFF is a space to clean_line but not to split().
    text = unicodedata.normalize("NFC", text).replace("\ufeff", " ")
    if "  " not in text and text.replace(BREAK, "").isprintable():  # no space but single U+0020s: strip is enough
        segments = [segment.strip(" ") for segment in text.split(BREAK)]
    else:
        segments = [" ".join(segment.split()) for segment in text.split(BREAK)]
    return [line for line in segments if line and line != BULLET]


def _text_with_breaks(fragment: str) -> str | None:
    """The text with each paragraph boundary and <br> a BREAK and inline tags removed; None when a tag is not one
    of KINDS or tags are not nested as written (see _plan)."""
    parts = _TAG.split(fragment)  # text, tag, text, … tag, text
    tags = tuple(parts[1::2])
    plan = _PLANS.get(tags, _UNSEEN)
    if plan is _UNSEEN:
        if len(_PLANS) >= PLANS_REMEMBERED:
            _PLANS.clear()
        plan = _PLANS[tags] = _plan(tags)
    if plan is None:
        return None
    parts[1::2] = plan
    return "".join(parts)


_UNSEEN: list[str] = []
_PLANS: dict[tuple[str, ...], list[str] | None] = {}  # a list's summaries repeat a few sequences of tags
PLANS_REMEMBERED = 10_000


def _plan(tags: tuple[str, ...]) -> list[str] | None:
    """What each tag of a sequence becomes (BREAK or nothing); None when a tag is not one of KINDS or tags are not
    nested as written (the parser moves or drops such tags, and its lines would differ): paragraphs outside any
    inline tag, no </p> without its <p>, each closing tag closing the one open."""
    plan: list[str] = []
    inline: list[str] = []
    paragraph = False
    for tag in tags:
        kind = KINDS.get(tag) or KINDS.get("".join(tag.split()).lower())
        if kind is None:
            return None
        if kind == LINE_BREAK:
            plan.append(BREAK)
            continue
        if kind in (PARAGRAPH, "/" + PARAGRAPH):
            if inline or (kind[0] == "/" and not paragraph):
                return None
            paragraph = kind == PARAGRAPH
            plan.append(BREAK)
            continue
        if kind[0] != "/":
            inline.append(kind)
        elif not inline or inline.pop() != kind[1:]:
            return None
        plan.append("")
    return plan


def _entities_are_plain(text: str) -> bool:
    """Every '&' starts a named entity of the short list or a numeric one of a printable character."""
    for m in _ENTITY.finditer(text):
        if m.group(3):
            return False
        number = m.group(1) or m.group(2)
        if number is not None and not _printable(int(number, 10 if m.group(1) else 16)):
            return False
    return True


def _printable(code: int) -> bool:
    return 0x20 <= code < 0x7F or 0xA0 <= code < 0xD800 or 0xE000 <= code <= 0xFFFD
