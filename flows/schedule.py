"""The nightly deployment `esf-refresh/nightly`, served by `esf serve` until it is stopped."""
from __future__ import annotations

import logging
import os
from datetime import datetime, timezone

log = logging.getLogger("esf.serve")

DEPLOYMENT = "nightly"


def drop_missed_runs(flow_name: str = "esf-refresh", deployment: str = DEPLOYMENT) -> int:
    """Of the scheduled runs whose time passed while `esf serve` was down, keep the latest (one catch-up)
    and cancel the rest; → how many were cancelled."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (DeploymentFilter, DeploymentFilterId, FlowRunFilter,
                                                FlowRunFilterExpectedStartTime, FlowRunFilterState,
                                                FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Cancelled
    with get_client(sync_client=True) as client:
        try:
            found = client.read_deployment_by_name(f"{flow_name}/{deployment}")
        except ObjectNotFound:
            return 0
        missed = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[found.id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                expected_start_time=FlowRunFilterExpectedStartTime(before_=datetime.now(timezone.utc))),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC)
        for run in missed[1:]:
            client.set_flow_run_state(run.id, Cancelled(message="missed while esf serve was stopped; "
                                                                "only the latest missed night runs"), force=True)
    if len(missed) > 1:
        log.warning("%d nights were missed while esf serve was stopped: the latest runs now, %d cancelled",
                    len(missed), len(missed) - 1)
    return max(len(missed) - 1, 0)


def serve_nightly(cron: str, tz: str, parameters: dict) -> None:
    """Register the deployment and run its scheduled flow runs, one at a time, until interrupted."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.client.schemas.schedules import CronSchedule
    from flows.pipeline import refresh
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "esf")  # esf's log lines in the UI, for flow runs
    from flows.warm import warm_flow_runs
    from service.children import end_children
    drop_missed_runs()
    try:
        with warm_flow_runs():
            refresh.serve(name=DEPLOYMENT, schedule=CronSchedule(cron=cron, timezone=tz), parameters=parameters,
                          global_limit=ConcurrencyLimitConfig(
                              limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
                          limit=1, tags=["esf"], description="Nightly refresh of the ESF project bank warehouse.")
    finally:  # a flow run the runner started (or prefetched) ends while the API can still record it
        stopped = end_children()
        if stopped:
            log.warning("stopped %d flow-run process(es) that did not end by themselves: %s",
                        len(stopped), ", ".join(map(str, stopped)))
