"""Prefect flows: the run service (service/run.py) with its steps as tasks, retries where I/O happens,
progress and a run report in the UI. No rules of the run live here."""
from __future__ import annotations

import logging
import os
from dataclasses import replace
from datetime import datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff
from prefect.utilities.annotations import quote

from extract.polite import Politeness
from records.errors import run_of
from records.pages import RawPage
from extract.sources import Source
from load import Warehouse, WarehouseBusy, store_raw
from service import reading, run as service
from service.pool import ParsePool
from records.run import BATCH_RETRIES, DELAY_SECONDS, QUALITY_MARGIN
from service.notify import failure_alert, night_alerts
from service.run import BATCH_SIZE, Collected, RunReport, RunSettings

DEFAULT_PARSE_WORKERS = os.cpu_count() or 1  # processes parsing beside the flow's own; 1: parse in the task

log = logging.getLogger("esf.run")

__all__ = ["RunReport", "refresh", "reprocess", "task_runner", "with_runner"]


@task(retries=BATCH_RETRIES, retry_delay_seconds=exponential_backoff(backoff_factor=5), retry_jitter_factor=0.5,
      cache_policy=NO_CACHE)
def read_batch(source: Source, items: list, on_page, done_pages: dict) -> list[RawPage]:
    """Network and disk I/O only: the one step that retries, and a retry reads only the pages not yet read."""
    return reading.read_batch(source, items, on_page, done_pages)


@task(cache_policy=NO_CACHE)
def store_raw_batch(wh: Warehouse, pages: list[RawPage], run_id: int, crawl_rows: list[dict],
                    stored: dict[str, str]) -> int:
    return store_raw(wh, pages, run_id, crawl_rows, stored)


@task(cache_policy=NO_CACHE)
def parse_batch(pool: ParsePool, pages: list[RawPage]):
    """Parse a batch (in the run's pool of processes, if it has one)."""
    return service.parse_raw(pool, pages)


@task(cache_policy=NO_CACHE)
def validate_and_load(wh: Warehouse, run_id: int, started: datetime, collected: Collected):
    return service.validate_and_load(wh, run_id, started, collected)


class TaskSteps(service.Steps):
    """The run's steps as Prefect tasks. Arguments are quoted: Prefect need not walk 500 pages looking
    for futures, and every task runner passes them through unchanged. `batch_retries`: how often a batch's
    reading is tried again (a setting of the run, `--batch-retries`)."""

    batch_retries = BATCH_RETRIES

    # Prefect's typed overloads of a task call do not take quote(...) (which only stops Prefect from walking the
    # argument); the calls are as its documentation writes them, hence the ignores.
    def read(self, source, items, on_page):
        reader = read_batch if self.batch_retries == BATCH_RETRIES else read_batch.with_options(
            retries=self.batch_retries)
        return reader(quote(source), quote(items), quote(on_page), quote({}))  # type: ignore[call-overload]

    def store(self, wh, pages, run_id, crawl_rows, stored):
        return store_raw_batch(quote(wh), quote(pages), run_id, quote(crawl_rows), quote(stored))  # type: ignore[call-overload]

    def parse(self, pages):
        return parse_batch.submit(quote(self.pool), quote(pages))  # type: ignore[call-overload]

    def load(self, wh, run_id, started, collected):
        return validate_and_load(quote(wh), run_id, started, quote(collected))  # type: ignore[call-overload]


def task_runner(name: str = "threads", workers: int | None = None):
    """The task runner for parsing: 'threads' (default), 'processes' (all cores) or 'dask' (prefect-dask)."""
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
    if name == "threads":
        return ThreadPoolTaskRunner(max_workers=workers or 4)
    if name == "processes":
        return ProcessPoolTaskRunner(max_workers=workers or os.cpu_count())
    if name == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise ValueError("the dask runner needs the optional extra: pip install -e '.[dask]'") from None
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers or os.cpu_count(), "processes": True})
    raise ValueError(f"unknown task runner {name!r}: use threads, processes or dask")


def with_runner(flow_fn, runner: str = "threads", workers: int | None = None):
    """The flow with the parse step on the chosen task runner."""
    return flow_fn.with_options(task_runner=task_runner(runner, workers))


def _on_failure(flow, flow_run, state) -> None:
    """Failure hook: one clear line in Prefect's log (the `runs` row was written by the run itself)."""
    from prefect.logging import get_logger
    get_logger("esf").error("ESF flow run %r failed: %s (parameters: %s)", flow_run.name, state.message,
                            {k: v for k, v in (flow_run.parameters or {}).items() if k != "user_agent"})


@flow(name="esf-refresh", log_prints=True, on_failure=[_on_failure])
def refresh(sources: list[str], db: str = "esf.duckdb", batch_size: int = BATCH_SIZE,
            delay_seconds: float = DELAY_SECONDS, user_agent: str | None = None, retry_backoff_seconds: float = 2.0,
            without_contacts: bool = False, parse_workers: int = DEFAULT_PARSE_WORKERS,
            allow_shrink: bool = False, rehash: bool = False, report_html: str | None = None,
            memory: str | None = None, notify_url: str | None = None, batch_retries: int = BATCH_RETRIES,
            quality_margin: float = QUALITY_MARGIN):
    """Discover → read → store raw → parse → validate → load → publish (→ the HTML report, with `report_html`).

    Parameters as `esf run`'s options: `sources` (folders, .zip files, URLs; `urls:FILE` for a URL list), `db`
    (the published file; the run's own files sit beside it), `notify_url` (a webhook for alerts),
    `batch_retries` (reading a batch again), `quality_margin` (points a core field's fill rate may fall before
    an alert). An interrupted night ends Cancelled, a failed one Failed."""
    if delay_seconds < 0 or retry_backoff_seconds < 0 or batch_size < 1:
        raise ValueError("delay, retry backoff and batch size must not be negative")
    politeness = Politeness(delay_seconds=delay_seconds, backoff_seconds=retry_backoff_seconds)
    if user_agent:
        politeness = replace(politeness, user_agent=user_agent)
    settings = RunSettings(db=db, sources=tuple(sources), batch_size=batch_size, politeness=politeness,
                           without_contacts=without_contacts, parse_workers=parse_workers,
                           allow_shrink=allow_shrink, rehash=rehash, memory=memory, holder=_holder("esf run"))
    try:
        return _reported(service.refresh, settings, report_html, notify_url, batch_retries, quality_margin)
    except WarehouseBusy as exc:
        return _refused(exc)


