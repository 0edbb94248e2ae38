"""Shared fixtures: the bundled samples, the real pages (where ../shared exists), one Prefect harness per session."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REAL_SAMPLES = ROOT.parent / "shared" / "samples"


@pytest.fixture(scope="session")
def real_samples() -> Path:
    if not REAL_SAMPLES.is_dir():
        pytest.skip("../shared/samples is absent (a fresh clone has no ../shared): real-page tests skipped")
    return REAL_SAMPLES


@pytest.fixture(scope="session")
def prefect_api() -> str:
    """One temporary Prefect API for the whole session (it takes ~10 s to start); its URL for subprocesses."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness
    with prefect_test_harness(server_startup_timeout=180):
        yield PREFECT_API_URL.value()


def esf_env(prefect_api: str, **extra: str) -> dict[str, str]:
    """Environment for running the `esf` command in a subprocess against the session's Prefect API."""
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_LOGGING_LEVEL": "WARNING", **extra}
    env.pop("ESF_DB", None)
    return env


def esf_command() -> list[str]:
    return [sys.executable, "-m", "cli"]


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, whatever session it is in (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def alive(pids: list[int]) -> list[int]:
    """Those of `pids` still running (zombies do not count: they hold nothing)."""
    left = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.append(pid)
    return left


def wait_gone(pids: list[int], seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)
