"""The repository's prefect.yaml on a Prefect server a team runs: a real `prefect server start` on 127.0.0.1,
a process work pool, `prefect deploy` from another directory, and a real `prefect worker start` that picks up
the deployment's run and completes it. Marked `deploy` (slow: a server and a worker): `pytest -m deploy`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import requests

from conftest import ROOT, SAMPLES

pytestmark = pytest.mark.deploy

PREFECT = [sys.executable, "-m", "prefect"]


def prefect_env(home: Path, api: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ESF_"))}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", COLUMNS="200",
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    if api:
        env["PREFECT_API_URL"] = api
    return env


def prefect(env: dict, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(PREFECT + ["--no-prompt", *args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"prefect {' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_prefect_yaml_deploys_to_a_process_pool_and_a_worker_completes_the_night(tmp_path):
    from flows.server import free_port, healthy
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    home = tmp_path / "server-home"
    server = subprocess.Popen(PREFECT + ["server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=prefect_env(home), stdout=open(tmp_path / "server.log", "w"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    worker = None
    elsewhere = tmp_path / "elsewhere"  # deploy and work from a directory that is not the checkout
    elsewhere.mkdir()
    db = tmp_path / "warehouse" / "esf.duckdb"
    try:
        deadline = time.monotonic() + 180
        while not healthy(api):
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-3000:]
            time.sleep(0.5)
        env = prefect_env(tmp_path / "client-home", api)
        prefect(env, elsewhere, "work-pool", "create", "esf-test", "--type", "process")
        prefect(env, elsewhere, "deploy", "--prefect-file", str(ROOT / "prefect.yaml"), "--name", "esf-nightly",
                "--pool", "esf-test", "--param", f"db={db}", "--param", f"sources={json.dumps([str(SAMPLES)])}")
        deployment = requests.get(f"{api}/deployments/name/esf-refresh/esf-nightly", timeout=10).json()
        assert deployment["entrypoint"] == "flows.pipeline.refresh" and deployment["pull_steps"] == []
        assert deployment["parameters"]["db"] == str(db) and deployment["work_pool_name"] == "esf-test"
        assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 2 * * *"]
        worker = subprocess.Popen(PREFECT + ["worker", "start", "--pool", "esf-test", "--prefetch-seconds", "5"],
                                  cwd=elsewhere, env={**env, "PREFECT_WORKER_QUERY_SECONDS": "2"},
                                  stdout=open(tmp_path / "worker.log", "w"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        run = prefect(env, elsewhere, "deployment", "run", "esf-refresh/esf-nightly")
        run_id = next(line.split("UUID:")[1].strip() for line in run.stdout.splitlines() if "UUID:" in line)
        deadline = time.monotonic() + 300
        while True:
            state = requests.get(f"{api}/flow_runs/{run_id}", timeout=10).json()["state"]["type"]
            if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                break
            assert time.monotonic() < deadline and worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(2)
        assert state == "COMPLETED", (tmp_path / "worker.log").read_text()[-3000:]
        the_readmes_automation_notifies_of_a_shrunk_night(api, env, elsewhere, tmp_path)
    finally:
        for proc in (worker, server):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    con = duckdb.connect(str(db), read_only=True)
    try:
        # the worker's good night published 13 projects; the shrunk one only its runs row
        assert con.execute("SELECT status, new FROM runs ORDER BY run_id").fetchall() == [("succeeded", 13),
                                                                                           ("failed", None)]
        assert con.execute("SELECT count(*) FROM projects").fetchone()[0] == 13
    finally:
        con.close()


def the_readmes_automation_notifies_of_a_shrunk_night(api: str, env: dict, cwd: Path, tmp_path: Path) -> None:
    """The automation of README *Scheduling* (its YAML as written there), with a webhook notification block
    pointing at a receiver on 127.0.0.1: a night whose source shrank reaches the receiver through Prefect."""
    import re
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from test_alerts import Receiver
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"# prefect automation create --from-file esf-alerts.yaml\n(.*?)```", readme, re.S).group(1)
    receiver = Receiver()
    try:
        with temporary_settings({PREFECT_API_URL: api}):
            block_id = CustomWebhookNotificationBlock(name="ops", url=receiver.url,
                                                      json_data={"text": "{{subject}} | {{body}}"}).save("ops-email")
        automation = tmp_path / "esf-alerts.yaml"
        automation.write_text("\n".join(line[2:] for line in example.replace("<id of ops-email>", str(block_id))
                                         .splitlines()))
        prefect(env, cwd, "automation", "create", "--from-file", str(automation))
        empty = tmp_path / "empty"
        empty.mkdir()
        prefect(env, cwd, "deployment", "run", "esf-refresh/esf-nightly", "--param",
                f"sources={json.dumps([str(empty)])}")
        deadline = time.monotonic() + 240
        while not receiver.received:
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(1)
    finally:
        receiver.close()
    text = receiver.received[0][2]["text"]
    assert text.startswith("ESF night: esf.night.shrunk | SourceShrank: ")
    assert f"{empty} yielded no project pages" in text and "(run 2, " in text
