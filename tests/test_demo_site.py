"""The local demo site (demo/site.py): routes, sitemaps, listings, conditional requests, versions and each fault.

Every test starts its own DemoSite on 127.0.0.1 with an OS-chosen port; nothing here touches the internet.
"""
from __future__ import annotations

import http.client
import random
import sys
import time
import xml.etree.ElementTree as ET
from email.utils import format_datetime, parsedate_to_datetime

import pytest
import requests
from bs4 import BeautifulSoup

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from demo.generator import page  # noqa: E402
from demo.site import DemoSite, Faults, RequestRecord  # noqa: E402
from transform import parse_page  # noqa: E402

NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
LISTING = "/resultat/projektbanken/"


def get(site: DemoSite, path: str, **kw) -> requests.Response:
    return requests.get(site.url + path, timeout=10, **kw)


def sitemap_urls(site: DemoSite) -> dict[str, str]:
    """loc → lastmod over every child sitemap the index points at."""
    index = ET.fromstring(get(site, "/sitemap.xml").content)
    assert index.tag == f"{{{NS['sm']}}}sitemapindex"
    out: dict[str, str] = {}
    for loc in index.findall("sm:sitemap/sm:loc", NS):
        assert loc.text.startswith(site.url + "/sitemap-")
        child = ET.fromstring(requests.get(loc.text, timeout=10).content)
        entries = child.findall("sm:url", NS)
        assert len(entries) <= 1000
        out.update({u.findtext("sm:loc", namespaces=NS): u.findtext("sm:lastmod", namespaces=NS) for u in entries})
    return out


def crawl_listing(site: DemoSite) -> list[BeautifulSoup]:
    """Every listing page, following rel=next from the first."""
    soups, url = [], site.url + LISTING
    while url:
        soup = BeautifulSoup(requests.get(url, timeout=10).text, "html.parser")
        soups.append(soup)
        nxt = soup.find("link", rel="next")
        assert (nxt is None) == (soup.find("a", class_="next") is None)
        url = site.url + nxt["href"] if nxt else None
        assert len(soups) < 100
    return soups


def listed_hrefs(site: DemoSite) -> list[str]:
    return [a["href"] for soup in crawl_listing(site) for a in soup.select("li.project > a")]


# --- routes -------------------------------------------------------------------------------------

def test_robots_default_and_custom():
    with DemoSite(5) as site:
        r = get(site, "/robots.txt")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
        assert r.text == "User-agent: *\nAllow: /\n"
    robots = "User-agent: *\nDisallow: /\nCrawl-delay: 2\n"
    with DemoSite(5, faults=Faults(robots=robots)) as site:
        assert get(site, "/robots.txt").text == robots


def test_sitemaps_list_every_page_but_the_gone_ones():
    gone = frozenset({3, 4})
    with DemoSite(30, faults=Faults(gone=gone)) as site:
        assert site.url.startswith("http://127.0.0.1:")
        urls = sitemap_urls(site)
        assert set(urls) == {site.url + page(i).path for i in range(30) if i not in gone}
        assert set(urls.values()) == {"2026-01-01"}
        assert any("?dnr=" in u for u in urls)
        assert get(site, "/sitemap-2.xml").status_code == 404


def test_sitemap_index_splits_at_1000_urls():
    with DemoSite(2100) as site:
        index = ET.fromstring(get(site, "/sitemap.xml").content)
        assert [loc.text for loc in index.findall("sm:sitemap/sm:loc", NS)] == \
            [f"{site.url}/sitemap-{k}.xml" for k in (1, 2, 3)]
        assert len(sitemap_urls(site)) == 2100


def test_listing_pagination_reaches_every_page():
    with DemoSite(30, per_listing_page=7) as site:
        soups = crawl_listing(site)
        assert len(soups) == 5
        assert [a["href"] for s in soups for a in s.select("li.project > a")] == [page(i).path for i in range(30)]
        entry = soups[0].select_one("li.project")
        assert entry.a.text == page(0).title and entry.select_one("span.summary").text == page(0).listing_entry
        assert get(site, LISTING + "?sida=1").text == get(site, LISTING).text
        assert get(site, LISTING + "?sida=6").status_code == 404
        for link in ("/om-oss/", "/nyheter/"):
            assert soups[-1].find("a", href=link)
            assert get(site, link).status_code == 200
        assert get(site, "/finns-inte/").status_code == 404


