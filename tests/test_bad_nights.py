"""The bad nights (issue #19, points 1-3) against a site on 127.0.0.1 and files the test damages itself: a host
that stops answering ends the night in bounded time and publishes nothing, two slow pages are tried once more
after the others, scattered faults never trip the breaker, the night's deadline ends a night that cannot finish.

Timeouts are scaled down; each bound is the rule the real settings follow (shown beside it)."""
from __future__ import annotations

import os
import socket
import threading
import time

import duckdb
import pytest

from demo.generator import page
from demo.site import DemoSite, Faults
from extract.polite import HostDown, NightOver, Politeness
from load import work_path_for
from load.warehouse import raw_path_for
from service.run import RunSettings, refresh

LISTING = "/resultat/projektbanken/"
# scaled: a silent page costs READ_TIMEOUT, a dripping one DEADLINE (real settings: 30 s and 60 s)
READ_TIMEOUT, DEADLINE = 0.4, 1.0


def project_path(i: int) -> str:
    return f"/Projektbanken-2014-2020/Alla-Projekt/projekt-{i}/"


def good_page(i: int) -> bytes:
    p = page(i, seed=19)
    return p.html.replace(p.path, project_path(i)).encode()


class NightSite:
    """Raw sockets: `kinds` says how each project page answers ('ok', 'silent', 'drip'); after
    `answered_before_outage` project pages the whole site goes silent (headers, then nothing) or refuses
    connections (`outage` = 'silent' | 'refused')."""

    def __init__(self, pages: int, kinds: dict[int, str] | None = None, outage: str | None = None,
                 answered_before_outage: int = 0) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.kinds = {i: (kinds or {}).get(i, "ok") for i in range(pages)}
        self.outage, self.before_outage = outage, answered_before_outage
        self.log: list[tuple[float, str]] = []  # (arrival, path) of every request
        self.served = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        links = "".join(f"<li><a href='{project_path(i)}'>Projekt {i}</a></li>" for i in range(pages))
        self.listing = f"<html><body><main><ul>{links}</ul></main></body></html>".encode()

    def __enter__(self) -> "NightSite":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.sock.close()

    def requests_for(self, i: int) -> list[float]:
        return [t for t, path in self.log if path == project_path(i)]

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                path = conn.recv(65536).decode("latin-1").split(" ", 2)[1]
                with self.lock:
                    self.log.append((time.monotonic(), path))
                    down = self.outage is not None and self.served >= self.before_outage
                    if path.startswith("/Projektbanken") and not down:
                        self.served += 1
                        if self.outage == "refused" and self.served >= self.before_outage:
                            self.sock.close()  # from now on every connection is refused
                if path == "/robots.txt":
                    return self._send(conn, "ok", b"User-agent: *\nAllow: /\n")
                if down:
                    return self._send(conn, "silent", good_page(0))
                if path == LISTING:
                    return self._send(conn, "ok", self.listing)
                index = next((i for i in self.kinds if project_path(i) == path), None)
                if index is None:
                    return conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                self._send(conn, self.kinds[index], good_page(index))
            except OSError:
                pass

    def _send(self, conn: socket.socket, kind: str, body: bytes) -> None:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}"
                     f"\r\nConnection: close\r\n\r\n".encode())
        if kind == "ok":
            conn.sendall(body)
        elif kind == "silent":  # headers and a little, then nothing
            conn.sendall(body[:100])
            self.stop.wait(300)
        elif kind == "drip":  # a byte now and then, never silent for long
            for byte in body:
                if self.stop.wait(0.1):
                    return
                conn.sendall(bytes([byte]))


def scaled(**settings) -> Politeness:
    return Politeness(**{"delay_seconds": 0.0, "backoff_seconds": 0.01, "read_timeout": READ_TIMEOUT,
                         "deadline_seconds": DEADLINE, **settings})


def night(db, url: str, politeness: Politeness, **settings):
    return refresh(RunSettings(db=str(db), sources=(url + LISTING,), politeness=politeness, batch_size=10,
                               **settings))


def runs(db) -> list[tuple]:
    con = duckdb.connect(str(work_path_for(db)), read_only=True)
    try:
        return con.execute("SELECT status, message FROM runs ORDER BY run_id").fetchall()
    finally:
        con.close()


def stored_keys(db) -> int:
    con = duckdb.connect(str(raw_path_for(db)), read_only=True)
    try:
        return con.execute("SELECT count(DISTINCT source_key) FROM raw_pages").fetchone()[0]
    finally:
        con.close()


