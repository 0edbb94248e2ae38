"""The nightly deployment `esf-refresh/<name>`, served by `esf serve` until it is stopped; what `esf status` asks
Prefect about it."""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from datetime import datetime, timezone
from collections.abc import Callable
from pathlib import Path

from records.run import NIGHT_RETRIES
from records.errors import UsageError

log = logging.getLogger("esf.serve")

FLOW = "esf-refresh"
LIVE_SECONDS = 60  # a served deployment polled within this long, and not paused, has a live `esf serve`


class ServeConflict(UsageError):
    """Another live process serves this deployment with other parameters."""


def deployment_name_for(db: str | os.PathLike) -> str:
    """The default deployment name of a warehouse: its file's stem and a short hash of its full path, so two
    warehouses (even two `esf.duckdb` in different folders) never share a deployment."""
    path = Path(db).resolve()
    return f"{path.stem}-{hashlib.sha1(str(path).encode()).hexdigest()[:6]}"


def serving_file(db: str | os.PathLike) -> Path:
    """Where `esf serve` notes its API and deployment for `esf status` (in the warehouse's Prefect state)."""
    from flows.server import prefect_home_for
    return prefect_home_for(db) / "serving.json"


def note_serving(db: str | os.PathLike, api_url: str, deployment: str) -> Path:
    path = serving_file(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"api_url": api_url, "deployment": f"{FLOW}/{deployment}", "pid": os.getpid()}))
    return path