@pytest.mark.parametrize("index", range(4))  # templates A, B, C and C+
def test_project_page_parses(index):
    with DemoSite(30) as site:
        expected = page(index, origin=site.url)
        url = site.url + expected.path
        r = requests.get(url, timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.headers["ETag"] == expected.etag
        assert parsedate_to_datetime(r.headers["Last-Modified"]).date().isoformat() == "2026-01-01"
        parsed = parse_page(r.content, url, url=url, content_type=r.headers["Content-Type"])
        assert parsed.ok, parsed.problems
        assert parsed.project["title"] == expected.title


def test_conditional_requests_and_head():
    with DemoSite(10) as site:
        path = page(2).path
        first = get(site, path)
        etag, lastmod = first.headers["ETag"], first.headers["Last-Modified"]
        r = get(site, path, headers={"If-None-Match": etag})
        assert r.status_code == 304 and r.content == b"" and r.headers["ETag"] == etag
        assert get(site, path, headers={"If-None-Match": '"other"'}).status_code == 200
        assert get(site, path, headers={"If-Modified-Since": lastmod}).status_code == 304
        earlier = format_datetime(parsedate_to_datetime(lastmod).replace(year=2025), usegmt=True)
        assert get(site, path, headers={"If-Modified-Since": earlier}).status_code == 200
        head = requests.head(site.url + path, timeout=10)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["Content-Length"] == first.headers["Content-Length"] == str(len(first.content))


def test_keep_alive_serves_several_requests_on_one_connection():
    with DemoSite(10) as site:
        conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
        paths = ["/robots.txt", page(0).path, "/nope/", LISTING]
        conn.connect()
        sock = conn.sock
        for path in paths:
            conn.request("GET", path)
            resp = conn.getresponse()
            assert resp.version == 11 and not resp.will_close
            assert len(resp.read()) == int(resp.getheader("Content-Length"))
            assert conn.sock is sock  # the same connection throughout
        conn.close()
        assert [r.path for r in site.requests] == paths  # logged before the answer went out: no race


def test_set_version_changes_some_pages_deterministically():
    n = 200
    with DemoSite(n) as site, requests.Session() as http:
        before = {i: http.get(site.url + page(i).path, timeout=10) for i in range(n)}
        site.set_version(3)
        after = {i: http.get(site.url + page(i).path, timeout=10) for i in range(n)}
        revalidated = {i: http.get(site.url + page(i).path, timeout=10,
                                   headers={"If-Modified-Since": before[i].headers["Last-Modified"]}).status_code
                       for i in range(n)}
        lastmods, url = sitemap_urls(site), site.url
        listing = {a["href"]: a.find_next_sibling("span").text
                   for soup in crawl_listing(site) for a in soup.select("li.project > a")}
    changed = {i for i in range(n) if before[i].headers["ETag"] != after[i].headers["ETag"]}
    assert changed == {i for i in range(n) if page(i, version=3, origin=url).etag != page(i, origin=url).etag}
    assert 0 < len(changed) < n
    for i in range(n):
        assert (before[i].content != after[i].content) == (i in changed)
        assert after[i].headers["ETag"] == page(i, version=3, origin=url).etag
        day = lastmods[site.url + page(i).path]
        assert (day > "2026-01-01") == (i in changed) and day <= "2026-01-04"
        assert parsedate_to_datetime(after[i].headers["Last-Modified"]).date().isoformat() == day
        assert listing[page(i).path] == page(i, version=3).listing_entry
        assert revalidated[i] == (200 if i in changed else 304)
    with DemoSite(n, version=3) as again:
        assert {i for i in range(n) if get(again, page(i).path).headers["ETag"] != page(i, origin=again.url).etag} \
            == changed


# --- faults -------------------------------------------------------------------------------------

def test_server_error_burst_then_success():
    with DemoSite(5, faults=Faults(server_error_share=1.0, server_error_burst=2)) as site:
        path = page(1).path
        codes = [get(site, path).status_code for _ in range(3)]
        assert codes[0] == codes[1] and codes[0] in {500, 502, 503, 504} and codes[2] == 200
        assert get(site, "/robots.txt").status_code == 200  # only page paths get faults


def test_fault_shares_pick_paths_deterministically():
    n = 40
    with DemoSite(n, faults=Faults(seed=7, server_error_share=0.5, server_error_burst=1)) as site:
        failing = {i for i in range(n) if get(site, page(i).path).status_code >= 500}
        assert all(get(site, page(i).path).status_code == 200 for i in range(n))
    assert failing == {i for i in range(n) if random.Random(f"7:{i}:server_error").random() < 0.5}
    assert 0 < len(failing) < n


@pytest.mark.parametrize("retry_after", ["1", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_rate_limit_sends_retry_after(retry_after):
    with DemoSite(5, faults=Faults(rate_limit_share=1.0, retry_after=retry_after)) as site:
        first = get(site, page(0).path)
        assert first.status_code == 429 and first.headers["Retry-After"] == retry_after
        assert get(site, page(0).path).status_code == 200


def test_slow_pages_answer_late():
    with DemoSite(5, faults=Faults(slow_share=1.0, slow_seconds=0.3)) as site:
        start = time.monotonic()
        assert get(site, page(0).path).status_code == 200
        assert time.monotonic() - start >= 0.3
        start = time.monotonic()
        get(site, "/robots.txt")
        assert time.monotonic() - start < 0.3


def test_dropped_connection_then_success():
    with DemoSite(5, faults=Faults(drop_share=1.0)) as site:
        with pytest.raises(requests.ConnectionError):
            get(site, page(0).path)
        assert get(site, page(0).path).status_code == 200
        assert [r.status for r in site.requests] == [0, 200]


def test_truncated_body_raises_chunked_encoding_error():
    with DemoSite(5, faults=Faults(truncate_share=1.0)) as site:
        path = page(0).path
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            get(site, path)
        full = get(site, path)
        assert full.status_code == 200 and len(full.content) == int(full.headers["Content-Length"])
        cut = site.requests[0]
        assert cut.status == 200 and cut.bytes_sent < len(full.content)


def test_redirect_from_old_path():
    with DemoSite(10, faults=Faults(redirect_share=1.0)) as site:
        hrefs = listed_hrefs(site)
        assert hrefs == ["/gammal" + page(i).path for i in range(10)]
        r = get(site, hrefs[2], allow_redirects=False)
        assert r.status_code == 301 and r.headers["Location"] == site.url + page(2).path
        followed = get(site, hrefs[2])
        assert followed.status_code == 200 and followed.url == site.url + page(2).path
        assert [h.status_code for h in followed.history] == [301]
        assert set(sitemap_urls(site)) == {site.url + page(i).path for i in range(10)}
    with DemoSite(10) as site:
        assert get(site, "/gammal" + page(2).path).status_code == 404


def test_second_address_serves_the_page_naming_its_canonical_url_on_this_host():
    with DemoSite(8, faults=Faults(alias_share=1.0)) as site:
        hrefs = listed_hrefs(site)
        b = [i for i in range(8) if page(i).template == "B"]
        assert b and all(hrefs[i] == page(i).path.removeprefix("/sv/Resultat") for i in b)
        assert all(hrefs[i] == page(i).path for i in range(8) if i not in b)  # only template B has two
        short, full = get(site, hrefs[b[0]]), get(site, page(b[0]).path)
        assert short.status_code == 200 and not short.history and short.content == full.content
        assert f"<link rel='canonical' href='{site.url}{page(b[0]).path}'>" in short.text
    with DemoSite(8) as site:
        assert get(site, page(1).path.removeprefix("/sv/Resultat")).status_code == 404


def test_redirect_loop():
    with DemoSite(5, faults=Faults(redirect_loop=True)) as site:
        assert crawl_listing(site)[0].find("a", href="/loop/a/")
        assert get(site, "/loop/a/", allow_redirects=False).headers["Location"] == site.url + "/loop/b/"
        with pytest.raises(requests.TooManyRedirects):
            get(site, "/loop/a/")
    with DemoSite(5) as site:
        assert get(site, "/loop/a/").status_code == 404


def test_offsite_links_on_first_listing_page():
    with DemoSite(5, faults=Faults(offsite_link=True)) as site:
        hrefs = [a["href"] for a in crawl_listing(site)[0].find_all("a")]
        assert "https://example.org/elsewhere/" in hrefs
        assert any(h.startswith("https://") and "/projekt/?dnr=" in h for h in hrefs)


def test_gone_pages_are_listed_but_answer_410_or_404():
    with DemoSite(10, faults=Faults(gone=frozenset({2, 3}))) as site:
        assert listed_hrefs(site) == [page(i).path for i in range(10)]
        assert get(site, page(2).path).status_code == 410
        assert get(site, page(3).path).status_code == 404
        assert get(site, page(4).path).status_code == 200


def test_down_site_closes_every_connection():
    with DemoSite(5, faults=Faults(down=True)) as site:
        for path in ("/robots.txt", "/sitemap.xml", page(0).path):
            with pytest.raises(requests.ConnectionError):
                get(site, path)


def test_stop_closes_the_port():
    site = DemoSite(5).start()
    url = site.url
    site.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/robots.txt", timeout=5)


# --- request log --------------------------------------------------------------------------------

def test_request_log_records_method_path_status_and_time():
    with DemoSite(5, faults=Faults(gone=frozenset({1}))) as site:
        t0 = time.monotonic()
        get(site, "/robots.txt", headers={"User-Agent": "esf-test"})
        requests.head(site.url + page(0).path, timeout=10)
        get(site, page(1).path)
        log = list(site.requests)
        assert [(r.method, r.path, r.status) for r in log] == [
            ("GET", "/robots.txt", 200), ("HEAD", page(0).path, 200), ("GET", page(1).path, 404)]
        assert all(isinstance(r, RequestRecord) for r in log)
        assert t0 <= log[0].time <= log[1].time <= log[2].time <= time.monotonic()
        assert log[0].headers["User-Agent"] == "esf-test"
        assert log[0].bytes_sent == len("User-agent: *\nAllow: /\n") and log[1].bytes_sent == 0
        site.clear_log()
        assert site.requests == []


def test_a_page_as_of_any_version_is_the_generators_page_of_that_version():
    """The site keeps one rendering per page and version that changed it (a page changes once); what it serves
    must be what the generator makes for the version asked, and its listings must show the same."""
    from demo.site import CHANGED_SHARE
    with DemoSite(300, seed=5) as site:
        for version in (0, 1, 2, 7):
            site.set_version(version)
            for i in range(0, 300, 7):
                expected = page(i, 5, version, changed_share=CHANGED_SHARE, origin=site.url)
                assert site.current(i).html == expected.html, (i, version)
                assert site.listing_entry(i) == (expected.path, expected.title, expected.listing_entry)
        changed = sum(site.changed_in(i) > 0 for i in range(300))
        assert 0 < changed < 300  # some pages changed by version 7, not all