@flow(name="esf-reprocess", log_prints=True, on_failure=[_on_failure])
def reprocess(db: str = "esf.duckdb", batch_size: int = BATCH_SIZE, without_contacts: bool = False,
              parse_workers: int = DEFAULT_PARSE_WORKERS, memory: str | None = None,
              notify_url: str | None = None):
    """Re-parse the latest stored version of every page with the current parser; no network."""
    settings = RunSettings(db=db, batch_size=batch_size, without_contacts=without_contacts,
                           parse_workers=parse_workers, memory=memory, holder=_holder("esf reprocess"))
    return _reported(service.reprocess, settings, notify_url=notify_url)


def _refused(exc: WarehouseBusy) -> object:
    """Another writer holds the warehouse. Under `esf run` the CLI says so in one line; a night of `esf serve`
    fails with that one line too, not with the traceback Prefect logs for an exception (the night did nothing)."""
    from prefect.runtime import deployment
    from prefect.states import Failed
    if not deployment.id:
        raise exc
    log.error("the night did not run: %s", exc)
    return Failed(message=f"the night did not run: {exc}")


def _holder(command: str) -> str:
    """Who this flow run is, for the lock file: a night of `esf serve` (a run of its deployment), or `command`."""
    from prefect.runtime import deployment
    return "an esf serve night" if deployment.id else command


def _reported(run, settings: RunSettings, report_html: str | None = None, notify_url: str | None = None,
              batch_retries: int = BATCH_RETRIES, quality_margin: float = QUALITY_MARGIN):
    """Run with progress shown (bar, log lines, Prefect artifact), file the report as an artifact and send the
    night's alerts. An interrupt ends the flow run Cancelled (a deliberate stop, not a crash); the caller
    learns of it as Prefect's CancelledRun."""
    from prefect.states import Cancelled
    from flows.alerts import send
    from flows.progress import RunProgress
    esf = logging.getLogger("esf")
    if esf.level == logging.NOTSET:  # a flow-run process `esf serve` started: its lines at INFO, like Prefect's
        esf.setLevel(logging.INFO)
    progress = RunProgress(artifact=_progress_artifact())
    steps = type("Steps", (TaskSteps,), {"batch_retries": batch_retries})
    try:
        report = run(settings, steps, progress)
    except BaseException as exc:
        stopped_by = service.interrupt_signal(exc)
        if stopped_by:
            return Cancelled(message=f"interrupted by {stopped_by}; nothing published")
        send([failure_alert(settings.db, run_of(exc), exc, isinstance(exc, service.SourceShrank))], notify_url)
        raise
    finally:
        progress.close()
    _publish_report_artifact(report)
    send(night_alerts(report, settings.db, quality_margin), notify_url)
    if report_html and report.published:
        _file_html_report(report.published, report_html)
    return report


def _file_html_report(db: str, out: str) -> None:
    """Write the analysts' HTML report from the published file and file a Markdown artifact ('esf-report')
    with where it is and how to open it (a file:// link would not open from the browser's UI)."""
    from prefect.artifacts import create_markdown_artifact
    from analyst.report import write
    try:
        path = write(db, out).resolve()
        size = path.stat().st_size
        create_markdown_artifact(key="esf-report", markdown=(
            f"### ESF report\n\nThe analysts' report of this night, built from `{db}`.\n\n"
            f"- file: `{path}` ({size / 1024:.0f} KB, one self-contained HTML page that opens offline)\n"
            f"- open it on the machine that ran the night: `xdg-open {path}`, or copy it where analysts "
            f"read it\n- rebuild it at any time: `esf report --db {db} --out {path}`"),
            description=f"The analysts' report, built from {db}")
        log.info("report written: %s", path)
    except Exception as exc:  # a report that cannot be written must not fail a published run
        log.warning("could not write the HTML report %s: %s", out, exc)


def _progress_artifact():
    """A function that moves the run's Prefect progress artifact, or None when none can be made."""
    from prefect.artifacts import create_progress_artifact, update_progress_artifact
    try:
        artifact = create_progress_artifact(progress=0.0, key="esf-run-progress", description="Pages read and parsed")
    except Exception:
        return None
    return lambda percent: update_progress_artifact(artifact, progress=percent)  # type: ignore[arg-type]


def _publish_report_artifact(report: RunReport) -> None:
    """The run report as a Prefect table and markdown artifact (key 'esf-run-report')."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact
    from analyst.run_report import run_report
    try:
        create_table_artifact(key="esf-run-report-counts", table=[{"count": k, "pages": v} for k, v in report.counts.as_dict().items()],
                              description=f"Run {report.run_id}: {report.status}")
        body = run_report(report, markdown=True).replace("\n", "  \n")
        create_markdown_artifact(key="esf-run-report", markdown=f"### ESF refresh\n\n{body}",
                                 description=f"Run {report.run_id}: {report.status}")
    except Exception as exc:  # a report that cannot be filed must not fail a finished run
        log.warning("could not create the run report artifact: %s", exc)