# --- 1. a host that stops answering ------------------------------------------------------------------
@pytest.mark.parametrize("outage", ["silent", "refused"])
def test_a_site_that_stops_answering_ends_the_night_after_the_breakers_pages(outage, tmp_path):
    """200 pages; the site stops answering after 20. The breaker trips after 4 pages in a row, whatever the
    site's size: a silent site costs 4 x read timeout (real settings: 4 x (30 s + 1.25 s delay) = 125 s,
    under 5 minutes); a refusing one 4 pages x 4 quick tries. Nothing is published, what was read is stored,
    and the next night resumes from it."""
    db = tmp_path / "esf.duckdb"
    politeness = scaled()
    with NightSite(200, outage=outage, answered_before_outage=20) as site:
        started = time.monotonic()
        with pytest.raises(HostDown) as stopped:
            night(db, site.url, politeness)
        took = time.monotonic() - started
        went_silent = site.requests_for(19)[0]  # the 20th page, the last answered
        after_outage = [path for t, path in site.log if t > went_silent]
    last = "read timed out" if outage == "silent" else "connection refused after 4 tries"
    assert str(stopped.value) == (f"{site.url.removeprefix('http://')} stopped answering after 21 pages: "
                                  f"4 in a row failed, the last with: {last}")  # the listing and 20 pages
    if outage == "silent":
        assert len(after_outage) == politeness.breaker_pages  # one request each: a timeout is not waited out again
        assert took < politeness.breaker_pages * READ_TIMEOUT + 15  # the run's own work is the rest
    assert not db.exists()  # nothing published
    assert runs(db)[-1][0] == "failed" and "stopped answering" in runs(db)[-1][1]
    assert stored_keys(db) == 20  # kept


def test_the_next_night_resumes_without_asking_again_for_what_was_stored(tmp_path):
    """The same host, back after the outage: the 20 pages stored are parsed from the store, not fetched."""
    db = tmp_path / "esf.duckdb"
    site = NightSite(60, outage="silent", answered_before_outage=20)
    with site:
        with pytest.raises(HostDown):
            night(db, site.url, scaled())
        site.outage, site.log = None, []
        report = night(db, site.url, scaled())
    assert report.status == "succeeded" and report.counts.new == 60
    assert [i for i in range(60) if site.requests_for(i)] == list(range(20, 60))
    assert db.exists() and duckdb.connect(str(db), read_only=True).execute(
        "SELECT count(*) FROM projects").fetchone() == (60,)


def test_scattered_server_errors_never_trip_the_breaker(tmp_path):
    """2 % of 300 pages answer 5xx to both their tries: each fails alone, the night goes on and publishes."""
    db = tmp_path / "esf.duckdb"
    faults = Faults(seed=3, server_error_share=0.02, server_error_burst=2)
    with DemoSite(300, faults=faults) as site:
        bad = [i for i in range(300) if faults.hits(i, "server_error", 0.02)]
        report = night(db, site.url, scaled(retries=1))
    assert len(bad) > Politeness().breaker_pages  # more failures in all than the breaker's count in a row
    assert report.status == "rejects" and report.counts.failed == len(bad)
    assert report.counts.new == 300 - len(bad) and db.exists()


# --- slow pages ------------------------------------------------------------------------------------------
def test_two_slow_pages_are_tried_once_more_after_the_other_pages(tmp_path):
    """A silent page and a dripping one among 34: each is asked twice, the second time after every other
    page; the night publishes the rest. Their cost is 2 x (read timeout + deadline): at the real settings
    2 x (30 s + 60 s) = 180 s, plus 36 requests x 1.125 s of delay, 220 s: under 4 minutes (it was 418 s)."""
    db = tmp_path / "esf.duckdb"
    with NightSite(34, kinds={3: "silent", 4: "drip"}) as site:
        started = time.monotonic()
        report = night(db, site.url, scaled(retries=3))
        took = time.monotonic() - started
    assert [len(site.requests_for(i)) for i in (3, 4)] == [2, 2]
    last_good = max(t for i in range(34) if i not in (3, 4) for t in site.requests_for(i))
    assert min(site.requests_for(3)[1], site.requests_for(4)[1]) > last_good
    assert report.status == "rejects" and report.counts.failed == 2 and report.counts.new == 32
    con = duckdb.connect(str(work_path_for(db)), read_only=True)
    reasons = sorted(r for (r,) in con.execute("SELECT reason FROM rejects WHERE stage = 'fetch'").fetchall())
    con.close()
    assert reasons == ["no complete answer within 1 s (tried again after the other pages)",
                       "read timed out (tried again after the other pages)"]
    assert took < 2 * (READ_TIMEOUT + DEADLINE) + 15


