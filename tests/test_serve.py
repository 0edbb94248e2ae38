"""`esf serve`: parameter checks, an unreachable API, and a real scheduled run on a local Prefect server."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import requests

from conftest import ROOT, SAMPLES, descendants, esf_command, esf_env, wait_gone


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


def test_a_second_serve_of_a_served_database_is_refused(tmp_path):
    """What a live `esf serve` notes beside the warehouse stops a second one before it starts a server."""
    import json
    db = tmp_path / "esf.duckdb"
    (tmp_path / "esf.prefect").mkdir()
    (tmp_path / "esf.prefect" / "serving.json").write_text(json.dumps(
        {"api_url": "http://127.0.0.1:9/api", "deployment": "esf-refresh/esf-abc123", "pid": os.getpid()}))
    result = esf_serve(tmp_path, "--db", str(db))
    assert result.returncode == 2
    assert result.stderr == (f"esf: esf serve (pid {os.getpid()}) already serves {db} as esf-refresh/esf-abc123: "
                             f"stop it first\n")
    (tmp_path / "esf.prefect" / "serving.json").write_text(json.dumps(  # a serve that died: not in the way
        {"api_url": "http://127.0.0.1:9/api", "deployment": "esf-refresh/esf-abc123", "pid": 2 ** 22 + 1}))
    gone = esf_serve(tmp_path, "--db", str(db), PREFECT_API_URL="http://127.0.0.1:9/api")
    assert gone.returncode == 1 and "does not answer" in gone.stderr


def test_unreachable_api_says_how_to_fix_it(tmp_path):
    result = esf_serve(tmp_path, PREFECT_API_URL="http://127.0.0.1:9/api")
    assert result.returncode == 1
    assert "does not answer" in result.stderr and "PREFECT_API_URL" in result.stderr
    assert "Traceback" not in result.stderr


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def published_runs(db) -> list[tuple]:
    if not db.exists():
        return []
    con = duckdb.connect(str(db), read_only=True)
    try:
        # pages read and parsed (the raw store is the running serve's own file: not opened here)
        return con.execute("SELECT run_id, status, coalesce(new, 0) + coalesce(changed, 0) + coalesce(unchanged, 0) "
                           "FROM runs ORDER BY run_id").fetchall()
    finally:
        con.close()


def change_pages(pages, night: int, count: int = 5) -> None:
    """New bytes in `count` pages (more than the parse pool's threshold), so the next night parses them."""
    for path in sorted(pages.glob("*.txt"))[:count]:
        path.write_text(path.read_text(encoding="utf-8") + f"\nUppdaterad natt {night}.\n", encoding="utf-8")


def test_serve_runs_night_after_night_then_stops_cleanly(tmp_path):
    """Two consecutive runs, one asked for at once and the next on the one-minute schedule, each parsing changed
    pages (a run that kept its parse pool would hold the deployment's only slot and the scheduled night would be
    skipped);
    Ctrl-C then stops `esf serve` and its server within 10 s."""
    pages = tmp_path / "pages"
    shutil.copytree(SAMPLES, pages)
    db = tmp_path / "esf.duckdb"
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen(esf_command() + ["serve", "--name", "nightly", "--cron", "* * * * *", "--timezone", "UTC",
                                             "--source", str(pages), "--db", str(db)],
                            cwd=ROOT, env=serve_env(tmp_path, PREFECT_RUNNER_POLL_FREQUENCY="1"), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, runs = time.monotonic() + 240, []
        start_a_night_now(proc, tmp_path / "serve.log", "esf-refresh/nightly", deadline)  # the next one by cron
        while time.monotonic() < deadline and proc.poll() is None and len(runs) < 2:
            time.sleep(2)
            latest = published_runs(db)
            if len(latest) > len(runs):
                runs = latest
                change_pages(pages, len(runs))
        output = (tmp_path / "serve.log").read_text()
        assert len(runs) >= 2, output[-3000:]
        assert [status for _, status, _ in runs] == ["succeeded"] * len(runs)
        assert all(stored >= 5 for _, _, stored in runs), runs  # every night stored (and parsed) new bytes
        port = re.search(r"Started a local Prefect server: http://127\.0\.0\.1:(\d+)", output).group(1)
        assert requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5).ok
        home = tmp_path / "esf.prefect"  # Prefect's state beside the warehouse, not in PREFECT_HOME
        assert (home / "prefect.db").exists() and (home / "server.log").exists()
        assert not (tmp_path / "prefect" / "prefect.db").exists()
        children = descendants(proc.pid)
        assert any("multiprocessing.forkserver" in cmdline(pid) and "flows.pipeline" in cmdline(pid)
                   for pid in children), "no warm forkserver starts the nights"
        stopped = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C on a terminal
        rc = proc.wait(timeout=10)
        took = time.monotonic() - stopped
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    output = (tmp_path / "serve.log").read_text()
    assert rc in (0, 130) and took < 10, output[-2000:]
    assert "esf serve: stopped by SIGINT; the local Prefect server is stopped" in output
    assert wait_gone(children, 5) == []
    try:
        requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
        still_up = True
    except requests.ConnectionError:
        still_up = False
    assert not still_up, "the local Prefect server outlived `esf serve`"


def test_after_a_restart_only_the_latest_missed_night_runs(prefect_api):
    """Nights whose time passed while `esf serve` was stopped: the latest stays scheduled (one catch-up),
    the older ones are cancelled; a night still to come is left alone."""
    from datetime import datetime, timedelta, timezone
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled
    from flows.schedule import drop_missed_runs
    now = datetime.now(timezone.utc)
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("esf-missed-nights")
        deployment = client.create_deployment(flow_id=flow_id, name="nightly")
        runs = {days: client.create_flow_run_from_deployment(
                    deployment, state=Scheduled(scheduled_time=now + timedelta(days=days))).id
                for days in (-4, -3, -2, -1, 1)}
        cancelled = drop_missed_runs("esf-missed-nights")
        states = {days: client.read_flow_run(run_id).state for days, run_id in runs.items()}
    assert cancelled == 3
    assert {days: s.type.value for days, s in states.items()} == {
        -4: "CANCELLED", -3: "CANCELLED", -2: "CANCELLED", -1: "SCHEDULED", 1: "SCHEDULED"}
    assert "missed while esf serve was stopped" in states[-4].message


def test_the_catch_up_night_takes_the_parameters_of_the_command_now_running(prefect_api):
    """A restart with other options: the night that catches up, and the nights already scheduled, run with
    the new command's parameters, not with those the runs were created with."""
    from datetime import datetime, timedelta, timezone
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled
    from flows.schedule import drop_missed_runs
    now = datetime.now(timezone.utc)
    old, new = {"db": "/srv/old.duckdb", "report_html": "/srv/r.html"}, {"db": "/srv/old.duckdb", "report_html": None}
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("esf-new-options")
        deployment = client.create_deployment(flow_id=flow_id, name="nightly", parameters=old)
        runs = {days: client.create_flow_run_from_deployment(
                    deployment, parameters=old, state=Scheduled(scheduled_time=now + timedelta(days=days))).id
                for days in (-2, -1, 1)}
        drop_missed_runs("esf-new-options", "nightly", new)
        after = {days: client.read_flow_run(run_id) for days, run_id in runs.items()}
    assert after[-2].state.type.value == "CANCELLED"
    assert after[-1].state.type.value == "SCHEDULED" and after[-1].parameters == new  # the catch-up
    assert after[1].parameters == new


def test_two_warehouses_of_the_same_name_get_deployments_of_their_own(tmp_path):
    from flows.schedule import deployment_name_for
    a, b = tmp_path / "a" / "esf.duckdb", tmp_path / "b" / "esf.duckdb"
    assert deployment_name_for(a) != deployment_name_for(b)
    assert deployment_name_for(a) == deployment_name_for(tmp_path / "a" / ".." / "a" / "esf.duckdb")
    assert re.fullmatch(r"esf-[0-9a-f]{6}", deployment_name_for(a))


def test_no_deployment_yet_means_nothing_to_drop(prefect_api):
    from flows.schedule import drop_missed_runs
    assert drop_missed_runs("esf-never-deployed") == 0


def _sleep_ignoring(signals: tuple[int, ...], ready, seconds: float) -> None:
    for sig in signals:
        signal.signal(sig, signal.SIG_IGN)
    ready.set()
    time.sleep(seconds)


def test_flow_run_processes_that_do_not_end_are_stopped_before_the_server():
    """What `esf serve` does after its runner returns: children that end by themselves are waited for; one
    stuck (it ignores SIGINT, as a flow run starting up did) is terminated; one that ignores SIGTERM too is
    killed. Left alone, multiprocessing would join them at exit and `esf serve` would never end."""
    import multiprocessing
    from service.children import end_children
    ctx = multiprocessing.get_context("spawn")
    ready = [ctx.Event(), ctx.Event(), ctx.Event()]
    quick = ctx.Process(target=_sleep_ignoring, args=((), ready[0], 0.5))
    stuck = ctx.Process(target=_sleep_ignoring, args=((signal.SIGINT,), ready[1], 600))
    deaf = ctx.Process(target=_sleep_ignoring, args=((signal.SIGINT, signal.SIGTERM), ready[2], 600))
    for process in (quick, stuck, deaf):
        process.start()
    assert all(event.wait(60) for event in ready)  # their handlers are in place
    stopped = end_children(grace=3.0, term_wait=2.0)
    assert sorted(stopped) == sorted([stuck.pid, deaf.pid])
    assert quick.exitcode == 0 and stuck.exitcode == -signal.SIGTERM and deaf.exitcode == -signal.SIGKILL
    assert multiprocessing.active_children() == []


PROBE_FLOW = '''
import json, os, sys
from prefect import flow

@flow
def probe(out: str) -> None:
    with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
        parent = f.read().replace(b"\\0", b" ").decode()
    with open(out, "w") as f:
        json.dump({"pid": os.getpid(), "parent": parent, "preloaded": "wave" in sys.modules}, f)
'''

PROBE_RUN = '''
import os, sys
import prefect.flow_engine as engine
from flows.warm import warm_flow_runs
from probe_flow import probe

if __name__ == "__main__":
    with warm_flow_runs(preload=("wave",)):
        process = engine.run_flow_in_subprocess(probe, parameters={"out": sys.argv[1]})
        process.join(60)
    print(type(process).__name__, process.exitcode, os.getpid())
'''


def test_flow_runs_are_forked_from_a_forkserver_that_imported_the_pipeline(tmp_path, prefect_api):
    """What `esf serve` does to Prefect's runner: a flow run's process is a fork of a forkserver that
    imported the preloaded modules once (not a fresh interpreter); the engine is given back afterwards."""
    import json
    (tmp_path / "probe_flow.py").write_text(PROBE_FLOW)
    (tmp_path / "probe_run.py").write_text(PROBE_RUN)
    out = tmp_path / "child.json"
    env = esf_env(prefect_api, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    result = subprocess.run([sys.executable, str(tmp_path / "probe_run.py"), str(out)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    kind, exitcode, runner_pid = result.stdout.split()[-3:]
    child = json.loads(out.read_text())
    assert (kind, exitcode) == ("NightProcess", "0")
    assert "multiprocessing.forkserver" in child["parent"] and "wave" in child["parent"]
    assert child["preloaded"] and child["pid"] != int(runner_pid)


def test_the_warm_start_gives_the_engine_back(monkeypatch):
    import multiprocessing
    import prefect.flow_engine as engine
    from flows import warm
    from flows.warm import warm_flow_runs
    monkeypatch.setattr(warm, "start_forkserver", lambda preload: None)  # not this process's forkserver
    before = engine.multiprocessing
    with warm_flow_runs(preload=()):
        assert engine.multiprocessing.get_context("spawn").get_start_method() == "forkserver"
        assert engine.multiprocessing.get_context("fork").get_start_method() == "fork"
        assert engine.multiprocessing.cpu_count() == multiprocessing.cpu_count()
    assert engine.multiprocessing is before


def start_a_night_now(proc: subprocess.Popen, log: Path, deployment: str, deadline: float) -> None:
    """Ask the local server of a running `esf serve` for a night now (as `prefect deployment run` would),
    rather than wait for its cron."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings
    api = None
    while api is None and time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"Started a local Prefect server: (http://127\.0\.0\.1:\d+)", log.read_text())
        api = found and found.group(1) + "/api"
        time.sleep(0.3)
    assert api, log.read_text()[-3000:]
    with temporary_settings({PREFECT_API_URL: api}):
        while True:  # the deployment is there once the runner has registered it
            try:
                run_deployment(deployment, timeout=0)
                return
            except Exception:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(1)


def test_kill_9_of_esf_serve_mid_night_leaves_no_process_behind(tmp_path):
    """`esf serve` killed outright while a night is parsing: the night's process, its parse workers, the
    forkserver and the Prefect server all end with it; none keeps the warehouse locked for the next start."""
    from demo.site import DemoSite
    db = tmp_path / "esf.duckdb"
    with DemoSite(400, seed=13) as site:
        log = open(tmp_path / "serve.log", "w")
        proc = subprocess.Popen(esf_command() + ["serve", "--name", "nightly", "--cron", "0 3 1 1 *", "--timezone", "UTC", "--source",
                                                 site.url + "/resultat/projektbanken/", "--db", str(db),
                                                 "--delay", "0.03"],
                                cwd=ROOT, env=serve_env(tmp_path, PREFECT_RUNNER_POLL_FREQUENCY="1"), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            start_a_night_now(proc, tmp_path / "serve.log", "esf-refresh/nightly", deadline)
            while sum(1 for r in site.requests if "rojekt" in r.path and r.status == 200) < 120:
                assert time.monotonic() < deadline and proc.poll() is None, \
                    (tmp_path / "serve.log").read_text()[-3000:]
                time.sleep(0.05)
            children = descendants(proc.pid)
            proc.kill()
            proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        assert len(children) >= 3  # the server, the forkserver, the night (and its parse workers)
        left = wait_gone(children, 10)
        described = [cmdline(pid)[:120] for pid in left]
        for pid in left:  # do not leave them to the next test
            os.kill(pid, signal.SIGKILL)
        assert left == [], described


def test_a_night_that_finds_the_warehouse_locked_says_who_in_one_line(tmp_path):
    """A night of `esf serve` that finds another writer (here this test, as `esf run`) holding the warehouse:
    one line naming that writer and its pid, no traceback (without --debug), and `esf serve` goes on."""
    from load.warehouse import Warehouse, work_path_for
    db = tmp_path / "esf.duckdb"
    log = open(tmp_path / "serve.log", "w")
    with Warehouse(work_path_for(db), holder="esf run"):
        proc = subprocess.Popen(esf_command() + ["serve", "--name", "nightly", "--cron", "0 3 1 1 *", "--timezone",
                                                 "UTC", "--source", str(SAMPLES), "--db", str(db)],
                                cwd=ROOT, env=serve_env(tmp_path, PREFECT_RUNNER_POLL_FREQUENCY="1"), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline, output = time.monotonic() + 150, ""
            start_a_night_now(proc, tmp_path / "serve.log", "esf-refresh/nightly", deadline)
            while time.monotonic() < deadline and proc.poll() is None and "Finished in state Failed" not in output:
                time.sleep(2)
                output = (tmp_path / "serve.log").read_text()
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    output = (tmp_path / "serve.log").read_text()
    assert f"the night did not run: esf run (pid {os.getpid()}) is writing {work_path_for(db)}" in output, output
    assert "Traceback" not in output and 'File "' not in output, output[-3000:]
    assert "another esf run" not in output
