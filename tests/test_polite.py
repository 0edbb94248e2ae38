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

from extract.polite import Politeness, PoliteClient

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


def test_robots_txt_missing_allows_everything():
    with RawServer({"/robots.txt": answer(404, b"saknas")}) as server:
        assert client(server).allowed(server.url + "/sok")
