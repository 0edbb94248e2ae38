"""Prefect flows. They wire the steps together, batch, retry and log; the work is in the step packages."""
from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from time import perf_counter

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.tasks import exponential_backoff  # noqa: E402
from prefect.utilities.annotations import quote  # noqa: E402

from extract.polite import Politeness  # noqa: E402
from extract.records import RawPage  # noqa: E402
from extract.sources import Source, open_source  # noqa: E402
from load import (Warehouse, has_body, known_pages, latest_hashes, latest_raw_pages, load_run,  # noqa: E402
                  loaded_hashes, publish, run_status, store_raw, stored_pages, unloaded_keys, work_path_for)
from schemas.validate import validate  # noqa: E402
from transform import ParsedPage, parse_pages  # noqa: E402
from transform.batch import fetch_failure_row, problem_rows, resolve_duplicates  # noqa: E402

BATCH_SIZE = 500
DEFAULT_PARSE_WORKERS = os.cpu_count() or 1  # processes parsing beside the flow's own; 1: parse in the task
MAX_BATCHES_IN_FLIGHT = 4  # parse futures not yet collected: bounds memory to a few batches of bodies


@dataclass
class RunReport:
    run_id: int | None = None
    status: str = "failed"
    counts: dict[str, int] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    top_rejects: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    published: str | None = None


@dataclass
class _Collected:
    """What the batches leave behind: parsed pages (no bodies), problem rows and counts."""
    parsed: list[ParsedPage] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    same_bytes: list[str] = field(default_factory=list)  # read again, bytes unchanged: not parsed
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("seen", "skipped", "not_modified", "gone", "failed"), 0))


@task(retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=5), retry_jitter_factor=0.5,
      cache_policy=NO_CACHE)
def read_batch(source: Source, items: list) -> list[RawPage]:
    """Network and disk I/O only: the one step that retries."""
    return source.read(items)


@task(cache_policy=NO_CACHE)
def store_raw_batch(wh: Warehouse, pages: list[RawPage], run_id: int, crawl_rows: list[dict],
                    stored: dict[str, str]) -> int:
    return store_raw(wh, pages, run_id, crawl_rows, stored)


_parse_pool = None


def parse_pool(workers: int):
    """Worker processes for parsing, started once from a clean forkserver (cheap, unlike a Prefect
    process runner, whose workers each start a Prefect engine: about 5 s apiece here)."""
    global _parse_pool
    if _parse_pool is None and workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["transform"])
        _parse_pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    return _parse_pool


class Batch:
    """Pages handed to a task as one opaque object: Prefect need not walk 500 pages to find futures in
    them, and every task runner (threads, processes, Dask) passes it through unchanged."""

    def __init__(self, pages: list[RawPage]):
        self.pages = pages


