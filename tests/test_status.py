"""`esf status` and the published file's `runs`: a failed or interrupted night is visible where analysts and
operators look, without its data being published; the next night comes from Prefect when an API knows it."""
from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from conftest import ROOT, SAMPLES, esf_command, esf_env
from analyst.status import read_status
from load.runs_log import publish_runs
from service.run import RunSettings, SourceShrank, refresh


def published(db) -> tuple[list[tuple], list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return (con.execute("SELECT project_id, record_hash FROM projects ORDER BY 1").fetchall(),
                con.execute("SELECT run_id, status, message FROM runs ORDER BY run_id").fetchall())
    finally:
        con.close()


def test_a_failed_night_shows_in_the_published_runs_without_its_data(tmp_path):
    db, pages, empty = tmp_path / "esf.duckdb", tmp_path / "pages", tmp_path / "empty"
    shutil.copytree(SAMPLES, pages)
    empty.mkdir()
    refresh(RunSettings(db=str(db), sources=(str(pages),)))
    projects_before, _ = published(db)
    reader = duckdb.connect(str(db), read_only=True)  # an analyst holding the file open does not stop it
    try:
        with pytest.raises(SourceShrank):
            refresh(RunSettings(db=str(db), sources=(str(empty),)))
        assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == 1  # the reader's view stands
    finally:
        reader.close()
    projects, runs = published(db)
    assert projects == projects_before
    assert [(run_id, status) for run_id, status, _ in runs] == [(1, "succeeded"), (2, "failed")]
    assert runs[1][2].startswith(f"SourceShrank: {empty} yielded no project pages")
    assert not list(tmp_path.glob(".esf.duckdb.publishing-*"))

    status = read_status(db, now=datetime.now(timezone.utc) + timedelta(hours=3))
    assert status.last_attempt["run_id"] == 2 and status.last_attempt["status"] == "failed"
    assert "yielded no project pages" in status.last_attempt["message"]
    assert status.last_success["run_id"] == 1 and status.last_success["new"] == 13
    assert 2.9 < status.data_age_hours < 3.1
    assert not status.healthy


def test_without_a_published_file_there_is_nothing_to_tell(tmp_path):
    assert publish_runs(tmp_path / "esf.duckdb", ["run_id", "status"], [(1, "failed")]) is False
    assert not (tmp_path / "esf.duckdb").exists()


def esf(env, *args):
    return subprocess.run(esf_command() + list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_status_command_text_json_and_exit_codes(tmp_path):
    db = tmp_path / "esf.duckdb"
    env = esf_env("")
    env.pop("PREFECT_API_URL")
    missing = esf(env, "status", "--db", str(db))
    assert missing.returncode == 2
    assert missing.stderr == f"esf: no database at {db}: nothing published yet (run `esf run`, or pass --db)\n"
    refresh(RunSettings(db=str(db), sources=(str(SAMPLES),)))
    result = esf(env, "status", "--db", str(db), "--format", "json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["last_attempt"]["status"] == "succeeded" and found["healthy"] is True
    assert found["last_success"]["run_id"] == 1 and found["data_age_hours"] < 1
    assert found["next_night"] is None and "no Prefect API" in found["next_night_note"]
    text = esf(env, "status", "--db", str(db))
    assert text.returncode == 0
    assert "last attempt:  run 1 succeeded" in text.stdout and "next night:    unknown" in text.stdout
    (tmp_path / "nothing").mkdir()
    with pytest.raises(SourceShrank):
        refresh(RunSettings(db=str(db), sources=(str(tmp_path / "nothing"),)))
    failed = esf(env, "status", "--db", str(db))
    assert failed.returncode == 1 and "last attempt:  run 2 failed" in failed.stdout
    assert "message: SourceShrank:" in failed.stdout and "last success:  run 1 succeeded" in failed.stdout


def test_status_asks_prefect_for_the_next_night(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import IntervalSchedule
    from prefect.states import Scheduled
    from flows.schedule import deployment_name_for
    db = tmp_path / "esf.duckdb"
    refresh(RunSettings(db=str(db), sources=(str(SAMPLES),)))
    night = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=5)
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("esf-refresh")
        deployment = client.create_deployment(
            flow_id=flow_id, name=deployment_name_for(db),
            schedules=[DeploymentScheduleCreate(schedule=IntervalSchedule(interval=timedelta(days=365),
                                                                          anchor_date=night), active=False)])
        client.create_flow_run_from_deployment(deployment, state=Scheduled(scheduled_time=night))
    result = esf(esf_env(prefect_api), "status", "--db", str(db), "--format", "json")
    found = json.loads(result.stdout)
    assert datetime.fromisoformat(found["next_night"]) == night, found
    assert found["next_night_note"] == f"esf-refresh/{deployment_name_for(db)}"
    other = esf(esf_env(prefect_api), "status", "--db", str(db), "--name", "not-deployed", "--format", "json")
    assert json.loads(other.stdout)["next_night_note"] == "no deployment esf-refresh/not-deployed on the Prefect API"
