"""`esf serve` as a data engineer meets it: the UI of its local server talks to that server (a real headless
Chromium reads the deployment's runs), the line it prints points a shell's `prefect` at it, a deployment
another live process serves with other options is refused, and it stops without warnings — also as a
background job of a script, and mid-night, where the night ends Cancelled and `interrupted`."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
import requests

from conftest import ROOT, SAMPLES, esf_command, wait_gone, descendants
from test_serve import serve_env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--virtual-time-budget=30000"]
PASTE = re.compile(r"export PREFECT_API_URL=(http://127\.0\.0\.1:\d+/api)")


def start_serve(tmp_path: Path, *args: str, env: dict | None = None, log_name: str = "serve.log") -> subprocess.Popen:
    log = open(tmp_path / log_name, "w")
    return subprocess.Popen(esf_command() + ["serve", "--timezone", "UTC", *args], cwd=ROOT,
                            env=env or serve_env(tmp_path), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(proc: subprocess.Popen, log: Path, pattern: re.Pattern | str, seconds: float = 150) -> re.Match:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text())
        if found:
            return found
        assert proc.poll() is None, log.read_text()[-3000:]
        time.sleep(0.3)
    raise AssertionError(f"no {pattern!r} within {seconds} s: {log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen, sig: int, seconds: float = 20) -> int:
    try:
        proc.send_signal(sig)
        return proc.wait(timeout=seconds)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def ui_text(page: str, profile: Path, until, tries: int = 3) -> str:
    """The text of `page` as headless Chromium renders it; read again (up to `tries` times) until `until` holds.

    Chromium's virtual time runs the UI's timers faster than a loaded machine's server answers, so one reading
    may catch the page before its runs arrive; a page that never shows them still fails."""
    text = ""
    for _ in range(tries):
        shown = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page],
                               capture_output=True, text=True, timeout=120)
        text = re.sub(r"<[^>]+>", " ", shown.stdout)
        if until(text) and "Can't connect" not in text:
            break
        time.sleep(2)
    return text


def published_runs(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT run_id, status, message FROM runs ORDER BY run_id").fetchall()
    finally:
        con.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is absent (Debian: apt-get install -y chromium)")
def test_the_pasted_line_and_the_ui_reach_the_local_server(tmp_path):
    db = tmp_path / "esf.duckdb"
    proc = start_serve(tmp_path, "--cron", "0 3 1 1 *", "--source", str(SAMPLES), "--db", str(db))
    log = tmp_path / "serve.log"
    try:
        api = wait_for(proc, log, PASTE).group(1)
        name = wait_for(proc, log, r"prefect deployment run 'esf-refresh/(esf-[0-9a-f]{6})'").group(1)
        # esf status, from a shell that knows nothing: the live serve's server says when the next night is
        status_env = {k: v for k, v in serve_env(tmp_path).items() if k != "PREFECT_API_URL"}
        before = subprocess.run(esf_command() + ["status", "--db", str(db)], cwd=ROOT, env=status_env,
                                capture_output=True, text=True, timeout=120)
        assert before.returncode == 2 and "nothing published yet" in before.stderr  # no night has run yet
        # the UI asks /ui-settings where its API is: this server, not Prefect's default port 4200
        settings = requests.get(api.removesuffix("/api") + "/ui-settings", timeout=10).json()
        assert settings["api_url"] == api
        # the hint, from a shell that only pasted the printed line (and has a Prefect home of its own)
        shell = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        shell.update(PREFECT_API_URL=api, PREFECT_HOME=str(tmp_path / "shell-prefect"), COLUMNS="200")
        prefect = [str(Path(os.sys.executable).with_name("prefect"))]
        triggered = subprocess.run(prefect + ["deployment", "run", f"esf-refresh/{name}"], env=shell,
                                   capture_output=True, text=True, timeout=120)
        assert triggered.returncode == 0, triggered.stdout + triggered.stderr
        deadline = time.monotonic() + 180
        while [status for _, status, _ in published_runs(db)] != ["succeeded"]:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        status = subprocess.run(esf_command() + ["status", "--db", str(db), "--format", "json"], cwd=ROOT,
                                env=status_env, capture_output=True, text=True, timeout=120)
        assert status.returncode == 0, status.stderr
        found = json.loads(status.stdout)
        assert (found["next_night"], found["next_night_note"]) == ("2027-01-01T03:00:00+00:00", f"esf-refresh/{name}")
        deployment = requests.get(f"{api}/deployments/name/esf-refresh/{name}", timeout=10).json()
        listed = subprocess.run(prefect + ["flow-run", "ls", "--flow-name", "esf-refresh"], env=shell,
                                capture_output=True, text=True, timeout=120)
        assert listed.returncode == 0 and "COMPLETED" in listed.stdout
        # the browser: the deployment's page lists its completed run, not "Can't connect to Server API"
        run_name = requests.post(f"{api}/flow_runs/filter", json={}, timeout=10).json()[0]["name"]
        page = f"{api.removesuffix('/api')}/deployments/deployment/{deployment['id']}?tab=Runs"
        text = ui_text(page, tmp_path / "profile", until=lambda text: "Completed" in text and run_name in text)
        assert "Can't connect" not in text, text[-2000:]
        assert "Completed" in text and run_name in text, text[-2000:]
        rc = stop(proc, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    output = log.read_text()
    assert rc == 0, output[-2000:]
    assert "esf serve: stopped by SIGTERM" in output
    assert "Warning" not in output and "Traceback" not in output and "never awaited" not in output, output[-2000:]


def test_a_second_serve_of_the_same_deployment_with_other_options_is_refused(prefect_api, tmp_path):
    env = serve_env(tmp_path, PREFECT_API_URL=prefect_api, PREFECT_RUNNER_POLL_FREQUENCY="2")
    first = start_serve(tmp_path, "--name", "shared", "--cron", "0 3 1 1 *", "--source", str(SAMPLES),
                        "--db", str(tmp_path / "a.duckdb"), env=env, log_name="a.log")
    try:
        wait_for(first, tmp_path / "a.log", r"Serving esf-refresh/shared")
        deadline = time.monotonic() + 60
        while not requests.get(f"{prefect_api}/deployments/name/esf-refresh/shared", timeout=10).json().get(
                "last_polled"):
            assert time.monotonic() < deadline
            time.sleep(1)
        second = subprocess.run(esf_command() + ["serve", "--name", "shared", "--source", str(SAMPLES), "--db",
                                                 str(tmp_path / "b.duckdb")],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        assert second.stderr.strip().splitlines()[-1] == (
            f"esf: the deployment esf-refresh/shared is served by another live process with other parameters "
            f"(db='{tmp_path / 'a.duckdb'}'); stop that one, or pass another --name")
        deployment = requests.get(f"{prefect_api}/deployments/name/esf-refresh/shared", timeout=10).json()
        assert deployment["parameters"]["db"] == str(tmp_path / "a.duckdb")  # the first one's stands
        assert stop(first, signal.SIGINT) == 130
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)


def test_a_background_serve_from_a_script_stops_on_sigint(tmp_path):
    """A shell starts a background job with SIGINT ignored; `esf serve` installs its handler anyway."""
    pidfile = tmp_path / "serve.pid"
    command = " ".join(f"'{a}'" for a in esf_command() + ["serve", "--cron", "0 3 1 1 *", "--source", str(SAMPLES),
                                                          "--db", str(tmp_path / "esf.duckdb")])
    script = subprocess.Popen(["sh", "-c", f"{command} > '{tmp_path / 'serve.log'}' 2>&1 & echo $! > '{pidfile}'; wait"],
                              cwd=ROOT, env=serve_env(tmp_path), start_new_session=True)
    try:
        deadline = time.monotonic() + 150
        while "Serving esf-refresh/" not in (tmp_path / "serve.log").read_text() if (tmp_path / "serve.log").exists() else True:
            assert time.monotonic() < deadline and script.poll() is None
            time.sleep(0.3)
        pid = int(pidfile.read_text())
        ignored = int(re.search(r"SigIgn:\s+([0-9a-f]+)", Path(f"/proc/{pid}/status").read_text()).group(1), 16)
        children = descendants(pid)
        os.kill(pid, signal.SIGINT)
        assert script.wait(timeout=20) == 0
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
    output = (tmp_path / "serve.log").read_text()
    assert not ignored & (1 << (signal.SIGINT - 1)), "esf serve still ignores SIGINT"
    assert "esf serve: stopped by SIGINT" in output and "Traceback" not in output
    assert wait_gone(children, 10) == []


def test_sigterm_mid_night_ends_it_cancelled_and_interrupted(tmp_path):
    """Stopping `esf serve` while a night runs: the night's flow run is Cancelled (not Crashed) and its
    `runs` row says `interrupted`; no warning or traceback."""
    from demo.site import DemoSite
    db = tmp_path / "esf.duckdb"
    with DemoSite(400, seed=14) as site:
        proc = start_serve(tmp_path, "--cron", "0 3 1 1 *", "--source", site.url + "/resultat/projektbanken/",
                           "--db", str(db), "--delay", "0.05", "--allow-shrink",
                           env=serve_env(tmp_path, PREFECT_RUNNER_POLL_FREQUENCY="1"))
        log = tmp_path / "serve.log"
        try:
            api = wait_for(proc, log, PASTE).group(1)
            name = wait_for(proc, log, r"Serving esf-refresh/(\S+)\.").group(1)
            deployment = requests.get(f"{api}/deployments/name/esf-refresh/{name}", timeout=10).json()
            requests.post(f"{api}/deployments/{deployment['id']}/create_flow_run", json={}, timeout=10).raise_for_status()
            deadline = time.monotonic() + 180
            while sum(1 for r in site.requests if "rojekt" in r.path and r.status == 200) < 60:
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.1)
            rc = stop(proc, signal.SIGTERM)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    output = log.read_text()
    assert rc == 0, output[-3000:]
    assert "Traceback" not in output and "never awaited" not in output, output[-3000:]
    con = sqlite3.connect(tmp_path / "esf.prefect" / "prefect.db")
    try:
        states = con.execute("SELECT state_type FROM flow_run WHERE state_type <> 'SCHEDULED'").fetchall()
    finally:
        con.close()
    assert states == [("CANCELLED",)], output[-3000:]
    work = duckdb.connect(str(db.with_name("esf.work.duckdb")), read_only=True)
    try:
        (status, message), = work.execute("SELECT status, message FROM runs").fetchall()
    finally:
        work.close()
    assert status == "interrupted" and message == "interrupted by SIGTERM; nothing published", output[-3000:]
