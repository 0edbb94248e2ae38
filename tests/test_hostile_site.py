"""One night against a hostile site (127.0.0.1): an absurd amount, a server that goes silent, one that
drips, a body over the cap, a body shorter than it says, bad UTF-8 bytes. Every good page is published;
each bad one is counted as failed with its true reason, an absurd value is NULL with a warning; the run goes on."""
from __future__ import annotations

import socket
import threading
from dataclasses import replace

import duckdb
import pytest

from demo.generator import page
from extract.polite import Politeness
from load import work_path_for
from service.run import RunSettings, refresh

GOOD = 12
LISTING = "/resultat/projektbanken/"


def project_path(i: int) -> str:
    return f"/Projektbanken-2014-2020/Alla-Projekt/projekt-{i}/"


def good_page(i: int) -> bytes:
    p = page(i, seed=21)
    return p.html.replace(p.path, project_path(i)).encode()


def absurd_amount() -> bytes:
    text = good_page(GOOD).decode()
    p = page(GOOD, seed=21)
    amount = f"{p.grant:,}".replace(",", "\xa0")
    assert amount in text
    return text.replace(amount, "12 345 678 901 234 567 890", 1).encode()


def bad_utf8() -> bytes:
    body = good_page(GOOD + 1)
    cut = body.index("<main>".encode()) + 6
    return body[:cut] + b"\xff\xfe" + body[cut:]


