"""What a night costs under `esf serve`, the way the nightly refresh really runs: one long-lived `esf serve`
with its own Prefect server; night 1 builds the warehouse from nothing, later nights find ~1 % of the pages
changed. Each night is a flow run of the `esf-refresh/nightly` deployment, started through the API; its
cost is the time from the runner taking it (state Pending, before the flow-run process starts) to its
end. Prints figures; asserts nothing.

    python bench/bench_serve.py [--pages 10000] [--nights 3] [--source folder|http|both]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench import write_pages  # noqa: E402
from bench.machine import machine  # noqa: E402
from demo.site import DemoSite  # noqa: E402

DEPLOYMENT = "esf-refresh/nightly"


def start_serve(source: str, db: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`esf serve` on a schedule that never comes during the bench; → the process and its API URL."""
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_RUNNER_POLL_FREQUENCY": "1",
           "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--name", "nightly", "--cron", "0 3 1 1 *", "--source", source,
                             "--db", str(db), "--delay", "0"], cwd=ROOT, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"Started a local Prefect server: (http://127\.0\.0\.1:\d+)", log.read_text())
        if found:
            return proc, found.group(1) + "/api"
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    raise SystemExit(f"esf serve did not start:\n{log.read_text()[-3000:]}")


def night(api: str) -> tuple[float, float, str]:
    """Run one night now; → (seconds from Pending to the end, of which before Running, final state)."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings
    with temporary_settings({PREFECT_API_URL: api}):
        deadline = time.monotonic() + 60
        while True:  # the deployment appears once `esf serve` has registered it
            try:
                run = run_deployment(DEPLOYMENT, timeout=None, poll_interval=1)
                break
            except ObjectNotFound:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        with get_client(sync_client=True) as client:
            states = sorted(client.read_flow_run_states(run.id), key=lambda s: s.timestamp)
    at = {s.type.value: s.timestamp for s in states}
    pending = at["PENDING"]
    end = states[-1]
    outcome = end.type.value if end.type.value == "COMPLETED" else f"{end.type.value}: {end.message}"
    return (end.timestamp - pending).total_seconds(), (at.get("RUNNING", pending) - pending).total_seconds(), outcome


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def bench(kind: str, n: int, nights: int, work: Path, say=print) -> tuple[float, list[float]]:
    """Night 1 from nothing, then `nights - 1` nights with ~1 % changed; → (night 1's seconds, the later ones')."""
    folder, db = work / f"pages-{kind}", work / kind / "esf.duckdb"
    db.parent.mkdir(parents=True)
    write_pages(folder, n)
    site = DemoSite(n) if kind == "http" else None
    source = (site.__enter__().url + "/resultat/projektbanken/") if site else str(folder)
    proc, api = start_serve(source, db, work / f"serve-{kind}.log")
    try:
        full, full_start, state = night(api)
        after_first = rss_mb(proc.pid)
        say(f"{kind}: night 1 (full build, {n:,} pages): {full:.1f} s ({full_start:.1f} s before Running), {state}; "
            f"esf serve {after_first:.0f} MB")
        later = []
        for version in range(1, nights):
            if site:
                site.set_version(version)
            else:
                write_pages(folder, n, version=version)
            seconds, start, state = night(api)
            later.append(seconds)
            say(f"{kind}: night {version + 1} (~1 % changed): {seconds:.2f} s = {seconds / full:.1%} of night 1 "
                f"({start:.2f} s before Running), {state}; esf serve {rss_mb(proc.pid):.0f} MB")
        if later:
            say(f"{kind}: median later night {statistics.median(later):.2f} s = "
                f"**{statistics.median(later) / full:.1%} of the full build** (target ≤ 10 %); esf serve's memory "
                f"{after_first:.0f} MB after night 1, {rss_mb(proc.pid):.0f} MB after night {nights}")
    finally:
        stop(proc)
        if site:
            site.__exit__(None, None, None)
    return full, later


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--nights", type=int, default=3)
    ap.add_argument("--source", choices=("folder", "http", "both"), default="both")
    a = ap.parse_args()
    print(machine())
    work = Path(tempfile.mkdtemp(prefix="esf-bench-serve-"))
    try:
        for kind in (("folder", "http") if a.source == "both" else (a.source,)):
            bench(kind, a.pages, a.nights, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
