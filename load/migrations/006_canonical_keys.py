"""Web pages stored before migration 005 are keyed by the URL a listing gave; re-key them by the
canonical URL their latest stored body names, as new fetches are.

Frozen: the rule is this migration's own copy of extract.discover.page_key as it stood then, so an old
file upgrades the same way whatever later releases do to the crawler."""
from __future__ import annotations

import html
import re
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

import duckdb
import pandas as pd

TABLES = ("raw_pages", "crawl_state", "projects", "project_versions")  # rejects/warnings keep what they said


PROJECT_URL = re.compile(
    r"/Projektbanken/Behallare-for-projekt/[^/]+/[^/]+/?$"
    r"|/Projektbanken-2014-2020/Alla-Projekt/[^/]+/?$"
    r"|/resultat/projektbanken/projekt/\?dnr=[\w/-]+$", re.I)
HEAD_BYTES = 256 * 1024
_HEAD_END = re.compile(rb"</head\s*>|<body[\s>]", re.I)
_LINK_TAG = re.compile(rb"<link\b[^>]*>", re.I)
_ATTRIBUTE = re.compile(rb"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


def _normalize_url(url: str) -> str:
    url, _ = urldefrag(url)
    p = urlsplit(url)
    return urlunsplit((p.scheme.lower(), p.netloc.lower(), p.path or "/", p.query, ""))


def _is_project_url(url: str) -> bool:
    p = urlsplit(url)
    return bool(PROJECT_URL.search(p.path + (f"?{p.query}" if p.query else "")))


def _canonical_link(body: bytes, base_url: str) -> str | None:
    end = _HEAD_END.search(body, 0, HEAD_BYTES)
    head = body[:end.start() if end else HEAD_BYTES]
    for tag in _LINK_TAG.finditer(head):
        attrs = {m[1].lower(): m[2] or m[3] or m[4] or b"" for m in _ATTRIBUTE.finditer(tag[0])}
        if b"canonical" in attrs.get(b"rel", b"").lower().split() and attrs.get(b"href", b"").strip():
            return urljoin(base_url, html.unescape(attrs[b"href"].decode("utf-8", "replace")).strip())
    return None


def page_key(url: str, body: bytes) -> str:
    """The canonical URL when it names a project page on the host the page came from, else the URL."""
    canonical = _canonical_link(body, url)
    if canonical and urlsplit(canonical).netloc.lower() == urlsplit(url).netloc.lower() \
            and _is_project_url(canonical):
        return _normalize_url(canonical)
    return _normalize_url(url)


def upgrade(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("""SELECT source_key, arg_max(url, fetched_at), arg_max(body, fetched_at) FROM raw_pages
                          WHERE source_key LIKE 'http%' AND http_status = 200 GROUP BY source_key""")
    renamed: dict[str, str] = {}
    while batch := rows.fetchmany(500):
        for old, url, body in batch:
            new = page_key(url or old, bytes(body))
            if new != old:
                renamed[old] = new
    if not renamed:
        return
    con.register("rekey_df", pd.DataFrame({"old": list(renamed), "new": list(renamed.values())}))
    try:
        for table in TABLES:
            con.execute(f"UPDATE {table} SET source_key = k.new FROM rekey_df k WHERE {table}.source_key = k.old")
    finally:
        con.unregister("rekey_df")
