"""The Prefect API a run or `esf serve` talks to: the one at $PREFECT_API_URL, or a server of our own on
127.0.0.1 that keeps its state beside the warehouse, writes its output to a rotated log file there, and
stops with us (on exit, on interrupt, and by the kernel's word if we are killed)."""
from __future__ import annotations

import importlib.util
import logging
import logging.handlers
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from service.children import die_with_parent
from records.errors import EsfError

STARTUP_SECONDS = 120           # the first start creates Prefect's database
STOP_SECONDS = 5                # then the server's process group is killed
LOG_BYTES, LOG_BACKUPS = 5 * 1024 * 1024, 3


class ServerError(EsfError):
    """The Prefect API cannot be reached or started."""


def prefect_home_for(db: str | os.PathLike) -> Path:
    """Prefect's state for a warehouse sits beside it: esf.duckdb → esf.prefect/. Two warehouses never
    share schedules, so a restart with another --db cannot run old schedules against the old database."""
    db = Path(db).resolve()
    return db.with_name(f"{db.stem}.prefect")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        return requests.get(api_url.rstrip("/") + "/health", timeout=timeout).ok
    except requests.RequestException:
        return False


def check_api(api_url: str) -> None:
    """One clear line when PREFECT_API_URL points nowhere."""
    if not healthy(api_url, timeout=5):
        raise ServerError(f"the Prefect API at {api_url} does not answer: start it (`prefect server start`), "
                          f"fix PREFECT_API_URL, or unset it to let esf start a local server")


@contextmanager
def prefect_api(db: str | os.PathLike, ui: bool = False, meanwhile: Callable[[], object] | None = None) -> Iterator[str]:
    """The API to use for this process and the flow runs it starts: $PREFECT_API_URL if set, else our own
    server (with the UI for `esf serve`, without for a single run). `meanwhile` runs while our server starts."""
    given = os.environ.get("PREFECT_API_URL")
    if given:
        check_api(given)
        if meanwhile:
            meanwhile()
        yield given
        return
    home = prefect_home_for(db)
    os.environ["PREFECT_HOME"] = str(home)  # for this process's Prefect client and the runs it starts
    with local_server(home, ui=ui, meanwhile=meanwhile) as api_url:
        from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings
        os.environ["PREFECT_API_URL"] = api_url
        try:
            with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_HOME: str(home)}):
                try:
                    yield api_url
                finally:
                    flush_to_api()
        finally:
            os.environ.pop("PREFECT_API_URL", None)


def flush_to_api(timeout: float = 10.0) -> None:
    """Send the log lines and events Prefect still holds before our server stops (else its workers retry
    against a closed port for a minute at exit)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=timeout)
        except Exception:  # nothing to send, or the server already gone: nothing to wait for
            pass


@contextmanager
def local_server(home: Path, port: int | None = None, ui: bool = True,
                 meanwhile: Callable[[], object] | None = None) -> Iterator[str]:
    """Start a Prefect server on 127.0.0.1 with its state in `home`, wait until healthy, yield its API URL,
    stop it on exit. Its output goes to home/server.log (rotated), never to a pipe nobody reads.
    `meanwhile` runs while the server starts (it takes seconds): e.g. importing what the run needs."""
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "true" if ui else "false",
           # the UI asks /ui-settings where its API is: this server, not Prefect's default 127.0.0.1:4200
           "PREFECT_UI_API_URL": api_url, "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port)}
    env.pop("PREFECT_API_URL", None)
    if ui:
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    else:  # what Prefect's own temporary server runs, but owned by us
        env.update({"PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"})
        spec = importlib.util.find_spec("prefect")  # found, not imported: no delay
        if spec is None or spec.origin is None:
            raise ServerError("Prefect is not installed in this environment")
        site = Path(spec.origin).parent.parent
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(site),
                   "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
                   "--port", str(port), "--log-level", "error", "--lifespan", "on"]
    proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)
    output = _ServerLog(proc, home / "server.log")
    try:
        if meanwhile:
            meanwhile()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not healthy(api_url, timeout=1):
            if proc.poll() is not None:
                raise ServerError(f"the local Prefect server stopped at start (log: {output.path}): {output.tail()}")
            if time.monotonic() > deadline:
                raise ServerError(f"the local Prefect server did not answer within {STARTUP_SECONDS} s "
                                  f"(log: {output.path})")
            time.sleep(0.3)
        yield api_url
    finally:
        stop_group(proc)
        output.close()


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL if it is still there after STOP_SECONDS."""
    for sig, wait in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class _ServerLog:
    """Drains the server's output into a rotated file, keeping the last lines for error messages."""

    def __init__(self, proc: subprocess.Popen, path: Path) -> None:
        self.path = path
        self._lines: deque[str] = deque(maxlen=20)
        self._handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS,
                                                             encoding="utf-8")
        self._thread = threading.Thread(target=self._drain, args=(proc.stdout,), name="prefect-server-log",
                                        daemon=True)
        self._thread.start()

    def _drain(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._lines.append(line)
            self._handler.emit(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))
        stream.close()

    def tail(self) -> str:
        self._thread.join(timeout=2)
        return " | ".join(self._lines)[-500:] or "(no output)"

    def close(self) -> None:
        self._thread.join(timeout=5)
        self._handler.close()