@task(cache_policy=NO_CACHE)
def parse_batch(batch: Batch, workers: int = 1) -> list[ParsedPage]:
    """Parse the batch's pages (each has a body: the caller keeps the others out), in the pool if any."""
    work = [(p.body, p.source_key, p.url, p.content_type, p.sha256) for p in batch.pages]
    pool = parse_pool(workers)
    if pool is None or len(work) < 2 * workers:
        return parse_pages(work)
    size = -(-len(work) // workers)
    return [page for part in pool.map(parse_pages, [work[i:i + size] for i in range(0, len(work), size)])
            for page in part]


@task(cache_policy=NO_CACHE)
def validate_and_load(wh: Warehouse, run_id: int, started, collected: _Collected) -> tuple[dict[str, int], list[dict]]:
    good = [p for p in collected.parsed if p.ok]
    kept, superseded = resolve_duplicates(good)
    validated = validate(kept)
    problems = collected.problems + validated.rejects
    problems += [row for p in collected.parsed for row in problem_rows(p) if row["severity"] == "warning"
                 or not p.ok]
    counts = {**collected.counts, "duplicates": len(superseded),
              "rejected": (len(collected.parsed) - len(good)) + len({r["source_key"] for r in validated.rejects}),
              "warnings": sum(1 for r in problems if r["severity"] == "warning")}
    return load_run(wh, run_id, started, validated, problems, counts, collected.same_bytes), problems


def _tally(pages: list[RawPage], collected: _Collected) -> None:
    c = collected.counts
    for page in pages:
        if page.failed:
            c["failed"] += 1
            collected.problems.append(fetch_failure_row(page.source_key, page.error))
        elif page.http_status == 304:
            c["not_modified"] += 1
        elif page.http_status in (404, 410):
            c["gone"] += 1


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
    """Failure hook: one clear line in Prefect's log (the `runs` row was written by the flow itself)."""
    from prefect.logging import get_logger
    get_logger("esf").error("ESF flow run %r failed: %s (parameters: %s)", flow_run.name, state.message,
                            {k: v for k, v in (flow_run.parameters or {}).items() if k != "user_agent"})


@flow(name="esf-refresh", log_prints=True, on_failure=[_on_failure])
def refresh(sources: list[str], db: str = "esf.duckdb", batch_size: int = BATCH_SIZE,
            delay_seconds: float = 1.0, user_agent: str | None = None, retry_backoff_seconds: float = 2.0,
            without_contacts: bool = False, parse_workers: int = DEFAULT_PARSE_WORKERS) -> RunReport:
    """Discover → read → store raw → parse → validate → load → publish."""
    if delay_seconds < 0 or retry_backoff_seconds < 0 or batch_size < 1:
        raise ValueError("delay, retry backoff and batch size must not be negative")
    politeness = Politeness(delay_seconds=delay_seconds, backoff_seconds=retry_backoff_seconds,
                            **({"user_agent": user_agent} if user_agent else {}))

    def batches(wh: Warehouse, collected: _Collected, report: RunReport):
        logger = get_run_logger()
        for spec in sources:
            source = open_source(spec, politeness)
            try:
                items, skipped, from_store = source.plan(known_pages(wh), unloaded=unloaded_keys(wh))
                report.notes += source.notes
                resumed = stored_pages(wh, from_store)
                collected.counts["seen"] += source.discovered
                collected.counts["skipped"] += len(skipped)
                logger.info("%s: %d pages found, %d to read, %d unchanged and skipped, %d resumed from the store",
                            spec, source.discovered, len(items), len(skipped), len(resumed))
                if resumed:
                    yield resumed, []
                for i in range(0, len(items), batch_size):
                    chunk = items[i:i + batch_size]
                    pages = read_batch(source, quote(chunk))
                    yield pages, source.crawl_rows(chunk, pages, report.run_id)
            finally:
                source.close()

    return _run(db, sources, batches, store=True, without_contacts=without_contacts, parse_workers=parse_workers)


@flow(name="esf-reprocess", log_prints=True, on_failure=[_on_failure])
def reprocess(db: str = "esf.duckdb", batch_size: int = BATCH_SIZE, without_contacts: bool = False,
              parse_workers: int = DEFAULT_PARSE_WORKERS) -> RunReport:
    """Re-parse the latest stored version of every page with the current parser; no network."""
    def batches(wh: Warehouse, collected: _Collected, report: RunReport):
        for pages in latest_raw_pages(wh, batch_size):
            collected.counts["seen"] += len(pages)
            yield pages, []

    return _run(db, ["raw_pages"], batches, store=False, without_contacts=without_contacts,
                parse_workers=parse_workers)


def _run(db: str, sources: list[str], batches, *, store: bool, without_contacts: bool,
         parse_workers: int) -> RunReport:
    """The shape both flows share: one locked warehouse, a `runs` row, batches, one load, publish.

    Parsing is submitted to the flow's task runner (threads, processes, Dask) while the next batch
    is read; at most a few batches are in flight, so memory stays bounded.
    """
    report, work, t0 = RunReport(), work_path_for(db), perf_counter()
    with Warehouse(work) as wh:
        report.run_id, started = wh.start_run(sources)
        try:
            collected = _Collected()
            parsed_from = loaded_hashes(wh) if store else {}
            stored = latest_hashes(wh) if store else {}
            in_flight: deque = deque()
            progress, done = _Progress(), 0
            for number, (pages, crawl_rows) in enumerate(batches(wh, collected, report), 1):
                _tally(pages, collected)
                if store:
                    store_raw_batch(wh, quote(pages), report.run_id, quote(crawl_rows), quote(stored))
                to_parse = []
                for page in filter(has_body, pages):
                    if parsed_from.get(page.source_key) == page.sha256:
                        collected.same_bytes.append(page.source_key)
                    else:
                        to_parse.append(page)
                in_flight.append(parse_batch.submit(Batch(to_parse), parse_workers))
                while len(in_flight) > MAX_BATCHES_IN_FLIGHT:
                    collected.parsed += in_flight.popleft().result()
                done += len(pages)
                progress.update(done + collected.counts["skipped"], collected.counts["seen"])
            while in_flight:
                collected.parsed += in_flight.popleft().result()
            report.durations["read_parse"] = perf_counter() - t0
            counts, problems = validate_and_load(wh, report.run_id, started, quote(collected))
            report.top_rejects = _top_reasons(problems)
            report.durations["load"] = perf_counter() - t0 - report.durations["read_parse"]
            wh.checkpoint()
            wh.disconnect()  # the lock stays held while the file is copied
            report.published = str(publish(work, db, without_contacts=without_contacts))
            report.counts = counts
            report.status = run_status(counts)
            _publish_report_artifact(report)
        except BaseException as exc:
            _record_failure(wh, report.run_id, exc)
            raise
    report.durations["total"] = perf_counter() - t0
    return report


def _publish_report_artifact(report: RunReport) -> None:
    """The run report as a Prefect table and markdown artifact (key 'esf-run-report')."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact
    from flows.reports import run_report
    try:
        create_table_artifact(key="esf-run-report-counts", table=[{"count": k, "pages": v} for k, v in report.counts.items()],
                              description=f"Run {report.run_id}: {report.status}")
        body = run_report(report).replace("\n", "  \n")
        create_markdown_artifact(key="esf-run-report", markdown=f"### ESF refresh\n\n{body}",
                                 description=f"Run {report.run_id}: {report.status}")
    except Exception as exc:  # a report that cannot be filed must not fail a finished run
        get_run_logger().warning("could not create the run report artifact: %s", exc)


class _Progress:
    """Progress of the batches: a bar in the log (the terminal) and a Prefect progress artifact."""

    def __init__(self) -> None:
        from prefect.artifacts import create_progress_artifact
        self.logger = get_run_logger()
        try:
            self.artifact = create_progress_artifact(progress=0.0, key="esf-run-progress",
                                                     description="Pages read and parsed")
        except Exception:
            self.artifact = None

    def update(self, done: int, total: int) -> None:
        from prefect.artifacts import update_progress_artifact
        share = done / total if total else 1.0
        if share < 1.0 and share - getattr(self, "_shown", -1.0) < 0.1:
            return  # about ten updates a run: each one is a call to the Prefect API
        self._shown = share
        bar = "#" * int(share * 20)
        self.logger.info("[%-20s] %3.0f%%  %d of %d pages", bar, share * 100, done, total)
        if self.artifact:
            try:
                update_progress_artifact(self.artifact, progress=share * 100)
            except Exception:
                self.artifact = None


def _top_reasons(problems: list[dict], n: int = 5) -> list[tuple[str, int]]:
    tally: dict[str, int] = {}
    for row in problems:
        if row["severity"] == "error":
            tally[row["reason"]] = tally.get(row["reason"], 0) + 1
    return sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _record_failure(wh: Warehouse, run_id: int, exc: BaseException) -> None:
    """Say in `runs` that the run failed; the published database was not touched."""
    message = f"{type(exc).__name__}: {exc}"[:2000]
    try:
        wh.connect()
        wh.finish_run(run_id, "failed", message=message)
    except Exception:  # the failure itself is what matters; the log has it
        pass
