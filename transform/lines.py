"""Page bytes → block-structured text lines, the same shape for HTML and text dumps."""
from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import lxml.html
from bs4.dammit import UnicodeDammit
from lxml import etree

BULLET = "•"
_SPACES = re.compile(r"[ \t\u00a0\u2007\u202f\u2009\u200a\u3000\ufeff]+")
_OTHER_SPACE = re.compile(r"[\t\u00a0\u2007\u202f\u2009\u200a\u3000\ufeff]")
ZERO_WIDTH_CHARACTERS = "\u200b\u200c\u200d\u2060\u00ad"
ZERO_WIDTH = re.compile(f"[{ZERO_WIDTH_CHARACTERS}]")
_TEXT_BULLET = re.compile(r"^(?:[•·▪●◦]|\*)\s*")
_HTML_SNIFF = re.compile(rb"<\s*(?:!doctype\s+html|html|head|body|div|p|h1|meta)\b", re.I)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Bytes are UTF-8 with a few bad bytes (replaced, with a warning) when valid multibyte sequences outnumber
# invalid ones this many to one: replacing the few then spoils fewer letters than reading the many as
# Windows-1252 would. Windows-1252 Swedish text has no valid multibyte sequences ('å' is one byte).
UTF8_VALID_PER_INVALID = 4
# Binary files (images, PDFs, UTF-16 without a BOM) are NUL bytes in far more than this share of their first
# 4 KB; a text page with a stray NUL or two has them removed, with a warning.
MAX_NUL_SHARE = 0.01

BLOCK_TAGS = frozenset(
    "address article aside blockquote body dd details div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table "
    "tbody thead tfoot tr td th caption ul".split()
)
# Never page content: scripts, site navigation and the site footer.
DROP_TAGS = frozenset("script style noscript template svg iframe object canvas nav button select footer aside".split())


class NotDecodable(ValueError):
    """The bytes are not text in any encoding we can trust."""


@dataclass
class Note:
    """Something wrong with a page's bytes or markup that parsing worked around; becomes a Problem."""
    reason: str
    value: str | None = None
    severity: str = "warning"
    stage: str = "decode"


class Decoded(NamedTuple):
    text: str
    encoding: str
    notes: list[Note]


@dataclass
class PageText:
    lines: list[str]
    is_html: bool
    canonical_url: str | None = None
    headings: list[str] = field(default_factory=list)  # h1 texts, in order
    encoding: str = "utf-8"
    complete: bool = True  # False when an HTML document ends without </html>
    notes: list[Note] = field(default_factory=list)


def has_zero_width(text: str) -> bool:
    """Whether the text holds a ZERO_WIDTH_CHARACTER. (Five searches for one character each, which Python answers
    at once in a string that cannot hold it, are several times faster than a regular expression's.)"""
    return "\u200b" in text or "\u200c" in text or "\u200d" in text or "\u2060" in text or "\u00ad" in text


def clean_line(text: str) -> str:
    """NFC, no zero-width characters, every run of (no-break) spaces one space, trimmed."""
    if has_zero_width(text):
        text = ZERO_WIDTH.sub("", text)
    text = unicodedata.normalize("NFC", text)
    if "  " in text or _OTHER_SPACE.search(text):
        text = _SPACES.sub(" ", text)
    return text.strip()


def decode(body: bytes, content_type: str | None = None) -> Decoded:
    """Bytes → text: UTF-8 (a few bad bytes replaced) when the bytes are UTF-8, else the HTTP header's
    charset, a BOM, <meta charset>, or detection."""
    head = body[:4096]
    if head.count(b"\x00") > MAX_NUL_SHARE * len(head) and not body.startswith(_UTF16_BOMS):
        raise NotDecodable("binary content (NUL bytes)")
    text, encoding, notes = _decode(body, content_type)
    if nuls := text.count("\x00"):
        text = text.replace("\x00", "")
        notes.append(Note(f"{nuls} NUL character{'s' if nuls > 1 else ''} removed"))
    return Decoded(text, encoding, notes)


def _decode(body: bytes, content_type: str | None) -> Decoded:
    # UTF-8 identifies itself: bytes that read as UTF-8 are UTF-8 whatever the header says.
    if not body.startswith(_UTF16_BOMS) and (utf8 := _utf8(body)):
        return utf8
    declared = _declared_charset(content_type)
    if declared:
        try:
            return Decoded(body.decode(declared), declared, [])
        except UnicodeDecodeError:
            pass
    # After a declared charset and <meta charset>, Swedish pages are Windows-1252 far more often than
    # anything a statistical detector guesses (it mistakes 'å' for Central European encodings).
    dammit = UnicodeDammit(body, user_encodings=["windows-1252", "latin-1"], is_html=looks_like_html(body))
    if dammit.unicode_markup is None:
        raise NotDecodable("no text encoding fits the bytes")
    text = dammit.unicode_markup
    if _control_share(text) > 0.02:
        raise NotDecodable("binary content (control characters)")
    return Decoded(text, dammit.original_encoding or "unknown", [])


