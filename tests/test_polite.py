"""The polite client against a server on 127.0.0.1 that misbehaves on purpose, byte by byte: every fault is
one failed page with its own reason, never an exception; retries are logged; robots.txt as RFC 9309 reads it."""
from __future__ import annotations

import gzip
import logging
import re
import socket
import struct
import threading
import time
from typing import Callable

import pytest

from extract.polite import HostUnreachable, Politeness, PoliteClient

ALLOW_ALL = "User-agent: *\nAllow: /\n"
BODY = b"<html><body>" + b"projekt " * 500 + b"</body></html>"  # 4,026 bytes of synthetic words


class RawServer:
    """A 127.0.0.1 server whose answers the test writes to the socket itself; one request per connection."""

    def __init__(self, routes: dict[str, Callable], robots: str = ALLOW_ALL):
        self.routes = {"/robots.txt": answer(200, robots.encode()), **routes}
        self.hits: list[str] = []
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> "RawServer":
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop accepting (later connections are refused) and end every answer still being written."""
        self.stopping.set()
        self._accepting.join(5)
        self._listener.close()
        for thread in self._threads:
            thread.join(5)

    def count(self, path: str) -> int:
        return self.hits.count(path)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                part = conn.recv(4096)
                if not part:
                    return
                request += part
            path = request.split(b" ", 2)[1].decode()
            self.hits.append(path)
            try:
                self.routes.get(path, answer(404, b"saknas"))(conn, self)
            except OSError:  # the client went away
                pass


def head(conn: socket.socket, status: int, headers: dict[str, str]) -> None:
    lines = [f"HTTP/1.1 {status} X", "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())


def answer(status: int, body: bytes = b"", **headers: str) -> Callable:
    def route(conn, server):
        head(conn, status, {"Content-Length": str(len(body)), **{k.replace("_", "-"): v for k, v in headers.items()}})
        conn.sendall(body)
    return route


def in_turn(*routes: Callable) -> Callable:
    """The first request gets the first route, the second the second, ...; the last one repeats."""
    calls = []

    def route(conn, server):
        calls.append(1)
        routes[min(len(calls), len(routes)) - 1](conn, server)
    return route


def silent_after(sent: int, length: int | None) -> Callable:
    """`sent` bytes of a body of `length` (None: no Content-Length), then silence."""
    def route(conn, server):
        head(conn, 200, {} if length is None else {"Content-Length": str(length)})
        conn.sendall(b"x" * sent)
        server.stopping.wait(20)
    return route


def drip(length: int, every: float) -> Callable:
    def route(conn, server):
        head(conn, 200, {"Content-Length": str(length)})
        for _ in range(length):
            conn.sendall(b"x")
            if server.stopping.wait(every):
                return
    return route


def cut_short(body: bytes, sent: int, **headers: str) -> Callable:
    def route(conn, server):
        head(conn, 200, {"Content-Length": str(len(body)), **{k.replace("_", "-"): v for k, v in headers.items()}})
        conn.sendall(body[:sent])
    return route


def unsized(body: bytes) -> Callable:
    """No Content-Length: the body ends when the connection closes."""
    def route(conn, server):
        head(conn, 200, {})
        conn.sendall(body)
    return route


def chunked(body: bytes) -> Callable:
    def route(conn, server):
        head(conn, 200, {"Transfer-Encoding": "chunked"})
        for i in range(0, len(body), 1000):
            part = body[i:i + 1000]
            conn.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        conn.sendall(b"0\r\n\r\n")
    return route


def reset(conn, server) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST


def hang_up(conn, server) -> None:
    """Close without a byte of answer."""


def client(server: RawServer, sleeps: list | None = None, **settings) -> PoliteClient:
    settings = {"delay_seconds": 0.0, "backoff_seconds": 0.01, "retries": 0, "read_timeout": 2.0, **settings}
    sleep = sleeps.append if sleeps is not None else time.sleep
    return PoliteClient(server.url + "/", Politeness(**settings), sleep=sleep)


# --- per-page fault isolation ---------------------------------------------------------------------
def test_silence_mid_body_is_that_page_failing_not_an_exception():
    with RawServer({"/tyst": silent_after(100, 1000), "/bra": answer(200, BODY)}) as server:
        c = client(server, read_timeout=1.0, deadline_seconds=10)
        page = c.fetch(server.url + "/tyst")
        after = c.fetch(server.url + "/bra")
    assert page.failed and page.error == "read timed out" and page.body == b""
    assert not after.failed and after.body == BODY


def test_a_project_page_silence_is_not_waited_out_again_at_once_but_marked_for_later():
    """A timeout costs its whole wait: the run tries a project page once more after the night's other pages
    (service/reading.py), never at once (two slow pages cost 7 minutes when each had 4 tries)."""
    with RawServer({"/tyst": silent_after(10, 1000), "/fel": answer(503, b"upptagen")}) as server:
        c = client(server, sleeps=[], read_timeout=1.0, retries=3)
        page = c.fetch(server.url + "/tyst", timeout_later=True)
        busy = c.fetch(server.url + "/fel", timeout_later=True)
        assert server.count("/tyst") == 1 and server.count("/fel") == 4  # a quick fault is still retried
    assert page.error == "read timed out" and page.slow
    assert busy.error == "HTTP 503 after 4 tries" and not busy.slow


def test_a_listing_silence_is_tried_twice_at_most_and_once_after_a_failed_page():
    """Pages fetched for discovery (listings, sitemaps) have no later: a timeout gets one more try at once,
    unless the host failed the page before it too (then every try of an outage would cost a timeout twice)."""
    with RawServer({"/tyst": silent_after(10, 1000), "/tyst2": silent_after(10, 1000)}) as server:
        c = client(server, sleeps=[], read_timeout=0.5, retries=3)
        first, second = c.fetch(server.url + "/tyst"), c.fetch(server.url + "/tyst2")
        assert (server.count("/tyst"), server.count("/tyst2")) == (2, 1)
    assert first.error == "read timed out after 2 tries" and second.error == "read timed out"


def test_a_dripping_server_fails_at_the_deadline():
    with RawServer({"/droppar": drip(60, 0.1)}) as server:  # would take 6 s to finish
        started = time.monotonic()
        page = client(server, read_timeout=5.0, deadline_seconds=1.5).fetch(server.url + "/droppar")
        took = time.monotonic() - started
    assert page.failed and page.error == "no complete answer within 1.5 s"
    assert took < 5


@pytest.mark.parametrize("length", [1000, None], ids=["content-length", "until-close"])
def test_a_silence_longer_than_the_deadline_ends_at_the_deadline(length):
    with RawServer({"/tyst": silent_after(10, length)}) as server:
        page = client(server, read_timeout=30.0, deadline_seconds=1.5).fetch(server.url + "/tyst")
    assert page.error == "no complete answer within 1.5 s"


def test_default_deadline_is_a_minute():
    assert Politeness().deadline_seconds == 60


@pytest.mark.parametrize("route", [answer(200, BODY), unsized(BODY), chunked(BODY),
                                   answer(200, gzip.compress(BODY), Content_Encoding="gzip")],
                         ids=["content-length", "until-close", "chunked", "gzip"])
def test_body_over_the_size_limit_fails_at_once_and_is_not_retried(route, caplog):
    with RawServer({"/stor": route}) as server, caplog.at_level(logging.WARNING, "esf.fetch"):
        page = client(server, sleeps=[], retries=3, max_bytes=1000).fetch(server.url + "/stor")
        assert server.count("/stor") == 1
    assert page.failed and page.error == "over the 1,000-byte size limit" and page.body == b""
    assert page.http_status is None  # a failure, not a 200 the next run would count as fetched
    assert caplog.records == []


def test_a_size_limit_for_one_fetch():
    with RawServer({"/stor": answer(200, BODY)}) as server:
        c = client(server, max_bytes=1000)
        assert c.fetch(server.url + "/stor", max_bytes=len(BODY)).body == BODY
        assert c.fetch(server.url + "/stor", max_bytes=len(BODY) - 1).error == \
            f"over the {len(BODY) - 1:,}-byte size limit"


def test_a_gzip_bomb_stops_at_the_size_limit():
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))  # 20 MB of zeros in about 20 kB
    with RawServer({"/bomb": answer(200, bomb, Content_Encoding="gzip")}) as server:
        page = client(server, max_bytes=100_000).fetch(server.url + "/bomb")
    assert page.error == "over the 100,000-byte size limit"


@pytest.mark.parametrize("route", [unsized(BODY), chunked(BODY),
                                   answer(200, gzip.compress(BODY), Content_Encoding="gzip")],
                         ids=["until-close", "chunked", "gzip"])
def test_whole_bodies_of_every_framing_are_read(route):
    with RawServer({"/sida": route}) as server:
        page = client(server).fetch(server.url + "/sida")
    assert not page.failed and page.body == BODY


def test_short_body_is_truncated_and_retried():
    with RawServer({"/kort": cut_short(BODY, 1000)}) as server:
        page = client(server, sleeps=[], retries=2).fetch(server.url + "/kort")
        assert server.count("/kort") == 3
    assert page.failed and page.error == f"truncated body: 1000 of {len(BODY)} bytes after 3 tries"


def test_short_gzip_body_counts_the_bytes_on_the_wire():
    packed = gzip.compress(BODY)
    with RawServer({"/kort": cut_short(packed, 30, Content_Encoding="gzip")}) as server:
        page = client(server).fetch(server.url + "/kort")
    assert page.failed and page.error == f"truncated body: 30 of {len(packed)} bytes" and page.body == b""


def test_a_truncated_try_then_a_whole_one_is_the_whole_page():
    with RawServer({"/kort": in_turn(cut_short(BODY, 100), answer(200, BODY))}) as server:
        page = client(server, sleeps=[], retries=1).fetch(server.url + "/kort")
    assert not page.failed and page.body == BODY


def test_connection_refused_is_a_failed_page_retried():
    sleeps = []
    with RawServer({}) as server:
        c = client(server, sleeps=sleeps, retries=2)
    page = c.fetch(server.url + "/borta")  # the server has stopped: nothing listens on the port
    assert page.failed and page.error == "connection refused after 3 tries"
    assert len(sleeps) == 2


@pytest.mark.parametrize("route, reason", [(reset, "connection reset"),
                                           (hang_up, "connection closed without an answer")])
def test_a_dropped_connection_is_a_failed_page_retried(route, reason):
    with RawServer({"/bruten": route}) as server:
        page = client(server, sleeps=[], retries=1).fetch(server.url + "/bruten")
        assert server.count("/bruten") == 2
    assert page.failed and page.error == f"{reason} after 2 tries"


def test_one_client_through_every_fault_names_each_reason_apart():
    routes = {"/tyst": silent_after(10, 1000), "/stor": answer(200, BODY), "/kort": cut_short(BODY[:500], 10),
              "/bruten": reset, "/tom": hang_up, "/droppar": drip(60, 0.1), "/fel": answer(503, b"upptagen"),
              "/bra": answer(200, b"ok")}
    with RawServer(routes) as server:
        c = client(server, read_timeout=1.0, deadline_seconds=2.5, max_bytes=1000, breaker_pages=10)
        pages = {path: c.fetch(server.url + path) for path in routes}
    reasons = {path: page.error for path, page in pages.items()}
    assert reasons == {"/tyst": "read timed out", "/stor": "over the 1,000-byte size limit",
                       "/kort": "truncated body: 10 of 500 bytes", "/bruten": "connection reset",
                       "/tom": "connection closed without an answer", "/droppar": "no complete answer within 2.5 s",
                       "/fel": "HTTP 503", "/bra": None}


# --- retries are logged ---------------------------------------------------------------------------
def test_every_retry_is_logged_with_url_reason_and_wait(caplog):
    sleeps = []
    with RawServer({"/x": in_turn(answer(503), answer(503), answer(200, b"ok"))}) as server, \
            caplog.at_level(logging.WARNING, "esf.fetch"):
        page = client(server, sleeps=sleeps, retries=3, backoff_seconds=2.0).fetch(server.url + "/x")
    assert not page.failed
    lines = [r.getMessage() for r in caplog.records if r.name == "esf.fetch"]
    assert len(lines) == 2 and len(sleeps) == 2
    for n, (line, slept) in enumerate(zip(lines, sleeps), start=2):
        shown = re.fullmatch(rf"retrying {re.escape(server.url)}/x in ([\d.]+) s \(HTTP 503, try {n} of 4\)", line)
        assert shown and abs(float(shown[1]) - slept) <= 0.05
    assert 2.0 <= sleeps[0] <= 3.0 and 4.0 <= sleeps[1] <= 6.0
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_a_retry_after_wait_is_logged(caplog):
    sleeps = []
    with RawServer({"/x": in_turn(answer(429, Retry_After="7"), answer(200, b"ok"))}) as server, \
            caplog.at_level(logging.WARNING, "esf.fetch"):
        page = client(server, sleeps=sleeps, retries=3).fetch(server.url + "/x")
    assert not page.failed and sleeps == [7.0]
    assert [r.getMessage() for r in caplog.records] == \
        [f"{server.url}/x: Retry-After 7 s, waiting (HTTP 429, try 2 of 4)"]


def test_a_retry_after_too_long_fails_the_page_and_says_so(caplog):
    with RawServer({"/x": answer(429, Retry_After="9999")}) as server, \
            caplog.at_level(logging.WARNING, "esf.fetch"):
        page = client(server, sleeps=[], retries=3).fetch(server.url + "/x")
        assert server.count("/x") == 1
    assert page.error == "Retry-After longer than 300 s" and page.http_status == 429
    assert "Retry-After 9999 s is longer than 300 s, giving up" in caplog.text


def test_a_connection_fault_retry_is_logged(caplog):
    with RawServer({}) as server:
        c = client(server, sleeps=[], retries=1)
    with caplog.at_level(logging.WARNING, "esf.fetch"):
        c.fetch(server.url + "/borta")
    (line,) = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(rf"retrying {re.escape(server.url)}/borta in [\d.]+ s \(connection refused, try 2 of 2\)",
                        line)


# --- robots.txt as RFC 9309 reads it --------------------------------------------------------------
ROBOTS = """\
User-agent: annan-robot
Disallow: /

