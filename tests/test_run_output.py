"""What a run says while it works: progress with rate and ETA, retries, --quiet, and errors in one line."""
from __future__ import annotations

import logging
import re
import subprocess

from conftest import ROOT, SAMPLES, esf_command, esf_env
from demo.site import DemoSite, Faults
from flows.progress import RunProgress, eta_text


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_at_least_every_30_seconds_with_rate_and_eta(caplog):
    clock = Clock()
    progress = RunProgress(bar=False, clock=clock)
    caplog.set_level(logging.INFO, logger="esf.progress")
    progress.total(1000)
    progress.skip(400)                 # unchanged pages: not read, so neither done nor still to read
    for _ in range(30):                # 30 pages in 29 s: no line yet
        clock.now += 29 / 30
        progress.advance()
    assert caplog.messages == []
    clock.now += 1.5
    progress.advance()                 # 31 pages read in 30.5 s: about one a second, 569 to go
    assert caplog.messages == ["31 of 600 pages read (5%), 1.0 pages/s, ETA 9 min 19 s; "
                               "400 skipped (unchanged or resumed from the store)"]


def test_a_quiet_night_counts_the_pages_it_read_not_those_it_skipped(caplog):
    progress = RunProgress(bar=False)
    caplog.set_level(logging.INFO, logger="esf.progress")
    progress.total(300)
    progress.skip(289)
    progress.advance(11)
    progress.close()
    assert caplog.messages[-1].startswith("11 of 11 pages read (100%)")
    assert caplog.messages[-1].endswith("; 289 skipped (unchanged or resumed from the store)")


def test_discovery_progress_is_logged_with_documents_and_pages(caplog):
    clock = Clock()
    progress = RunProgress(bar=False, clock=clock)
    caplog.set_level(logging.INFO, logger="esf.progress")
    progress.discovering("https://host/listing/", 3, 60)
    clock.now += 31
    progress.discovering("https://host/listing/", 40, 800)
    assert caplog.messages == ["discovering https://host/listing/: 40 listing or sitemap pages read, "
                               "800 project pages found"]


def test_progress_artifact_moves_in_tenths():
    shown = []
    progress = RunProgress(bar=False, artifact=shown.append)
    progress.total(100)
    for _ in range(100):
        progress.advance()
    assert shown == [1.0, 11.0, 21.0, 31.0, 41.0, 51.0, 61.0, 71.0, 81.0, 91.0, 100.0]


def test_eta_text():
    assert [eta_text(s) for s in (None, 0, 59, 61, 3600 * 2 + 60 * 5)] == [
        "ETA unknown", "ETA 0 s", "ETA 59 s", "ETA 1 min 01 s", "ETA 2 h 05 min"]


def esf(prefect_api, *args):
    return subprocess.run(esf_command() + list(args), capture_output=True, text=True, cwd=ROOT,
                          env=esf_env(prefect_api, PREFECT_LOGGING_LEVEL="INFO"), timeout=180)


def test_a_run_shows_its_own_lines_not_prefects_task_states(prefect_api, tmp_path):
    result = esf(prefect_api, "run", "--db", str(tmp_path / "esf.duckdb"), "--no-summary")
    assert result.returncode == 0, result.stderr
    assert f"{SAMPLES}: 13 pages found, 13 to read" in result.stderr
    assert "13 of 13 pages read (100%)" in result.stderr
    assert re.search(r"run 1 succeeded: 13 new, 0 changed, 0 unchanged, 0 skipped, 0 not modified, 0 failed, "
                     r"0 rejected, \d+\.\d s\n", result.stderr)
    assert "Finished in state" not in result.stderr and "Task run" not in result.stderr
    assert result.stdout.startswith("Run 1: succeeded")
    quiet = esf(prefect_api, "run", "--db", str(tmp_path / "esf.duckdb"), "--no-summary")  # nothing changed
    assert "0 of 0 pages read (100%)" in quiet.stderr and "; 13 skipped" in quiet.stderr, quiet.stderr
    assert "run 2 succeeded: 0 new, 0 changed, 0 unchanged, 13 skipped, 0 not modified" in quiet.stderr


def test_quiet_leaves_the_report_and_nothing_else(prefect_api, tmp_path):
    result = esf(prefect_api, "run", "--db", str(tmp_path / "esf.duckdb"), "--quiet")
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.startswith("Run 1: succeeded") and "Projects per region" not in result.stdout


def test_retries_are_logged_with_url_and_seconds(prefect_api, tmp_path):
    faults = Faults(seed=2, server_error_share=1.0, server_error_burst=1)
    with DemoSite(3, seed=2, faults=faults) as site:
        result = esf(prefect_api, "run", "--source", site.url + "/resultat/projektbanken/", "--delay", "0",
                     "--db", str(tmp_path / "esf.duckdb"), "--no-summary")
    assert result.returncode == 0, result.stderr
    retried = [line for line in result.stderr.splitlines() if "retrying " + site.url in line]
    assert retried and all(" s (HTTP 5" in line for line in retried)


def test_an_unreachable_host_is_one_line_without_traceback(prefect_api, tmp_path):
    result = esf(prefect_api, "run", "--source", "http://127.0.0.1:9/resultat/projektbanken/", "--delay", "0",
                 "--db", str(tmp_path / "esf.duckdb"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("esf: run failed, nothing new published: HostUnreachable: 127.0.0.1:9 does not answer")


def test_debug_shows_the_traceback(prefect_api, tmp_path):
    result = esf(prefect_api, "run", "--source", "http://127.0.0.1:9/resultat/projektbanken/", "--delay", "0",
                 "--db", str(tmp_path / "esf.duckdb"), "--debug")
    assert result.returncode == 1 and "Traceback" in result.stderr
