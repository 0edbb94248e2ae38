"""Alerts reach the operator: a failed or shrunk night and a data-quality alarm are POSTed to `--notify URL`
(a receiver on 127.0.0.1 here) and emitted as Prefect events an automation can match."""
from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import ROOT, SAMPLES, esf_command, esf_env
from load.quality import Quality
from service.notify import Alert, post_webhook, quality_alarms


class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every JSON body it is sent; `status` is what it answers."""

    def __init__(self, status: int = 200) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, self.headers["Content-Type"], json.loads(body)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/esf"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_a_core_field_that_empties_out_is_an_alarm_a_small_dip_is_not():
    fill = [("C", "2014-2020", "owner", 2, 50.0, 100.0),          # fell 50 points: alarm
            ("C", "2014-2020", "region", 2, 90.0, 100.0),         # fell 10: within the margin
            ("C", "2014-2020", "call_number", 2, 0.0, 100.0),     # not a core field
            ("A", "2007-2013", "owner", 5, 100.0, None)]          # new template: nothing to compare
    alarms = quality_alarms(Quality(run_id=2, previous_run_id=1, fill=fill), margin=20)
    assert alarms == [{"template": "C", "period": "2014-2020", "field": "owner", "projects": 2,
                       "filled_pct": 50.0, "previous_pct": 100.0}]
    assert quality_alarms(Quality(run_id=2, previous_run_id=1, fill=fill), margin=60) == []
    assert quality_alarms(Quality(run_id=1, previous_run_id=None, fill=fill)) == []


def test_a_webhook_that_fails_is_a_warning_not_an_error(caplog):
    bad = Receiver(status=500)
    try:
        alert = Alert("failed", 3, "failed", "boom", "/srv/esf.duckdb")
        assert post_webhook(bad.url, alert) is False
        assert bad.received[0][2]["event"] == "esf.night.failed"
    finally:
        bad.close()
    assert post_webhook("http://127.0.0.1:9/nothing", alert, timeout=2) is False
    assert any("could not send the esf.night.failed alert" in m for m in caplog.messages)


def test_a_notify_that_is_not_a_url_is_a_usage_error(tmp_path):
    result = subprocess.run(esf_command() + ["run", "--db", str(tmp_path / "esf.duckdb"), "--notify", "hooks.example.org"],
                            cwd=ROOT, env=esf_env(""), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == "esf: --notify needs an http:// or https:// URL, not 'hooks.example.org'\n"


def esf_run(prefect_api, *args):
    return subprocess.run(esf_command() + ["run", "--no-summary", "--quiet", *args], cwd=ROOT,
                          env=esf_env(prefect_api), capture_output=True, text=True, timeout=300)


def events_about(prefect_api: str, name: str, resource: str, seconds: float = 30) -> list[dict]:
    """The events `name` about `resource` the server has stored (it stores them a few seconds after they come)."""
    deadline = time.monotonic() + seconds
    while True:
        found = requests.post(f"{prefect_api}/events/filter", timeout=10,
                              json={"filter": {"event": {"name": [name]}}, "limit": 50})
        found.raise_for_status()
        events = [e for e in found.json()["events"] if e["resource"]["prefect.resource.id"] == resource]
        if events or time.monotonic() > deadline:
            return events
        time.sleep(1)


def test_quality_alarm_and_shrunk_night_reach_the_webhook_and_prefect(prefect_api, tmp_path, receiver):
    pages, db = tmp_path / "pages", tmp_path / "esf.duckdb"
    shutil.copytree(SAMPLES, pages)
    first = esf_run(prefect_api, "--source", str(pages), "--db", str(db), "--notify", receiver.url)
    assert first.returncode == 0, first.stderr
    assert receiver.received == []  # a good night sends nothing
    # a redesign: template C's 2014–2020 text page loses its owner label; the other C page of the period keeps it
    page = pages / "c-2019-00512-kustporten.txt"
    page.write_text(page.read_text(encoding="utf-8").replace(
        "Projektägare:\nKustkommunernas samordningsförbund i Kalmar län\n", ""), encoding="utf-8")
    second = esf_run(prefect_api, "--source", str(pages), "--db", str(db), "--notify", receiver.url)
    assert second.returncode in (0, 3), second.stderr
    assert len(receiver.received) == 1
    path, content_type, body = receiver.received[0]
    assert path == "/hooks/esf" and content_type == "application/json"
    assert body["event"] == "esf.night.quality" and body["kind"] == "quality" and body["run_id"] == 2
    assert body["db"] == str(db) and body["counts"]["changed"] == 1
    assert {"template": "C", "period": "2014-2020", "field": "owner", "projects": 2, "filled_pct": 50.0,
            "previous_pct": 100.0} in body["details"]
    assert "fell by more than 20 points" in body["message"]

    empty = tmp_path / "empty"
    empty.mkdir()
    third = esf_run(prefect_api, "--source", str(empty), "--db", str(db), "--notify", receiver.url)
    assert third.returncode == 1
    body = receiver.received[1][2]
    assert body["event"] == "esf.night.shrunk" and body["status"] == "failed" and body["run_id"] == 3
    assert body["message"] == f"SourceShrank: {empty} yielded no project pages (use --allow-shrink if that is expected)"

    shrunk = events_about(prefect_api, "esf.night.shrunk", f"esf.warehouse.{db}")
    quality = events_about(prefect_api, "esf.night.quality", f"esf.warehouse.{db}")
    assert len(shrunk) == 1 and shrunk[0]["payload"]["run_id"] == 3
    assert len(quality) == 1 and quality[0]["payload"]["details"][0]["field"] == "owner"


def test_a_first_night_that_fails_names_its_run_in_the_alert(prefect_api, tmp_path, receiver):
    """Nothing is published yet, so only the failure itself can say which run it ended."""
    empty, db = tmp_path / "empty", tmp_path / "esf.duckdb"
    empty.mkdir()
    result = esf_run(prefect_api, "--source", str(empty), "--db", str(db), "--notify", receiver.url)
    assert result.returncode == 1 and not db.exists()
    (body,) = [body for _, _, body in receiver.received]
    assert body["event"] == "esf.night.shrunk" and body["run_id"] == 1


def test_a_run_marks_its_failure_with_its_id_and_a_failure_before_it_has_one_with_none(tmp_path):
    from records.errors import run_of
    from service.run import RunSettings, SourceShrank, refresh
    from load.warehouse import Warehouse, WarehouseBusy, raw_path_for
    from load import work_path_for
    empty, db = tmp_path / "empty", tmp_path / "esf.duckdb"
    empty.mkdir()
    with pytest.raises(SourceShrank) as shrank:
        refresh(RunSettings(db=str(db), sources=(str(empty),)))
    assert run_of(shrank.value) == 1
    with Warehouse(work_path_for(db), raw_path_for(db)):  # another run holds the warehouse
        with pytest.raises(WarehouseBusy) as locked:
            refresh(RunSettings(db=str(db), sources=(str(empty),)))
    assert run_of(locked.value) is None