def _utf8(body: bytes) -> Decoded | None:
    """The bytes as UTF-8 if they are, or are but for a few invalid sequences (then replaced, with a note)."""
    try:
        return Decoded(body.decode("utf-8-sig"), "utf-8", [])
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8-sig", "replace")
    bad = text.count("\ufffd") - body.count("\ufffd".encode())
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if non_ascii - bad < UTF8_VALID_PER_INVALID * bad:
        return None
    first = text.find("\ufffd")
    line_start = text.rfind("\n", 0, first) + 1
    where = clean_line(text[max(line_start, first - 40):first + 40].split("\n")[0])
    reason = f"{bad} invalid UTF-8 byte sequence{'s' if bad > 1 else ''} replaced"
    return Decoded(text, "utf-8", [Note(reason, where)])


def _declared_charset(content_type: str | None) -> str | None:
    """The charset a Content-Type header names, if Python knows it."""
    m = re.search(r"charset=[\"']?([\w.:-]+)", content_type or "", re.I)
    if not m:
        return None
    try:
        return codecs.lookup(m.group(1)).name
    except LookupError:
        return None


def _control_share(text: str) -> float:
    sample = text[:8192]
    if not sample:
        return 0.0
    bad = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in "\r\n\t\f")
    return bad / len(sample)


def looks_like_html(body: bytes) -> bool:
    return bool(_HTML_SNIFF.search(body[:4096]))


def text_to_lines(text: str) -> list[str]:
    """A text dump: one line per line, bullets as '• item', blank lines dropped."""
    lines = []
    for raw in text.splitlines():
        line = clean_line(raw)
        if not line:
            continue
        if _TEXT_BULLET.match(line):
            line = f"{BULLET} {_TEXT_BULLET.sub('', line)}"
        lines.append(line)
    return lines


def html_to_page_text(html: str) -> PageText:
    """Render HTML to lines: blocks and <br> break lines, inline elements join, <li> gives bullets."""
    # huge_tree: libxml2 stops at 256 nested elements without it (2,048 with it) and drops the rest.
    parser = lxml.html.HTMLParser(huge_tree=True)
    try:
        root = lxml.html.document_fromstring(html, parser=parser)
    except (etree.ParserError, ValueError):
        return PageText(lines=[], is_html=True, complete=False)
    notes = [Note("HTML nested too deep for the parser: the rest of the page is lost",
                  f"line {e.line}, column {e.column}", "error", "parse")
             for e in parser.error_log if e.type_name == "ERR_RESOURCE_LIMIT"][:1]
    canonical = None
    for link in root.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            canonical = link.get("href").strip()
            break
    body = _main_content(root)
    headings = [clean_line(h.text_content()) for h in body.iter("h1")]
    out: list[str] = []
    current: list[str] = [body.text] if body.text else []
    _render(body, out, current)
    _flush(out, current)
    complete = bool(re.search(r"</html\s*>\s*$", html[-2048:], re.I))
    return PageText(lines=out, is_html=True, canonical_url=canonical,
                    headings=[h for h in headings if h], complete=complete, notes=notes)


def html_fragment_lines(html: str) -> list[str]:
    """An HTML fragment (a summary cell of an official list) → its text lines, rendered as a page's body is.
    lxml.etree's parser without the page's extras (lookup classes, <main>, canonical link): a list has 200,000."""
    root = etree.HTML(f"<html><body>{html}</body></html>")
    body = root.find("body") if root is not None else None
    if body is None:
        return []
    out: list[str] = []
    current: list[str] = [body.text] if body.text else []
    _render(body, out, current)
    _flush(out, current)
    return out


def _main_content(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """The page's <main> (or role=main) when it has one, else <body>."""
    for el in root.iter("main"):
        return el
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("role") == "main":
            return el
    body = root.find("body")
    return body if body is not None else root


def _render(root: Any, out: list[str], current: list[str]) -> None:
    """Depth first over root's descendants with a stack of open elements: pages nest deeper than
    Python's recursion limit."""
    stack = [(root, iter(root))]
    while stack:
        parent, children = stack[-1]
        child = next(children, None)
        if child is None:  # parent is done
            stack.pop()
            if stack and parent.tag in BLOCK_TAGS:
                _flush(out, current)
            if stack and parent.tail:
                current.append(parent.tail)
            continue
        tag = child.tag if isinstance(child.tag, str) else None
        if tag == "br":
            _flush(out, current)
        if tag is None or tag in DROP_TAGS or tag in ("head", "br"):  # comments, scripts, chrome; <br> is empty
            if child.tail:
                current.append(child.tail)
            continue
        if tag in BLOCK_TAGS:
            _flush(out, current)
            if tag == "li":
                current.append(BULLET + " ")
        if child.text:
            current.append(child.text)
        stack.append((child, iter(child)))


def _flush(out: list[str], current: list[str]) -> None:
    if not current:
        return
    line = clean_line("".join(current))
    current.clear()
    if line and line != BULLET:
        out.append(line)


def page_text(body: bytes, content_type: str | None = None) -> PageText:
    """Bytes of a page (HTML or a text dump) → PageText."""
    text, encoding, notes = decode(body, content_type)
    is_html = (content_type or "").lower().startswith(("text/html", "application/xhtml")) or looks_like_html(body)
    if is_html:
        page = html_to_page_text(text)
    else:
        page = PageText(lines=text_to_lines(text), is_html=False)
    page.encoding = encoding
    page.notes = notes + page.notes
    return page
