"""A Prefect server on 127.0.0.1 for `esf serve` when PREFECT_API_URL is not set (the temporary API
that `esf run` uses does not run schedules)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from collections.abc import Iterator

import requests

STARTUP_SECONDS = 120  # the first start creates Prefect's database


class ServerError(RuntimeError):
    """The Prefect API cannot be reached or started."""


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
                          f"fix PREFECT_API_URL, or unset it to let `esf serve` start a local server")


@contextmanager
def local_server(port: int | None = None) -> Iterator[str]:
    """Start `prefect server start` on 127.0.0.1, wait until healthy, yield its API URL, stop it on exit."""
    port = port or free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "true"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not healthy(api_url, timeout=1):
            if proc.poll() is not None:
                raise ServerError(f"the local Prefect server stopped at start: "
                                  f"{proc.stderr.read().decode(errors='replace')[-500:]}")
            if time.monotonic() > deadline:
                raise ServerError(f"the local Prefect server did not answer within {STARTUP_SECONDS} s")
            time.sleep(0.5)
        yield api_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
