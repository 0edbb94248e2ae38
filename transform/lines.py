"""Page bytes → block-structured text lines, the same shape for HTML and text dumps."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import lxml.html
from bs4.dammit import UnicodeDammit
from lxml import etree

BULLET = "•"
_SPACES = re.compile(r"[ \t\u00a0\u2007\u202f\u2009\u200a\u3000\ufeff]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\u00ad]")
_TEXT_BULLET = re.compile(r"^(?:[•·▪●◦]|\*)\s*")
_HTML_SNIFF = re.compile(rb"<\s*(?:!doctype\s+html|html|head|body|div|p|h1|meta)\b", re.I)

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
class PageText:
    lines: list[str]
    is_html: bool
    canonical_url: str | None = None
    headings: list[str] = field(default_factory=list)  # h1 texts, in order
    encoding: str = "utf-8"
    complete: bool = True  # False when an HTML document ends without </html>


def clean_line(text: str) -> str:
    """NFC, no zero-width characters, every run of (no-break) spaces one space, trimmed."""
    text = unicodedata.normalize("NFC", _ZERO_WIDTH.sub("", text))
    return _SPACES.sub(" ", text).strip()


def decode(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Bytes → (text, encoding) from the HTTP header, a BOM, <meta charset>, or detection."""
    if b"\x00" in body[:4096] and not body.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NotDecodable("binary content (NUL bytes)")
    declared = []
    if content_type:
        m = re.search(r"charset=([\w.-]+)", content_type, re.I)
        if m:
            declared.append(m.group(1))
    try:
        return body.decode("utf-8-sig" if not declared else declared[0]), (declared or ["utf-8"])[0]
    except (UnicodeDecodeError, LookupError):
        pass
    # After a declared charset and <meta charset>, Swedish pages are Windows-1252 far more often than
    # anything a statistical detector guesses (it mistakes 'å' for Central European encodings).
    dammit = UnicodeDammit(body, known_definite_encodings=declared, user_encodings=["windows-1252", "latin-1"],
                           is_html=looks_like_html(body))
    if dammit.unicode_markup is None:
        raise NotDecodable("no text encoding fits the bytes")
    text = dammit.unicode_markup
    if _control_share(text) > 0.02:
        raise NotDecodable("binary content (control characters)")
    return text, dammit.original_encoding or "unknown"


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
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return PageText(lines=[], is_html=True, complete=False)
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
                    headings=[h for h in headings if h], complete=complete)


def _main_content(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """The page's <main> (or role=main) when it has one, else <body>."""
    for el in root.iter("main"):
        return el
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("role") == "main":
            return el
    body = root.find("body")
    return body if body is not None else root


def _render(el, out: list[str], current: list[str]) -> None:
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else None
        if tag is None or tag in DROP_TAGS or tag == "head":  # comments, scripts, chrome
            if child.tail:
                current.append(child.tail)
            continue
        if tag == "br":
            _flush(out, current)
        elif tag in BLOCK_TAGS:
            _flush(out, current)
            if tag == "li":
                current.append(BULLET + " ")
            if child.text:
                current.append(child.text)
            _render(child, out, current)
            _flush(out, current)
        else:
            if child.text:
                current.append(child.text)
            _render(child, out, current)
        if child.tail:
            current.append(child.tail)


def _flush(out: list[str], current: list[str]) -> None:
    if not current:
        return
    line = clean_line("".join(current))
    current.clear()
    if line and line != BULLET:
        out.append(line)


def page_text(body: bytes, content_type: str | None = None) -> PageText:
    """Bytes of a page (HTML or a text dump) → PageText."""
    text, encoding = decode(body, content_type)
    is_html = (content_type or "").lower().startswith(("text/html", "application/xhtml")) or looks_like_html(body)
    if is_html:
        page = html_to_page_text(text)
    else:
        page = PageText(lines=text_to_lines(text), is_html=False)
    page.encoding = encoding
    return page
