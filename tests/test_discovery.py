"""Discovery against a small site on 127.0.0.1: gzipped sitemaps, a start URL that fails, progress."""
from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from extract import discover as discover_module
from extract.discover import MAX_INFLATED_BYTES, _Unreadable, discover, gunzipped
from extract.files import SourceError
from extract.polite import Politeness, PoliteClient

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


class Site:
    """Fixed answers by path: {path: (status, body, headers)}; every request path is logged. '{origin}' in
    a str body or a header is this site's URL; a callable body is called with it."""

    def __init__(self, routes: dict[str, tuple[int, bytes, dict]]):
        self.routes = {"/robots.txt": (200, b"User-agent: *\nAllow: /\n", {}), **routes}
        self.hits: list[str] = []

    def __enter__(self) -> "Site":
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                site.hits.append(self.path)
                status, body, headers = site.routes.get(self.path, (404, b"saknas", {}))
                if isinstance(body, str):
                    body = body.replace("{origin}", site.url).encode()
                elif callable(body):
                    body = body(site.url)
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value.replace("{origin}", site.url))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def project(n: int) -> str:
    return f"/resultat/projektbanken/projekt/?dnr=2020/{n:05d}"


def urlset(*numbers: int) -> str:
    entries = "".join(f"<url><loc>{{origin}}{project(n)}</loc><lastmod>2026-02-0{n % 9 + 1}</lastmod></url>"
                      for n in numbers)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="{NS}">{entries}</urlset>'


def index(*paths: str) -> str:
    entries = "".join(f"<sitemap><loc>{{origin}}{p}</loc></sitemap>" for p in paths)
    return f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="{NS}">{entries}</sitemapindex>'


def packed(text: str):
    """`text` gzipped once the site's origin is known."""
    return lambda origin: gzip.compress(text.replace("{origin}", origin).encode())


def client(site: Site, **settings) -> PoliteClient:
    return PoliteClient(site.url + "/", Politeness(**{"delay_seconds": 0.0, "retries": 0,
                                                      "backoff_seconds": 0.01, **settings}))


def found(result) -> set[str]:
    return {f.url.split("dnr=")[1] for f in result.pages}


GZ = {"Content-Type": "application/gzip"}


# --- gzipped sitemaps -----------------------------------------------------------------------------
def test_gzipped_sitemap_is_read():
    with Site({"/sitemap.xml.gz": (200, packed(urlset(1, 2, 3)), GZ)}) as site:
        result = discover(client(site), site.url + "/sitemap.xml.gz")
    assert found(result) == {"2020/00001", "2020/00002", "2020/00003"} and result.problems == []
    assert {f.lastmod for f in result.pages} == {"2026-02-02", "2026-02-03", "2026-02-04"}


@pytest.mark.parametrize("path, body", [("/karta.xml", packed(urlset(4))),      # gzip under a plain name
                                        ("/karta.xml.gz", urlset(4))])          # plain XML under a .gz name
def test_gzip_is_known_by_its_magic_bytes_not_its_name(path, body):
    with Site({path: (200, body, {})}) as site:
        result = discover(client(site), site.url + path)
    assert found(result) == {"2020/00004"} and result.problems == []


@pytest.mark.parametrize("packed_index", [False, True], ids=["plain-index", "gzipped-index"])
def test_gzipped_children_of_a_sitemap_index(packed_index):
    text = index("/sitemap-1.xml.gz", "/sitemap-2.xml")
    routes = {"/sitemap.xml": (200, packed(text) if packed_index else text, {}),
              "/sitemap-1.xml.gz": (200, packed(urlset(1, 2)), GZ), "/sitemap-2.xml": (200, urlset(3), {})}
    with Site(routes) as site:
        result = discover(client(site), site.url + "/sitemap.xml")
    assert found(result) == {"2020/00001", "2020/00002", "2020/00003"} and result.problems == []


def test_a_gzip_that_inflates_past_the_cap_is_a_problem_not_a_crash():
    bomb = gzip.compress(b" " * (MAX_INFLATED_BYTES + 1024))  # about 50 kB that inflates to 50 MB
    routes = {"/sitemap.xml": (200, index("/bomb.xml.gz", "/sitemap-2.xml"), {}),
              "/bomb.xml.gz": (200, bomb, GZ), "/sitemap-2.xml": (200, urlset(7), {})}
    with Site(routes) as site:
        result = discover(client(site), site.url + "/sitemap.xml")
    assert found(result) == {"2020/00007"}
    assert result.problems == [f"{site.url}/bomb.xml.gz: gzip inflates past the 52,428,800-byte limit"]