class HostileSite:
    """Raw sockets, so a page can go silent, drip, or lie about its length."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.pages = {project_path(i): ("ok", good_page(i)) for i in range(GOOD)}
        self.pages[project_path(GOOD)] = ("ok", absurd_amount())
        self.pages[project_path(GOOD + 1)] = ("ok", bad_utf8())
        self.pages[project_path(90)] = ("silent", good_page(90))
        self.pages[project_path(91)] = ("drip", good_page(91))
        self.pages[project_path(92)] = ("huge", b"")
        self.pages[project_path(93)] = ("short", good_page(93))
        links = "".join(f"<li><a href='{path}'>Projekt</a></li>" for path in self.pages)
        self.listing = f"<html><body><main><ul>{links}</ul></main></body></html>".encode()

    def __enter__(self) -> "HostileSite":
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.sock.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = conn.recv(65536).decode("latin-1")
                path = request.split(" ", 2)[1]
                kind, body = ("ok", self.listing) if path == LISTING else self.pages.get(path, ("gone", b""))
                if path == "/robots.txt":
                    kind, body = "ok", b"User-agent: *\nAllow: /\n"
                self._send(conn, kind, body)
            except OSError:
                pass

    def _send(self, conn: socket.socket, kind: str, body: bytes) -> None:
        def head(length: int, status: str = "200 OK") -> bytes:
            return (f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
                    f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()
        if kind == "gone":
            conn.sendall(head(0, "404 Not Found"))
        elif kind == "ok":
            conn.sendall(head(len(body)) + body)
        elif kind == "silent":  # headers and a little, then nothing
            conn.sendall(head(len(body)) + body[:100])
            self.stop.wait(10)
        elif kind == "drip":  # a byte now and then, never silent for long
            conn.sendall(head(len(body)))
            for byte in body:
                if self.stop.wait(0.2):
                    return
                conn.sendall(bytes([byte]))
        elif kind == "huge":
            size = 6 * 1024 * 1024
            conn.sendall(head(size))
            chunk = b"<p>" + b"x" * 65533
            for _ in range(size // len(chunk) + 1):
                conn.sendall(chunk)
        elif kind == "short":  # says more than it sends, then closes
            conn.sendall(head(len(body) + 5000) + body)


@pytest.fixture
def night(tmp_path):
    db = tmp_path / "esf.duckdb"
    politeness = Politeness(delay_seconds=0.0, backoff_seconds=0.01, retries=1, read_timeout=1.0,
                            deadline_seconds=3.0)
    with HostileSite() as site:
        report = refresh(RunSettings(db=str(db), sources=(site.url + LISTING,), politeness=politeness,
                                     batch_size=5))
    con = duckdb.connect(str(work_path_for(db)), read_only=True)
    yield report, con, site
    con.close()


def reason(con, path: str) -> str:
    rows = con.execute("SELECT stage, reason FROM rejects WHERE source_key LIKE ?", [f"%{path}"]).fetchall()
    assert len(rows) == 1, rows
    return f"{rows[0][0]}: {rows[0][1]}"


def test_every_good_page_is_published_and_the_counts_add_up(night):
    report, con, site = night
    c = report.counts.as_dict()
    assert report.status == "rejects"
    assert c["seen"] == GOOD + 6
    assert (c["new"], c["rejected"], c["failed"]) == (GOOD + 2, 0, 4)
    assert c["seen"] == sum(c[k] for k in ("new", "changed", "unchanged", "duplicates", "rejected", "failed",
                                            "skipped", "not_modified", "gone"))
    loaded = {k for (k,) in con.execute("SELECT source_key FROM projects").fetchall()}
    assert {site.url + project_path(i) for i in range(GOOD + 2)} == loaded


def test_each_bad_page_fails_with_its_true_reason(night):
    _, con, _ = night
    assert reason(con, project_path(90)).startswith("fetch: read timed out")
    assert reason(con, project_path(91)).startswith("fetch: no complete answer within 3 s")
    assert reason(con, project_path(92)).startswith("fetch: over the 5,242,880-byte size limit")
    assert reason(con, project_path(93)).startswith("fetch: truncated body")
    (row,) = con.execute("SELECT field, reason FROM warnings WHERE source_key LIKE ?",
                         [f"%{project_path(GOOD)}"]).fetchall()
    assert row[0] == "esf_grant_sek" and row[1].startswith("amount above the limit")
    assert con.execute("SELECT esf_grant_sek FROM projects WHERE source_key LIKE ?",
                       [f"%{project_path(GOOD)}"]).fetchone() == (None,)


def test_a_few_bad_bytes_keep_the_page_with_a_warning(night):
    _, con, site = night
    (warning,) = con.execute("SELECT stage, reason FROM warnings WHERE source_key = ?",
                             [site.url + project_path(GOOD + 1)]).fetchall()
    assert warning[0] == "decode" and "invalid UTF-8" in warning[1]


def test_a_retried_batch_never_reads_again_the_pages_it_has():
    from service.run import read_batch
    reads: list[str] = []

    class Flaky:
        def read(self, items):
            reads.append(items[0])
            if items[0] == "c" and reads.count("c") == 1:
                raise ConnectionError("the disk under a saved page went away")
            return [replace(_raw(items[0]))]

    done: dict = {}
    with pytest.raises(ConnectionError):
        read_batch(Flaky(), ["a", "b", "c", "d"], done_pages=done)
    pages = read_batch(Flaky(), ["a", "b", "c", "d"], done_pages=done)  # what a task retry does
    assert [p.source_key for p in pages] == ["a", "b", "c", "d"]
    assert reads == ["a", "b", "c", "c", "d"]


def test_a_batch_is_bounded_by_bytes_as_well_as_pages():
    from service.run import read_batch

    class Big:
        def read(self, items):
            return [_raw(items[0], size=3 * 1024 * 1024)]
    pages = read_batch(Big(), list("abcdefgh"), max_bytes=10 * 1024 * 1024)
    assert [p.source_key for p in pages] == ["a", "b", "c", "d"]  # 12 MB: the page that crossed the line ends it


def _raw(key: str, size: int = 10):
    from records.pages import RawPage, now
    return RawPage(source_key=key, url=None, fetched_at=now(), body=b"x" * size)


def test_pages_near_the_cap_load_under_a_small_memory_limit(tmp_path):
    """30 pages of 4.9 MB (a long summary each) with DuckDB at the smallest limit esf picks: the raw store
    takes them in batches bounded by bytes, and a section is kept to 200,000 characters with a warning."""
    folder = tmp_path / "pages"
    folder.mkdir()
    filler = ("Projektet arbetar med deltagarnas vägar till arbete och studier. " * 76_000)[:4_900_000]
    for i in range(30):
        text = (f"2019/{i:05d} - Långa projektet {i}\n\nProjektnummer:\n2019/{i:05d}\nProjektägare:\nKommun {i}\n"
                f"Region:\nVästsverige\nPlanerat antal deltagare:\n100\nProjektperiod:\n2019-01-01 - 2021-12-31\n"
                f"Total projektbudget:\n1 000 000\nBeviljat ESF-stöd:\n500 000\nProgramområde:\n2\nSpecifikt mål:\n2.2\n"
                f"Unionens medfinansieringsgrad:\n50%\n\nSammanfattning\n"
                f"Sida {i}. {filler}\n")
        (folder / f"c-{i:02d}.txt").write_text(text, encoding="utf-8")
    db = tmp_path / "esf.duckdb"
    report = refresh(RunSettings(db=str(db), sources=(str(folder),), batch_size=10,
                                 memory="256MB"))  # the smallest limit esf picks itself
    assert report.status == "succeeded", report.top_rejects
    assert report.counts.new == 30 and report.counts.warnings == 30  # each long summary cut, with a warning
