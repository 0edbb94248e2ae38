"""Find project pages on the web: from a sitemap (or sitemap index) or by walking listing pages."""
from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

import lxml.html

from extract.files import SourceError
from extract.polite import PoliteClient
from records.status import OK

# The three URL shapes of project pages on esf.se, one per template generation.
PROJECT_URL = re.compile(
    r"/Projektbanken/Behallare-for-projekt/[^/]+/[^/]+/?$"
    r"|/Projektbanken-2014-2020/Alla-Projekt/[^/]+/?$"
    r"|/resultat/projektbanken/projekt/\?dnr=[\w/-]+$", re.I)
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
MAX_LISTING_PAGES = 2000
MAX_SITEMAPS = 200
MAX_INFLATED_BYTES = 50 * 1024 * 1024  # the sitemap protocol's limit for one sitemap, uncompressed
MAX_SITEMAP_URLS = 50_000  # the sitemap protocol's limit of URLs in one sitemap: more are read, with a note
GZIP_MAGIC = b"\x1f\x8b"
HEAD_BYTES = 256 * 1024  # a <link rel="canonical"> is looked for in the head, within this many bytes
_HEAD_END = re.compile(rb"</head\s*>|<body[\s>]", re.I)
_LINK_TAG = re.compile(rb"<link\b[^>]*>", re.I)
_ATTRIBUTE = re.compile(rb"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


Progress = Callable[[int, int], None]  # (listing pages or sitemaps read, project pages found so far)


@dataclass(frozen=True)
class Found:
    url: str
    lastmod: str | None = None        # from a sitemap
    listing_entry: str | None = None  # what the listing shows for the project


@dataclass
class Discovery:
    pages: list[Found]
    skipped_links: list[str]          # off-host or not project links (first few, for the log)
    problems: list[str]               # listing/sitemap fetches that failed
    notes: list[str] = field(default_factory=list)  # what was read, but is worth saying (a sitemap past the limit)


def _normalized_parts(url: str) -> SplitResult:
    p = urlsplit(url)
    return SplitResult(p.scheme.lower(), p.netloc.lower(), p.path or "/", p.query, "")


def normalize_url(url: str) -> str:
    """The key form of a URL: no fragment, scheme and host lower-case."""
    return urlunsplit(_normalized_parts(url))


def _is_project(p: SplitResult) -> bool:
    return bool(PROJECT_URL.search(p.path + (f"?{p.query}" if p.query else "")))


def is_project_url(url: str) -> bool:
    return _is_project(urlsplit(url))


def canonical_link(body: bytes, base_url: str) -> str | None:
    """The absolute href of the page's <link rel="canonical">, or None. Reads the head only."""
    end = _HEAD_END.search(body, 0, HEAD_BYTES)
    head = body[:end.start() if end else HEAD_BYTES]
    for tag in _LINK_TAG.finditer(head):
        attrs = {m[1].lower(): m[2] or m[3] or m[4] or b"" for m in _ATTRIBUTE.finditer(tag[0])}
        if b"canonical" in attrs.get(b"rel", b"").lower().split() and attrs.get(b"href", b"").strip():
            return urljoin(base_url, html.unescape(attrs[b"href"].decode("utf-8", "replace")).strip())
    return None


def page_key(url: str, body: bytes) -> str:
    """A fetched page's key in the raw store: its canonical URL when that names a project page on the
    host it was fetched from (anything else is not trusted), else the URL it was fetched from."""
    canonical = canonical_link(body, url)
    if canonical and urlsplit(canonical).netloc.lower() == urlsplit(url).netloc.lower() \
            and is_project_url(canonical):
        return normalize_url(canonical)
    return normalize_url(url)


class _Unreadable(Exception):
    """A listing page or sitemap that cannot be read; the message says why."""


def discover(client: PoliteClient, start_url: str, on_progress: Progress | None = None) -> Discovery:
    """Sitemap, sitemap index or listing page: every project page it leads to, on the start host only.
    A start URL that cannot be read raises SourceError (a failed run, not an empty one); `on_progress` is
    called after each listing page or sitemap read."""
    try:
        body = _read(client, start_url)
    except _Unreadable as exc:
        raise SourceError(f"cannot read {start_url}: {exc}") from None
    if is_project_url(start_url):
        return Discovery([Found(normalize_url(start_url))], [], [])
    head = body[:512].lstrip()
    if head.startswith(b"<?xml") or b"<urlset" in head or b"<sitemapindex" in head:
        return _from_sitemaps(client, start_url, body, on_progress)
    return _from_listings(client, start_url, body, on_progress)


def _read(client: PoliteClient, url: str) -> bytes:
    """The body of a listing page or sitemap, inflated when it is gzip; _Unreadable when there is none."""
    page = client.fetch(url, max_bytes=max(client.settings.max_bytes, MAX_INFLATED_BYTES))
    if page.failed or page.http_status != OK:
        why = page.error or f"HTTP {page.http_status}"
        raise _Unreadable(why if page.url in (None, url) else f"{why} (at {page.url})")
    return gunzipped(page.body)


def gunzipped(body: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """`body` inflated when it is gzip (known by its magic bytes, whatever the URL), never past `limit` bytes."""
    parts, size = [], 0
    while body[:2] == GZIP_MAGIC:  # one gzip member after another, as gzip(1) reads them
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            part = inflater.decompress(body, limit - size + 1)
        except zlib.error as exc:
            raise _Unreadable(f"not valid gzip ({exc})") from None
        size += len(part)
        if size > limit:
            raise _Unreadable(f"gzip inflates past the {limit:,}-byte limit")
        if not inflater.eof:
            raise _Unreadable("truncated gzip")
        parts.append(part)
        body = inflater.unused_data
    return b"".join(parts) if parts else body


def _from_sitemaps(client: PoliteClient, url: str, body: bytes, on_progress: Progress | None) -> Discovery:
    found: dict[str, Found] = {}
    skipped: list[str] = []
    problems: list[str] = []
    notes: list[str] = []
    queue: list[tuple[str, bytes | None]] = [(url, body)]
    queued, tried, read = {url}, 0, 0
    while queue:
        if tried == MAX_SITEMAPS:
            problems.append(f"more than {MAX_SITEMAPS} sitemaps: {len(queue)} not read, from {queue[0][0]}")
            break
        url, queued_body = queue.pop(0)
        tried += 1
        try:
            root = ET.fromstring(queued_body if queued_body is not None else _read(client, url))
        except _Unreadable as exc:
            problems.append(f"{url}: {exc}")
            continue
        except ET.ParseError as exc:
            root = None
            problems.append(f"{url}: not a sitemap ({exc})")
        read += 1
        if root is not None and root.tag == f"{SITEMAP_NS}sitemapindex":
            for loc in root.iter(f"{SITEMAP_NS}loc"):
                child = (loc.text or "").strip()
                if child and client.same_host(child) and child not in queued:
                    queued.add(child)
                    queue.append((child, None))
        elif root is not None:
            urls = _sitemap_entries(client, root, found, skipped)
            if urls > MAX_SITEMAP_URLS:
                notes.append(f"{url} lists {urls:,} URLs, more than the sitemap protocol's {MAX_SITEMAP_URLS:,} "
                             "a sitemap: all were read")
        if on_progress:
            on_progress(read, len(found))
    return Discovery(list(found.values()), skipped, problems, notes)


def _sitemap_entries(client: PoliteClient, root: ET.Element, found: dict[str, Found], skipped: list[str]) -> int:
    """Add a urlset's project pages to `found`; → how many URLs it lists."""
    urls = 0
    for entry in root.iter(f"{SITEMAP_NS}url"):
        urls += 1
        loc = (entry.findtext(f"{SITEMAP_NS}loc") or "").strip()
        lastmod = (entry.findtext(f"{SITEMAP_NS}lastmod") or "").strip() or None
        if loc and client.same_host(loc) and is_project_url(loc):
            found[normalize_url(loc)] = Found(normalize_url(loc), lastmod=lastmod)
        elif loc and len(skipped) < 20:
            skipped.append(loc)
    return urls


def _from_listings(client: PoliteClient, start_url: str, body: bytes, on_progress: Progress | None) -> Discovery:
    found: dict[str, Found] = {}
    skipped: list[str] = []
    problems: list[str] = []
    url, visited = start_url, {normalize_url(start_url)}
    for read in range(1, MAX_LISTING_PAGES + 1):
        doc = lxml.html.document_fromstring(body or b"<html/>", base_url=url)
        _listing_links(client, doc, url, found, skipped)
        if on_progress:
            on_progress(read, len(found))
        next_url = _next_page(doc, url)
        if not next_url or normalize_url(next_url) in visited or not client.same_host(next_url):
            break
        if read == MAX_LISTING_PAGES:
            problems.append(f"more than {MAX_LISTING_PAGES} listing pages: {next_url} and later ones not read")
            break
        visited.add(normalize_url(next_url))
        try:
            body = _read(client, next_url)
        except _Unreadable as exc:
            problems.append(f"{next_url}: {exc}")
            break
        url = next_url
    return Discovery(list(found.values()), skipped, problems)


def _listing_links(client: PoliteClient, doc, url: str, found: dict[str, Found], skipped: list[str]) -> None:
    for a in doc.iter("a"):
        href = a.get("href")
        if not href:
            continue
        parts = _normalized_parts(urljoin(url, href))
        target = urlunsplit(parts)
        same_host = client.same_host(target)
        if not same_host or not _is_project(parts):
            if len(skipped) < 20 and not same_host:
                skipped.append(target)
            continue
        if target not in found:
            holder = a.getparent() if a.getparent() is not None else a
            entry = " ".join(holder.text_content().split())
            found[target] = Found(target, listing_entry=entry)


def _next_page(doc, base: str) -> str | None:
    for link in doc.iter("link", "a"):
        rel = (link.get("rel") or "").lower().split()
        text = " ".join((link.text_content() if link.tag == "a" else "").split()).lower()
        if link.get("href") and ("next" in rel or text in ("nästa", "nästa sida", "next")):
            return urljoin(base, link.get("href"))
    return None