def test_a_start_sitemap_past_the_cap_fails_discovery():
    bomb = gzip.compress(b" " * (MAX_INFLATED_BYTES + 1024))
    with Site({"/sitemap.xml.gz": (200, bomb, GZ)}) as site:
        with pytest.raises(SourceError, match="sitemap.xml.gz: gzip inflates past the 52,428,800-byte limit"):
            discover(client(site), site.url + "/sitemap.xml.gz")


def test_gunzipped_reads_every_member_and_refuses_broken_ones():
    assert gunzipped(b"<urlset/>") == b"<urlset/>"
    assert gunzipped(gzip.compress(b"<url") + gzip.compress(b"set/>")) == b"<urlset/>"
    assert gunzipped(gzip.compress(b"x" * 100), limit=100) == b"x" * 100
    with pytest.raises(_Unreadable, match="gzip inflates past the 99-byte limit"):
        gunzipped(gzip.compress(b"x" * 100), limit=99)
    with pytest.raises(_Unreadable, match="truncated gzip"):
        gunzipped(gzip.compress(urlset(1).encode())[:30])
    with pytest.raises(_Unreadable, match="not valid gzip"):
        gunzipped(b"\x1f\x8b" + b"inte gzip" * 10)


def test_a_sitemap_may_be_larger_than_a_page():
    big = urlset(*range(1, 40))  # about 4 kB
    with Site({"/sitemap.xml": (200, big, {}), project(1): (200, big, {})}) as site:
        c = client(site, max_bytes=1000)
        result = discover(c, site.url + "/sitemap.xml")
        page = c.fetch(site.url + project(1))
    assert len(result.pages) == 39 and result.problems == []
    assert page.error == "over the 1,000-byte size limit"


# --- a start URL that does not answer 200 ---------------------------------------------------------
@pytest.mark.parametrize("status", [404, 410, 500])
def test_a_start_url_that_fails_is_a_failed_run_not_an_empty_one(status):
    with Site({"/resultat/projektbanken/": (status, b"<html><body>borta</body></html>", {})}) as site:
        with pytest.raises(SourceError, match=rf"cannot read {site.url}/resultat/projektbanken/: HTTP {status}"):
            discover(client(site), site.url + "/resultat/projektbanken/")


def test_a_start_url_that_fails_after_retries_names_the_status():
    with Site({"/sitemap.xml": (503, b"upptagen", {})}) as site:
        with pytest.raises(SourceError, match=rf"cannot read {site.url}/sitemap.xml: HTTP 503 after 2 tries"):
            discover(client(site, retries=1), site.url + "/sitemap.xml")


def test_a_start_url_redirected_to_a_404_names_both():
    with Site({"/gammal/": (301, b"", {"Location": "{origin}/ny/"})}) as site:
        with pytest.raises(SourceError, match=rf"cannot read {site.url}/gammal/: HTTP 404 \(at {site.url}/ny/\)"):
            discover(client(site), site.url + "/gammal/")


def test_a_child_sitemap_that_is_gone_is_a_problem():
    routes = {"/sitemap.xml": (200, index("/sitemap-1.xml", "/sitemap-2.xml"), {}),
              "/sitemap-2.xml": (200, urlset(5), {})}
    with Site(routes) as site:
        result = discover(client(site), site.url + "/sitemap.xml")
    assert found(result) == {"2020/00005"}
    assert result.problems == [f"{site.url}/sitemap-1.xml: HTTP 404"]


def test_a_listing_page_that_is_gone_is_a_problem():
    first = f'<html><body><a href="{project(1)}">Ett</a><a rel="next" href="/lista?sida=2">Nästa</a></body></html>'
    with Site({"/lista": (200, first.encode(), {})}) as site:
        result = discover(client(site), site.url + "/lista")
    assert found(result) == {"2020/00001"}
    assert result.problems == [f"{site.url}/lista?sida=2: HTTP 404"]


