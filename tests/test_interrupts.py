"""A run stopped by SIGINT, SIGTERM or kill -9: it ends quickly, says so, leaves no process behind, and
the next run cleans up what a dead one left. The run is a real `esf run` process against the local site."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, SAMPLES, descendants, esf_command, esf_env, wait_gone
from demo.site import DemoSite
from extract.polite import Politeness
from load import work_path_for
from service.run import RunSettings, refresh

LISTING = "/resultat/projektbanken/"


def start_run(site: DemoSite, db: Path, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(esf_command() + ["run", "--source", site.url + LISTING, "--db", str(db),
                                             "--batch-size", "40", "--delay", "0.03", "--no-summary",
                                             "--parse-workers", "2"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"),
                            start_new_session=True)


def wait_until_parsing(proc: subprocess.Popen, site: DemoSite, pages: int = 120) -> None:
    """Until the run has fetched `pages` project pages (so batches have gone to the parse workers)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(1 for r in site.requests if "rojekt" in r.path and r.status == 200) >= pages:
            return
        time.sleep(0.05)
    raise AssertionError(f"the run did not get going (exit {proc.poll()})")


def status_of_runs(db: Path) -> list[tuple]:
    con = duckdb.connect(str(work_path_for(db)), read_only=True)
    try:
        return con.execute("SELECT run_id, status, message FROM runs ORDER BY run_id").fetchall()
    finally:
        con.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def published_data(db: Path) -> tuple[list[tuple], list[tuple]]:
    """The published file's projects (its data) and its runs (which a night that publishes nothing still writes)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return (con.execute("SELECT project_id, record_hash, run_id FROM projects ORDER BY 1").fetchall(),
                con.execute("SELECT run_id, status, message FROM runs ORDER BY run_id").fetchall())
    finally:
        con.close()


def flow_run_states(prefect_home: Path) -> list[tuple[str, str]]:
    """(state type, state name) of every flow run in a local server's own database, oldest first."""
    import sqlite3
    con = sqlite3.connect(prefect_home / "prefect.db")
    try:
        return con.execute("SELECT state_type, state_name FROM flow_run ORDER BY created").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_at_once_and_publishes_nothing(sig, code, tmp_path):
    """Ctrl-C reaches the whole process group, as on a terminal; SIGTERM only the run, as a scheduler
    sends it. Without PREFECT_API_URL the run starts (and must stop) its own Prefect server."""
    db = tmp_path / "esf.duckdb"
    env = esf_env("", ESF_DUCKDB_MEMORY="256MB")
    env.pop("PREFECT_API_URL")
    refresh(RunSettings(db=str(db), sources=(str(SAMPLES),)))  # a published file the signal must not touch
    before, _ = published_data(db)
    with DemoSite(400, seed=11) as site:
        proc = start_run(site, db, env, tmp_path / "run.log")
        wait_until_parsing(proc, site)
        children = descendants(proc.pid)
        stopped = time.monotonic()
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        try:
            rc = proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        took = time.monotonic() - stopped
    stderr = (tmp_path / "run.log").read_text()
    assert rc == code, stderr[-2000:]
    assert took < 10
    assert stderr.strip().splitlines()[-1] == f"esf: interrupted ({sig.name}); nothing published"
    assert "Traceback" not in stderr
    assert len(children) >= 2  # the Prefect server and the parse pool, at least
    assert wait_gone(children, 5) == []
    projects, runs = published_data(db)
    assert projects == before  # nothing of the night is published ...
    assert runs == status_of_runs(db)  # ... but its runs row is, beside the last good night's
    assert runs[-1][1:] == ("interrupted", f"interrupted by {sig.name}; nothing published")
    # a deliberate stop is Cancelled in Prefect, not Crashed (a crash alert must not fire on every restart)
    assert flow_run_states(tmp_path / "esf.prefect")[-1] == ("CANCELLED", "Cancelled")


def test_after_kill_9_nothing_is_left_running_and_the_next_run_cleans_up(prefect_api, tmp_path):
    db = tmp_path / "esf.duckdb"
    with DemoSite(400, seed=12) as site:
        proc = start_run(site, db, esf_env(prefect_api), tmp_path / "run.log")
        wait_until_parsing(proc, site)
        children = descendants(proc.pid)
        proc.kill()
        proc.wait()
        assert children and wait_gone(children, 10) == []  # parse workers, forkserver, resource tracker
        lock = work_path_for(db).with_name(work_path_for(db).name + ".lock")
        assert lock.read_text() == f"pid {proc.pid}\nesf run"
        leftover = db.with_name(f".{db.name}.publishing-{proc.pid}")  # as a kill during publish leaves it
        leftover.write_bytes(b"half a database")
        report = refresh(RunSettings(db=str(db), sources=(site.url + LISTING,),
                                     politeness=Politeness(delay_seconds=0.0)))
    assert not leftover.exists()
    assert f"removed {leftover.name}, left by a run that died while publishing" in report.notes
    assert f"the previous run (pid {proc.pid}) died without closing the warehouse" in report.notes
    assert [row[1] for row in status_of_runs(db)] == ["aborted", "succeeded"]
    assert report.counts.new == 400 and lock.read_text() == ""


def test_a_run_killed_after_loading_but_before_publishing_is_not_recorded_as_succeeded(tmp_path, monkeypatch):
    from service import run as service
    db = tmp_path / "esf.duckdb"
    refresh(RunSettings(db=str(db), sources=(str(SAMPLES),)))

    def die(*args, **kwargs):  # as if the process were killed between the load's commit and the publish
        raise SystemExit("killed")
    monkeypatch.setattr(service, "publish", die)
    monkeypatch.setattr(service, "record_failure", lambda *a: None)  # a killed process records nothing
    with pytest.raises(SystemExit):
        refresh(RunSettings(db=str(db), sources=(str(SAMPLES),)))
    monkeypatch.undo()
    assert status_of_runs(db)[-1][1] == "succeeded"  # what the dead run left in its own file
    refresh(RunSettings(db=str(db), sources=(str(SAMPLES),)))
    runs = status_of_runs(db)
    assert [r[1] for r in runs] == ["succeeded", "aborted", "succeeded"]
    assert runs[1][2].startswith("loaded, but the process ended before publishing")



def _query_interrupted_by(signal_error: BaseException) -> RuntimeError:
    """What DuckDB raises when a signal lands mid-query (checked by hand with a real SIGINT: a live query in a
    test leaves DuckDB's threads running at exit on a busy machine)."""
    try:
        try:
            raise signal_error
        except BaseException as cause:
            raise RuntimeError("Query interrupted") from cause
    except RuntimeError as exc:
        return exc


def test_a_signal_inside_a_duckdb_query_counts_as_the_interrupt():
    """The run must record 'interrupted', not 'failed', when the signal surfaced as DuckDB's error."""
    from service.run import Interrupted, interrupt_signal
    assert interrupt_signal(_query_interrupted_by(KeyboardInterrupt())) == "SIGINT"
    assert interrupt_signal(_query_interrupted_by(Interrupted("SIGTERM"))) == "SIGTERM"
    assert interrupt_signal(RuntimeError("Query interrupted")) is None  # no signal behind it: a failure
    assert interrupt_signal(_query_interrupted_by(ValueError("bad value"))) is None