def serving_of(db: str | os.PathLike) -> dict | None:
    """What a live `esf serve` of this warehouse noted (None: none noted, or its process is gone)."""
    try:
        noted = json.loads(serving_file(db).read_text())
        os.kill(int(noted["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return noted


def check_not_served_elsewhere(deployment: str, parameters: dict) -> None:
    """Refuse (ServeConflict, one line) when another live process serves `esf-refresh/<deployment>` with other
    parameters: a second `esf serve` would silently take its schedule and database over."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    with get_client(sync_client=True) as client:
        try:
            found = client.read_deployment_by_name(f"{FLOW}/{deployment}")
        except ObjectNotFound:
            return
    polled = found.last_polled
    live = polled is not None and not found.paused and \
        (datetime.now(timezone.utc) - polled).total_seconds() < LIVE_SECONDS
    differ = sorted(k for k in set(parameters) | set(found.parameters or {})
                    if _same(parameters.get(k)) != _same((found.parameters or {}).get(k)))
    if live and differ:
        shown = ", ".join(f"{k}={(found.parameters or {}).get(k)!r}" for k in differ[:3])
        raise ServeConflict(f"the deployment {FLOW}/{deployment} is served by another live process with other "
                            f"parameters ({shown}); stop that one, or pass another --name")


def _same(value):
    return json.dumps(value, sort_keys=True, default=str)


def drop_missed_runs(flow_name: str = FLOW, deployment: str = "nightly", parameters: dict | None = None) -> int:
    """Of the scheduled runs whose time passed while `esf serve` was down, keep the latest (one catch-up)
    and cancel the rest; → how many were cancelled. With `parameters`, every run still scheduled (the catch-up
    included) takes them: a night runs with the options of the command now serving, not of the one before."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (DeploymentFilter, DeploymentFilterId, FlowRunFilter,
                                                FlowRunFilterExpectedStartTime, FlowRunFilterState,
                                                FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Cancelled
    scheduled = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
    with get_client(sync_client=True) as client:
        try:
            found = client.read_deployment_by_name(f"{flow_name}/{deployment}")
        except ObjectNotFound:
            return 0
        of_deployment = DeploymentFilter(id=DeploymentFilterId(any_=[found.id]))
        missed = client.read_flow_runs(
            deployment_filter=of_deployment,
            flow_run_filter=FlowRunFilter(
                state=scheduled, expected_start_time=FlowRunFilterExpectedStartTime(
                    before_=datetime.now(timezone.utc))),  # type: ignore[arg-type]  # a datetime is what it takes
            sort=FlowRunSort.EXPECTED_START_TIME_DESC)
        for run in missed[1:]:
            client.set_flow_run_state(run.id, Cancelled(message="missed while esf serve was stopped; "
                                                                "only the latest missed night runs"), force=True)
        if parameters is not None:
            for run in client.read_flow_runs(deployment_filter=of_deployment,
                                             flow_run_filter=FlowRunFilter(state=scheduled)):
                if run.id not in {r.id for r in missed[1:]} and run.parameters != parameters:
                    client.update_flow_run(run.id, parameters=parameters)
    if len(missed) > 1:
        log.warning("%d nights were missed while esf serve was stopped: the latest runs now, %d cancelled",
                    len(missed), len(missed) - 1)
    return max(len(missed) - 1, 0)


def next_night(deployment: str, flow_name: str = FLOW) -> tuple[str | None, str]:
    """→ (the expected start of the deployment's next scheduled run as ISO text, or None; a note saying which
    deployment, or why it is unknown). Asks the Prefect API of this process's settings."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (DeploymentFilter, DeploymentFilterId, FlowRunFilter,
                                                FlowRunFilterState, FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound
    full = f"{flow_name}/{deployment}"
    with get_client(sync_client=True) as client:
        try:
            found = client.read_deployment_by_name(full)
        except ObjectNotFound:
            return None, f"no deployment {full} on the Prefect API"
        if found.paused:
            return None, f"{full} is paused (no live esf serve or worker runs it)"
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[found.id])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=1)
    if not runs or runs[0].expected_start_time is None:
        return None, f"{full} has no scheduled run"
    return runs[0].expected_start_time.astimezone(timezone.utc).isoformat(timespec="seconds"), full


def _runner_class():
    """Prefect's Runner, but SIGTERM stops it as SIGINT does: as our `Interrupted`, raised where the event loop
    is, so the runner's own shutdown (pause the schedule, cancel the night in progress) runs as the loop ends.
    Prefect's handler calls the async `stop()` without awaiting it ('coroutine Runner.astop was never awaited')."""
    from prefect.runner import Runner
    from service.run import Interrupted

    class _Runner(Runner):
        def handle_sigterm(self, *args: object, **kwargs: object) -> None:
            raise Interrupted("SIGTERM")

    return _Runner


def serve_nightly(cron: str, tz: str, parameters: dict, name: str = "nightly",
                  night_retries: int = NIGHT_RETRIES, on_ready: Callable[[], object] | None = None) -> None:
    """Register the deployment `esf-refresh/<name>` and run its scheduled flow runs, one at a time, until
    interrupted; a failed night is run again `night_retries` times. `on_ready` runs once it is registered."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.client.schemas.schedules import CronSchedule
    from flows.pipeline import refresh
    _Runner = _runner_class()
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "esf")  # esf's log lines in the UI, for flow runs
    from flows.warm import warm_flow_runs
    from service.children import end_children
    drop_missed_runs(FLOW, name, parameters)
    nightly = refresh.with_options(retries=night_retries, retry_delay_seconds=60) if night_retries else refresh
    runner = _Runner(name=name, pause_on_shutdown=True, limit=1)
    runner.add_flow(nightly, name=name, schedule=CronSchedule(cron=cron, timezone=tz), parameters=parameters,
                    concurrency_limit=ConcurrencyLimitConfig(limit=1,
                                                             collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
                    tags=["esf"], description="Nightly refresh of the ESF project bank warehouse.")
    if on_ready:
        on_ready()
    try:
        with warm_flow_runs():
            asyncio.run(runner.start())
    finally:  # a flow run the runner started (or prefetched) ends while the API can still record it
        serving_file(parameters["db"]).unlink(missing_ok=True)
        stopped = end_children()
        if stopped:
            log.warning("stopped %d flow-run process(es) that did not end by themselves: %s",
                        len(stopped), ", ".join(map(str, stopped)))
