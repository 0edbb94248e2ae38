"""Shared fixtures: the bundled samples, the real pages (where ../shared exists), one Prefect harness per session."""
from __future__ import annotations

import os
import sys
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
    return [sys.executable, "-m", "flows.cli"]