User-agent: *
Disallow: /*?sort=
Disallow: /sok$
Disallow: /arkiv/
Allow: /arkiv/oppet/
Disallow: /lika
Allow: /lika
Disallow: /*.pdf$
Crawl-delay: 1
"""

OWN_GROUP = """\
User-agent: *
Disallow: /

User-agent: ESF-Projektbanken-Pipeline
Disallow: /intern/
Crawl-delay: 3
"""


@pytest.mark.parametrize("path, allowed", [
    ("/lista?sort=datum", False), ("/a/b/lista?sort=datum", False), ("/lista?sida=2", True),
    ("/lista?sida=2&sort=namn", True),                           # the rule names '?sort=', not '&sort='

    ("/sok", False), ("/sok/", True), ("/soka", True),
    ("/arkiv/stangt", False), ("/arkiv/oppet/projekt", True),  # the longest matching rule wins
    ("/lika", True),                                            # equally long: allow wins
    ("/bilaga.pdf", False), ("/bilaga.pdf?v=2", True),
    ("/resultat/projektbanken/", True),
])
def test_robots_wildcards_end_anchors_and_longest_match(path, allowed):
    with RawServer({}, robots=ROBOTS) as server:
        c = client(server)
    assert c.allowed(server.url + path) is allowed


def test_robots_group_for_our_user_agent_replaces_the_star_group():
    with RawServer({}, robots=OWN_GROUP) as server:
        c = client(server, delay_seconds=0.5)
    assert c.allowed(server.url + "/resultat/projektbanken/")
    assert not c.allowed(server.url + "/intern/lista")
    assert c.delay == 3.0  # Crawl-delay of our group, longer than ours


def test_robots_disallowed_page_is_never_requested():
    with RawServer({"/sok": answer(200, b"ok")}, robots=ROBOTS) as server:
        page = client(server).fetch(server.url + "/sok")
        assert server.hits == ["/robots.txt"]
    assert page.failed and page.error == "disallowed by robots.txt"


def test_redirect_into_a_disallowed_path_is_not_followed():
    moved = answer(301, Location="/sok")
    with RawServer({"/gammal": moved, "/sok": answer(200, b"ok")}, robots=ROBOTS) as server:
        page = client(server).fetch(server.url + "/gammal")
        assert "/sok" not in server.hits
    assert page.failed and page.error == f"redirect to {server.url}/sok, disallowed by robots.txt"


def test_robots_txt_missing_allows_everything():
    with RawServer({"/robots.txt": answer(404, b"saknas")}) as server:
        assert client(server).allowed(server.url + "/sok")


def test_robots_txt_behind_a_redirect_is_followed():
    routes = {"/robots.txt": answer(301, Location="/regler.txt"), "/regler.txt": answer(200, ROBOTS.encode())}
    with RawServer(routes) as server:
        assert not client(server).allowed(server.url + "/sok")


def test_robots_txt_server_error_means_the_host_cannot_be_crawled():
    with RawServer({"/robots.txt": answer(503, b"upptagen")}) as server:
        with pytest.raises(HostUnreachable, match=r"robots.txt could not be fetched: HTTP 503 after 2 tries"):
            client(server, sleeps=[], retries=1)


# --- the environment's proxy settings -------------------------------------------------------------

def test_a_proxy_from_the_environment_is_still_used(monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    with RawServer({"/p": answer(200, b"sida")}) as server:
        with pytest.raises(HostUnreachable):
            client(server)  # robots.txt went to the dead proxy
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        assert client(server).fetch(server.url + "/p").body == b"sida"


def test_the_environment_is_read_once_per_host_not_per_request(monkeypatch):
    import requests.sessions
    calls = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", lambda *a, **k: calls.append(a) or real(*a, **k))
    with RawServer({f"/p{i}": answer(200, b"sida") for i in range(5)}) as server:
        c = client(server)
        pages = [c.fetch(f"{server.url}/p{i}") for i in range(5)]
    assert [p.body for p in pages] == [b"sida"] * 5
    assert len(calls) == 1  # robots.txt and five pages: one host, one look at the environment
