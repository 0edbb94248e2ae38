"""A local copy of the project bank on 127.0.0.1, built from demo.generator, with switchable faults.

`with DemoSite(1000, faults=Faults(server_error_share=0.05)) as site: crawl(site.url)`;
`python -m demo.site --pages 1000 --port 8000` serves one to browse.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import html
import math
import random
import socket
import socketserver
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape as xml_escape

from demo.faults import Faults, RequestRecord
from demo.generator import CANONICAL_ORIGIN, SyntheticPage, page

__all__ = ["DemoSite", "Faults", "RequestRecord"]

BASE_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)  # lastmod of every page at version 0
CHANGED_SHARE = 0.01          # passed to generator.page; DemoSite.lastmod mirrors its rule
SITEMAP_SIZE = 1000           # <url> entries per child sitemap
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
LISTING = "/resultat/projektbanken/"
OLD_PREFIX = "/gammal"
ALIAS_PREFIX = "/sv/Resultat"  # template B pages also answer without it: a second address for one page
OTHER_PAGES = {"/om-oss/": "Om oss", "/nyheter/": "Nyheter"}
LOOP = {"/loop/a/": "/loop/b/", "/loop/b/": "/loop/a/"}
OFFSITE = ("https://example.org/elsewhere/",
           "https://projektbanken.example.org/resultat/projektbanken/projekt/?dnr=2020/99999")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host."""
        socketserver.TCPServer.server_bind(self)
        host, self.server_port = self.server_address[:2]
        self.server_name = str(host)

    def handle_error(self, request, client_address) -> None:
        """Stay quiet when a client goes away mid-answer."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class DemoSite:
    """The project bank on 127.0.0.1: listings, sitemaps, robots.txt and n project pages."""

    def __init__(self, n_pages: int, seed: int = 0, version: int = 0, faults: Faults | None = None,
                 per_listing_page: int = 50, port: int = 0) -> None:
        self.n_pages, self.seed, self.version = n_pages, seed, version
        self.faults, self.per_listing_page, self.port, self.url = faults or Faults(), per_listing_page, port, ""
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._connections: set[socket.socket] = set()
        self._paths: dict[str, int] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._page = functools.lru_cache(maxsize=1024)(self._make_page)  # pages are ~40 kB each
        # what a listing shows of a page: a few words, kept for every page (as a site's CMS keeps its listings),
        # so a night's listing is not 10,000 pages rendered again (9 ms a listing page, most of a quiet night)
        self._entry = functools.lru_cache(maxsize=None)(self._make_entry)

    def start(self) -> DemoSite:
        """Build the path map, bind 127.0.0.1 and serve in a background thread."""
        self._paths = {page(i, self.seed).path: i for i in range(self.n_pages)}  # paths never change
        handler = type("Handler", (_Handler,), {"site": self})
        self._server = _Server(("127.0.0.1", self.port), handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._page.cache_clear()  # pages name themselves (canonical link) on this origin from now on
        self._entry.cache_clear()
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Start and block until Ctrl-C."""
        self.start()
        print(f"Serving {self.n_pages} pages at {self.url}{LISTING} (Ctrl-C to stop)", flush=True)
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        self.stop()

    def set_version(self, version: int) -> None:
        """Serve the pages as of `version` from now on."""
        self.version = version

    def add_pages(self, count: int) -> range:
        """Publish `count` new project pages after the last one, as the site does between nights: from now
        on they are listed, in the sitemaps and served. Returns their indices."""
        new = range(self.n_pages, self.n_pages + count)
        if self._server is not None:  # before start(), start() maps every path
            added = {page(i, self.seed).path: i for i in new}
            with self._lock:
                self._paths = {**self._paths, **added}
        self.n_pages = new.stop
        return new

    def clear_log(self) -> None:
        """Empty the request log (fault counters per path are kept)."""
        with self._lock:
            self.requests.clear()

    def _make_page(self, index: int, version: int) -> SyntheticPage:
        """The generator's page, naming itself on this site's origin, as esf.se's pages do on theirs."""
        return page(index, self.seed, version, changed_share=CHANGED_SHARE, origin=self.url or CANONICAL_ORIGIN)

    def _make_entry(self, index: int, changed_in: int) -> tuple[str, str, str]:
        p = self._page(index, changed_in)
        return p.path, p.title, p.listing_entry

    def current(self, index: int, version: int | None = None) -> SyntheticPage:
        """Page `index` as of `version` (default: the current one)."""
        return self._page(index, self.changed_in(index, version))

    def listing_entry(self, index: int) -> tuple[str, str, str]:
        """(path, title, listing entry) of page `index` as of the current version."""
        return self._entry(index, self.changed_in(index))

    def changed_in(self, index: int, version: int | None = None) -> int:
        """The version that changed page `index`, as of `version` (0: unchanged). A page changes once, so its
        page as of `version` is its page as of this version (generator.page's rule, without rendering)."""
        version = self.version if version is None else version
        r = random.Random(f"{self.seed}:{index}:changed").random()
        versions = range(1, min(version, round(1 / CHANGED_SHARE)) + 1)  # by 1/share, every page has changed
        return next((v for v in versions if r < CHANGED_SHARE * v), 0)

    def lastmod(self, index: int, version: int | None = None) -> datetime:
        """When page `index` last changed as of `version`: BASE_DATE plus the version that changed it, in days."""
        return BASE_DATE + timedelta(days=self.changed_in(index, version))

    def listed_path(self, index: int, path: str) -> str:
        """The path the listing links for a page: the old path for redirected pages, the short one for aliases."""
        if self.faults.hits(index, "redirect", self.faults.redirect_share):
            return OLD_PREFIX + path
        if path.startswith(ALIAS_PREFIX + "/") and self.faults.hits(index, "alias", self.faults.alias_share):
            return path.removeprefix(ALIAS_PREFIX)
        return path

    def listing_pages(self) -> int:
        return max(1, math.ceil(self.n_pages / self.per_listing_page))

    def listing(self, number: int) -> str:
        """Listing page `number` (1-based) as HTML."""
        e = html.escape
        first = (number - 1) * self.per_listing_page
        items = "".join(
            f'<li class="project"><a href="{e(self.listed_path(i, path))}">{e(title)}</a>'
            f'<span class="summary">{e(entry)}</span></li>'
            for i in range(first, min(first + self.per_listing_page, self.n_pages))
            for path, title, entry in [self.listing_entry(i)] if i not in self.faults.unlisted)
        extra = ""
        if number == 1 and self.faults.offsite_link:
            extra += "".join(f'<li><a href="{e(u)}">Extern länk</a></li>' for u in OFFSITE)
        if number == 1 and self.faults.redirect_loop:
            extra += '<li><a href="/loop/a/">Arkiv</a></li>'
        nxt = f"{LISTING}?sida={number + 1}" if number < self.listing_pages() else None
        head = f'<link rel="next" href="{nxt}">' if nxt else ""
        foot = f'<a class="next" href="{nxt}">Nästa</a>' if nxt else ""
        nav = "".join(f'<a href="{p}">{t}</a> ' for p, t in OTHER_PAGES.items())
        return (f'<!DOCTYPE html>\n<html lang="sv"><head><meta charset="utf-8"><title>Projektbanken – sida {number}'
                f"</title>{head}</head><body><nav>{nav}</nav><main><h1>Projektbanken</h1>"
                f'<ul class="projects">{items}</ul><ul class="other">{extra}</ul>{foot}</main></body></html>\n')

    def sitemap_entries(self) -> list[tuple[str, int]]:
        """(path, index) of every page the sitemaps list: all but the gone ones."""
        return [(p, i) for p, i in self._paths.items() if i not in self.faults.gone | self.faults.unlisted]

    def sitemap_index(self) -> str:
        """The sitemap index pointing at /sitemap-1.xml, /sitemap-2.xml, ..."""
        count = max(1, math.ceil(len(self.sitemap_entries()) / SITEMAP_SIZE))
        return _xml("sitemapindex", "".join(f"<sitemap><loc>{self.url}/sitemap-{k}.xml</loc></sitemap>"
                                            for k in range(1, count + 1)))

    def sitemap(self, number: int) -> str | None:
        """Child sitemap `number` (1-based), or None when there is no such sitemap."""
        entries = self.sitemap_entries()
        chunk = entries[(number - 1) * SITEMAP_SIZE:number * SITEMAP_SIZE]
        if number < 1 or (not chunk and number != 1):
            return None
        items = "".join(f"<url><loc>{xml_escape(self.url + p)}</loc><lastmod>{self.lastmod(i).date()}</lastmod></url>"
                        for p, i in chunk)
        return _xml("urlset", items)

    def _count(self, path: str) -> int:
        """Count a request for `path`; return its number (1 for the first)."""
        with self._lock:
            self._counts[path] = self._counts.get(path, 0) + 1
            return self._counts[path]

    def _log(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _track(self, conn: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._connections.add if open_ else self._connections.discard)(conn)


class _Handler(BaseHTTPRequestHandler):
    """Routes one request; `site` is set on a per-site subclass."""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stall
    site: DemoSite

    def setup(self) -> None:
        super().setup()
        self.site._track(self.connection, True)

    def finish(self) -> None:
        self.site._track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args) -> None:
        """Quiet."""

    def _handle(self) -> None:
        """Answer the request; it is logged before any byte of the answer goes out."""
        self._arrived, self._logged = time.monotonic(), False
        try:
            if self.site.faults.down:
                self.close_connection = True
            else:
                self._route(unquote(self.path))
        finally:
            if not self._logged:  # closed without a response (or failed before answering)
                self._record(0, 0)

    do_GET = do_HEAD = _handle

    def _record(self, status: int, sent: int) -> None:
        self._logged = True
        self.site._log(RequestRecord(self._arrived, self.command, self.path, status, dict(self.headers), sent))

    def _route(self, path: str) -> None:
        site = self.site
        parts = urlsplit(path)
        if path == "/robots.txt":
            return self._send(200, site.faults.robots, "text/plain; charset=utf-8")
        if path == "/sitemap.xml":
            return self._send(200, site.sitemap_index(), "application/xml; charset=utf-8")
        if parts.path.startswith("/sitemap-") and parts.path.endswith(".xml") and not parts.query:
            number = parts.path[len("/sitemap-"):-len(".xml")]
            body = site.sitemap(int(number)) if number.isdigit() else None
            return self._send(200, body, "application/xml; charset=utf-8") if body else self._send(404)
        if parts.path == LISTING:
            return self._listing(parts.query)
        if path in OTHER_PAGES:
            return self._send(200, _small_page(OTHER_PAGES[path]))
        if path in LOOP and site.faults.redirect_loop:
            return self._send(302, _small_page("Flyttad"), headers={"Location": site.url + LOOP[path]})
        if path in site._paths:
            return self._project(path, site._paths[path])
        old = path.removeprefix(OLD_PREFIX)
        if old != path and old in site._paths and site.listed_path(site._paths[old], old) == path:
            return self._send(301, _small_page("Flyttad"), headers={"Location": site.url + old})
        full = ALIAS_PREFIX + path
        if full in site._paths and site.listed_path(site._paths[full], full) == path:
            return self._project(full, site._paths[full])
        self._send(404)

    def _listing(self, query: str) -> None:
        """Listing page 1 (no query) or ?sida=N."""
        args = parse_qs(query)
        number = args.get("sida", ["1"])[-1] if set(args) <= {"sida"} else ""
        if not number.isdigit() or not 1 <= int(number) <= self.site.listing_pages():
            return self._send(404)
        self._send(200, self.site.listing(int(number)))

    def _project(self, path: str, index: int) -> None:
        """A project page, with its faults and conditional answers."""
        site, faults = self.site, self.site.faults
        number = site._count(path)
        if faults.hits(index, "slow", faults.slow_share):
            time.sleep(faults.slow_seconds)
        if index in faults.gone:
            return self._send(410 if index % 2 == 0 else 404)
        steps = faults.schedule(index)
        step = steps[number - 1] if number <= len(steps) else None
        if step == "drop":
            self.close_connection = True
            return
        if step == 429:
            return self._send(429, _small_page("För många förfrågningar"),
                              headers={"Retry-After": faults.retry_after})
        if isinstance(step, int):
            return self._send(step)
        version = site.version  # one version for the whole answer, whatever set_version does meanwhile
        current, lastmod = site.current(index, version), site.lastmod(index, version)
        validators = {"ETag": current.etag, "Last-Modified": format_datetime(lastmod, usegmt=True)}
        if step != "truncate" and self._not_modified(current.etag, lastmod):
            return self._send(304, headers=validators)
        # the page names itself on this host, as esf.se's pages do on theirs
        body = current.html.replace(f"href='{CANONICAL_ORIGIN}/", f"href='{site.url}/", 1).encode("utf-8")
        if step == "truncate":
            return self._send(200, body[:len(body) // 2], headers=validators, length=len(body))
        self._send(200, body, headers=validators)

    def _not_modified(self, etag: str, lastmod: datetime) -> bool:
        """If-None-Match (which wins when present), else If-Modified-Since."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            return "*" in tags or etag in tags
        try:
            since = parsedate_to_datetime(self.headers.get("If-Modified-Since", ""))
        except (TypeError, ValueError):
            return False
        return since is not None and since.tzinfo is not None and lastmod <= since

    def _send(self, status: int, body: str | bytes | None = None, content_type: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None, length: int | None = None) -> None:
        """Send a whole answer; with `length` larger than the body, send the body and close (a truncation)."""
        if body is None and status != 304:
            body = _small_page(f"{status} {self.responses.get(status, ('',))[0]}")
        data = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        with_body = self.command != "HEAD" and status != 304
        self._record(status, len(data) if with_body else 0)
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data) if length is None else length))
        if length is not None and length != len(data):
            self.close_connection = True
        self.end_headers()
        if with_body:
            self.wfile.write(data)


def _xml(root: str, items: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{SITEMAP_NS}">{items}</{root}>\n'


def _small_page(title: str) -> str:
    t = html.escape(title)
    return (f'<!DOCTYPE html>\n<html lang="sv"><head><meta charset="utf-8"><title>{t}</title></head>'
            f'<body><h1>{t}</h1><p><a href="{LISTING}">Projektbanken</a></p></body></html>\n')


def main(argv: list[str] | None = None) -> None:
    """CLI: serve a demo site until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("pages", 1000), ("seed", 0), ("version", 0), ("port", 8000)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args(argv)
    DemoSite(args.pages, seed=args.seed, version=args.version, port=args.port).serve_forever()


if __name__ == "__main__":
    main()