def test_more_sitemaps_than_the_cap_is_a_problem(monkeypatch):
    monkeypatch.setattr(discover_module, "MAX_SITEMAPS", 3)
    routes = {"/sitemap.xml": (200, index("/s1.xml", "/s2.xml", "/s3.xml"), {}),
              **{f"/s{n}.xml": (200, urlset(n), {}) for n in (1, 2, 3)}}
    with Site(routes) as site:
        result = discover(client(site), site.url + "/sitemap.xml")
        assert "/s3.xml" not in site.hits
    assert found(result) == {"2020/00001", "2020/00002"}
    assert result.problems == [f"more than 3 sitemaps: 1 not read, from {site.url}/s3.xml"]


# --- progress -------------------------------------------------------------------------------------
def listing(page: int, last: int) -> bytes:
    links = "".join(f'<li><a href="{project(page * 10 + k)}">Projekt {k}</a></li>' for k in (1, 2))
    more = f'<a href="/lista?sida={page + 1}">Nästa</a>' if page < last else ""
    return f'<html><head><meta charset="utf-8"></head><body><ul>{links}</ul>{more}</body></html>'.encode()


def test_progress_after_each_listing_page():
    routes = {"/lista": (200, listing(1, 3), {}), "/lista?sida=2": (200, listing(2, 3), {}),
              "/lista?sida=3": (200, listing(3, 3), {})}
    calls = []
    with Site(routes) as site:
        result = discover(client(site), site.url + "/lista", on_progress=lambda *a: calls.append(a))
    assert len(result.pages) == 6
    assert calls == [(1, 2), (2, 4), (3, 6)]


def test_progress_after_each_sitemap():
    routes = {"/sitemap.xml": (200, index("/s1.xml.gz", "/s2.xml"), {}),
              "/s1.xml.gz": (200, packed(urlset(1, 2, 3)), GZ), "/s2.xml": (200, urlset(4), {})}
    calls = []
    with Site(routes) as site:
        discover(client(site), site.url + "/sitemap.xml", on_progress=lambda read, n: calls.append((read, n)))
    assert calls == [(1, 0), (2, 3), (3, 4)]


def test_discovery_without_a_progress_callback_prints_nothing(capsys):
    with Site({"/lista": (200, listing(1, 1), {})}) as site:
        discover(client(site), site.url + "/lista")
    assert capsys.readouterr() == ("", "")


# --- what a sitemap holds that the crawl does not read, said in the run's notes ---------------------
def test_pages_robots_txt_disallows_are_counted_in_a_note():
    from extract.sources import WebSource
    routes = {"/robots.txt": (200, b"User-agent: *\nDisallow: /*dnr=2020/00002\nDisallow: /*dnr=2020/00003\n", {}),
              "/sitemap.xml": (200, urlset(1, 2, 3, 4), {})}
    with Site(routes) as site:
        source = WebSource.crawl(site.url + "/sitemap.xml", Politeness(delay_seconds=0.0, retries=0))
    assert sorted(f.url.split("dnr=")[1] for f in source.found) == ["2020/00001", "2020/00004"]
    assert [n for n in source.notes if "robots.txt" in n] == [
        f"robots.txt of 127.0.0.1:{site.url.rsplit(':', 1)[1]} disallows 2 of the 4 project pages listed: "
        f"not fetched, not counted (e.g. {site.url}{project(2)})"]


def test_nothing_disallowed_means_no_robots_note():
    from extract.sources import WebSource
    with Site({"/sitemap.xml": (200, urlset(1, 2), {})}) as site:
        source = WebSource.crawl(site.url + "/sitemap.xml", Politeness(delay_seconds=0.0, retries=0))
    assert len(source.found) == 2 and not [n for n in source.notes if "robots.txt" in n]


def test_a_sitemap_over_the_protocol_s_50000_urls_is_read_with_a_note():
    numbers = range(1, discover_module.MAX_SITEMAP_URLS + 2)
    with Site({"/sitemap.xml": (200, urlset(*numbers), {})}) as site:
        result = discover(client(site), site.url + "/sitemap.xml")
    assert len(result.pages) == 50_001 and result.problems == []
    assert result.notes == [f"{site.url}/sitemap.xml lists 50,001 URLs, more than the sitemap protocol's 50,000 "
                            "a sitemap: all were read"]


def test_a_sitemap_at_the_limit_has_no_note(monkeypatch):
    monkeypatch.setattr(discover_module, "MAX_SITEMAP_URLS", 3)
    with Site({"/sitemap.xml": (200, urlset(1, 2, 3), {})}) as site:
        result = discover(client(site), site.url + "/sitemap.xml")
    assert len(result.pages) == 3 and result.notes == []