def test_the_nights_deadline_stops_new_requests_and_keeps_what_was_read(tmp_path):
    """100 pages at 0.1 s apart (10 s) in a night of 5 s (the run's start-up counts): no request starts after
    the deadline; the pages read by then are stored for the next night."""
    db = tmp_path / "esf.duckdb"
    with NightSite(100) as site:
        started = time.monotonic()
        with pytest.raises(NightOver, match=r"the night's deadline passed after \d+ pages from 127\.0\.0\.1"):
            night(db, site.url, scaled(delay_seconds=0.1, jitter=0.0), night_seconds=5.0)
        last_request = max(t for t, _ in site.log)
    assert last_request - started < 5.0 + 0.2
    assert runs(db)[-1][0] == "failed" and not db.exists()
    assert 0 < stored_keys(db) < 100


# --- 2. a damaged file is never published -------------------------------------------------------------
def _first_night(tmp_path):
    from cli.options import _default_source
    db = tmp_path / "esf.duckdb"
    source = _default_source()
    report = refresh(RunSettings(db=str(db), sources=(source,)))
    assert report.published and report.counts.new == 13
    return db, source


def _damage(path, share: float, size: int = 64 * 1024) -> None:
    """`size` bytes of garbage at `share` of the file, its header (the first 12 KB) kept."""
    import random
    offset = max(12 * 1024, int(path.stat().st_size * share))
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(random.Random(share).randbytes(size))


def _digest(path) -> str:
    """The published data (a night that publishes nothing still writes its `runs` row there: load/runs_log.py)."""
    from test_empty_nights import digest
    return digest(path)


@pytest.mark.parametrize("share", [0.3, 0.6, 0.9])
def test_a_damaged_working_file_is_never_published_and_the_message_names_it(share, tmp_path):
    from load.damage import DamagedFile, verify_file
    db, source = _first_night(tmp_path)
    published = _digest(db)
    _damage(work_path_for(db), share)
    with pytest.raises(DamagedFile) as damaged:
        refresh(RunSettings(db=str(db), sources=(source,), rehash=True))
    assert damaged.value.path == work_path_for(db) and damaged.value.role == "warehouse"
    assert str(work_path_for(db)) in str(damaged.value)
    assert _digest(db) == published  # the last good file stays published
    verify_file(db)  # and reads through
    assert not list(tmp_path.glob(".esf.duckdb.publishing-*"))


def test_the_advice_for_a_damaged_working_file_rebuilds_it_from_the_raw_store(tmp_path):
    from cli.run import damage_advice
    from load.damage import DamagedFile
    from service.run import reprocess
    db, source = _first_night(tmp_path)
    work = work_path_for(db)
    _damage(work, 0.3)
    with pytest.raises(DamagedFile) as damaged:
        refresh(RunSettings(db=str(db), sources=(source,)))
    advice = damage_advice(damaged.value, str(db)).splitlines()
    assert advice[0].startswith(f"esf: the warehouse {work} is damaged: ") and "nothing new published" in advice[0]
    assert advice[1].endswith(f"mv {work} {work}.damaged && esf reprocess --db {db}")
    assert advice[2].endswith(f"mv {work} {work}.damaged && esf run --db {db}")
    work.rename(work.with_name(work.name + ".damaged"))  # what the advice says
    report = reprocess(RunSettings(db=str(db)))
    assert report.status == "succeeded" and report.counts.new == 13


@pytest.mark.parametrize("share", [0.3, 0.6, 0.9])
def test_a_truncated_raw_store_is_found_at_the_start_of_the_run(share, tmp_path):
    """A quiet night (every file skipped by its stat) reads no body: the check at the start still finds it."""
    from cli.run import damage_advice
    from load.damage import DamagedFile
    db, source = _first_night(tmp_path)
    published, raw = _digest(db), raw_path_for(db)
    with open(raw, "r+b") as fh:
        fh.truncate(int(raw.stat().st_size * share))
    with pytest.raises(DamagedFile) as damaged:
        refresh(RunSettings(db=str(db), sources=(source,)))
    assert damaged.value.path == raw and damaged.value.role == "raw store"
    assert _digest(db) == published
    advice = damage_advice(damaged.value, str(db)).splitlines()
    assert advice[0].startswith(f"esf: the raw store {raw} is damaged: ")
    assert advice[1].endswith(f"mv {raw} {raw}.damaged && esf run --db {db} --rehash")


# --- 3. memory by bytes ------------------------------------------------------------------------------------
def _big_pages(folder, count: int = 30) -> None:
    folder.mkdir()
    filler = ("Projektet arbetar med deltagarnas vägar till arbete och studier. " * 76_000)[:4_900_000]
    for i in range(count):
        (folder / f"c-{i:02d}.txt").write_text(
            f"2019/{i:05d} - Långa projektet {i}\n\nProjektnummer:\n2019/{i:05d}\nProjektägare:\nKommun {i}\n"
            f"Region:\nVästsverige\n\nSammanfattning\nSida {i}. {filler}\n", encoding="utf-8")
        an_hour_ago = time.time() - 3600  # a file written within 2 s of being read is not trusted by its stat
        os.utime(folder / f"c-{i:02d}.txt", (an_hour_ago, an_hour_ago))


