"""`esf serve`: parameter checks, an unreachable API, and a real scheduled run on a local Prefect server."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import duckdb
import requests

from conftest import ROOT, SAMPLES, esf_command


def serve_env(tmp_path, **extra) -> dict:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_RUNNER_POLL_FREQUENCY": "2", "PREFECT_LOGGING_LEVEL": "INFO", **extra}
    env.pop("PREFECT_API_URL", None)
    env.pop("ESF_DB", None)
    env.update(extra)
    return env


def esf_serve(tmp_path, *args, **env):
    return subprocess.run(esf_command() + ["serve", *args], cwd=ROOT, env=serve_env(tmp_path, **env),
                          capture_output=True, text=True, timeout=60)


def test_invalid_cron_is_a_usage_error(tmp_path):
    result = esf_serve(tmp_path, "--cron", "every night")
    assert result.returncode == 2
    assert result.stderr == "esf: not a cron expression: 'every night' (for example \"0 2 * * *\": 02:00 every night)\n"


def test_unknown_timezone_is_a_usage_error(tmp_path):
    result = esf_serve(tmp_path, "--timezone", "Mars/Olympus")
    assert result.returncode == 2 and "unknown time zone 'Mars/Olympus'" in result.stderr


def test_unreachable_api_says_how_to_fix_it(tmp_path):
    result = esf_serve(tmp_path, PREFECT_API_URL="http://127.0.0.1:9/api")
    assert result.returncode == 1
    assert "does not answer" in result.stderr and "PREFECT_API_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_runs_on_schedule_then_shuts_down(tmp_path):
    db = tmp_path / "esf.duckdb"
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen(esf_command() + ["serve", "--cron", "* * * * *", "--timezone", "UTC", "--source",
                                             str(SAMPLES), "--db", str(db)],
                            cwd=ROOT, env=serve_env(tmp_path), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline, done = time.monotonic() + 200, []
        while time.monotonic() < deadline and proc.poll() is None and not done:
            time.sleep(2)
            if db.exists():
                con = duckdb.connect(str(db), read_only=True)
                done = con.execute("SELECT run_id FROM runs WHERE status = 'succeeded'").fetchall()
                con.close()
        output = (tmp_path / "serve.log").read_text()
        assert done, output[-3000:]
        port = re.search(r"Started a local Prefect server: http://127\.0\.0\.1:(\d+)", output).group(1)
        assert requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5).ok
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    time.sleep(1)
    try:
        requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
        still_up = True
    except requests.ConnectionError:
        still_up = False
    assert not still_up, "the local Prefect server outlived `esf serve`"