def test_a_run_killed_after_storing_big_pages_resumes_under_the_same_limit(tmp_path):
    """30 pages of 4.9 MB stored under the least memory esf allows, then the run dies before loading: the next
    run, under the same limit, parses them from the store in batches bounded by bytes, reading no file again."""
    from load import Warehouse, stored_pages
    from load.warehouse import MEMORY_MINIMUM
    from service.run import Steps
    folder, db = tmp_path / "pages", tmp_path / "esf.duckdb"
    _big_pages(folder)
    limit = f"{MEMORY_MINIMUM // 10**6}MB"

    class DiesBeforeLoading(Steps):
        def load(self, *args):
            raise RuntimeError("killed after storing")

    with pytest.raises(RuntimeError, match="killed after storing"):
        refresh(RunSettings(db=str(db), sources=(str(folder),), memory=limit), steps=DiesBeforeLoading)
    assert stored_keys(db) == 30 and not db.exists()
    with Warehouse(work_path_for(db), memory=limit) as wh:
        keys = [k for (k,) in wh.con.execute("SELECT source_key FROM raw.raw_pages").fetchall()]
        batches = [[p.source_key for p in batch] for batch in stored_pages(wh, keys, 500, 10 * 1024 * 1024)]
    assert sorted(k for batch in batches for k in batch) == sorted(keys)
    assert max(len(batch) for batch in batches) == 2  # 2 x 4.9 MB under 10 MB: by bytes, not by the count of 500

    report = refresh(RunSettings(db=str(db), sources=(str(folder),), memory=limit))
    assert report.status == "succeeded" and report.counts.new == 30
    assert report.counts.fetched == 0  # every page came from the store


# --- what the operator sees --------------------------------------------------------------------------------
@pytest.fixture
def night_that_raises(monkeypatch):
    """`esf run`'s handling of how a night ended, with the flow replaced by one that raises `error`."""
    import contextlib
    import flows.pipeline
    import flows.server

    def run(error: BaseException, db: str) -> int:
        def flow(**params):
            raise error
        monkeypatch.setattr(flows.server, "prefect_api", lambda *a, **k: contextlib.nullcontext("http://unused"))
        monkeypatch.setattr(flows.pipeline, "with_runner", lambda fn, runner: flow)
        monkeypatch.setattr("sys.argv", ["esf", "run", "--db", db, "--quiet"])
        import cli
        with pytest.raises(SystemExit) as ended:  # the console entry point: the line and the exit code it maps
            cli.main()
        return ended.value.code
    return run


def test_the_operator_reads_one_line_naming_the_host_and_exit_1(night_that_raises, capsys, tmp_path):
    error = HostDown("www.esf.se stopped answering after 212 pages: 4 in a row failed, the last with: "
                     "read timed out")
    assert night_that_raises(error, str(tmp_path / "esf.duckdb")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["esf: www.esf.se stopped answering after 212 pages: 4 in a row failed, the last with: read timed "
                   "out; nothing new published (the pages read are kept: the next night goes on from there)"]


def test_a_damaged_file_prints_the_file_and_the_commands_and_exits_1(night_that_raises, capsys, tmp_path):
    from load.damage import DamagedFile
    db = tmp_path / "esf.duckdb"
    error = DamagedFile(work_path_for(db), "warehouse", "IO Error: Corrupt database file")
    assert night_that_raises(error, str(db)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"esf: the warehouse {work_path_for(db)} is damaged: IO Error: Corrupt database file; nothing new published"
    assert "esf reprocess --db" in err[1] and "esf run --db" in err[2] and len(err) == 3


@pytest.mark.parametrize("memory, code", [("128MB", 2), ("255MB", 2), ("a lot", 2)])
def test_too_little_memory_is_a_usage_error_naming_the_minimum(memory, code, tmp_path):
    import subprocess
    from conftest import ROOT, esf_command, esf_env
    result = subprocess.run(esf_command() + ["run", "--memory", memory, "--db", str(tmp_path / "esf.duckdb")],
                            capture_output=True, text=True, cwd=ROOT, env=esf_env("http://127.0.0.1:9/api"),
                            timeout=60)
    assert result.returncode == code and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert ("at least 256MB" if memory != "a lot" else "is not a size") in result.stderr
    assert not (tmp_path / "esf.duckdb").exists() and not work_path_for(tmp_path / "esf.duckdb").exists()
