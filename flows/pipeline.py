"""Prefect flows. They wire the steps together, batch, retry and log; the work is in the step packages."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from time import perf_counter

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.tasks import exponential_backoff  # noqa: E402

from extract import sources as src  # noqa: E402
from extract.records import RawPage  # noqa: E402
from load import Warehouse, latest_raw_pages, load_run, publish, store_raw, work_path_for  # noqa: E402
from schemas.validate import validate  # noqa: E402
from transform import ParsedPage, parse_page  # noqa: E402
from transform.batch import fetch_failure_row, problem_rows, resolve_duplicates  # noqa: E402

BATCH_SIZE = 500


@dataclass
class RunReport:
    run_id: int | None = None
    status: str = "failed"
    counts: dict[str, int] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    top_rejects: list[tuple[str, int]] = field(default_factory=list)
    published: str | None = None
    message: str | None = None


@dataclass
class _Collected:
    """What the batches leave behind: parsed pages (no bodies) and problem rows."""
    parsed: list[ParsedPage] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    seen: int = 0
    failed: int = 0
    stored: int = 0


@task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=2), retry_jitter_factor=0.5,
      cache_policy=NO_CACHE)
def read_batch(items: list[src.Item], delay_seconds: float) -> list[RawPage]:
    return src.read(items, delay_seconds)


@task(cache_policy=NO_CACHE)
def store_raw_batch(wh: Warehouse, pages: list[RawPage], run_id: int) -> int:
    return store_raw(wh, pages, run_id)


@task(cache_policy=NO_CACHE)
def parse_batch(pages: list[RawPage]) -> list[ParsedPage]:
    return [parse_page(p.body, p.source_key, url=p.url, content_type=p.content_type, sha256=p.sha256)
            for p in pages if not p.failed]


@task(cache_policy=NO_CACHE)
def validate_and_load(wh: Warehouse, run_id: int, started, collected: _Collected) -> tuple[dict[str, int], list[dict]]:
    good = [p for p in collected.parsed if p.ok]
    kept, superseded = resolve_duplicates(good)
    validated = validate(kept)
    problems = collected.problems + validated.rejects
    problems += [row for p in collected.parsed for row in problem_rows(p) if row["severity"] == "warning"
                 or not p.ok]
    counts = {
        "seen": collected.seen, "failed": collected.failed, "duplicates": len(superseded),
        "rejected": (len(collected.parsed) - len(good)) + len({r["source_key"] for r in validated.rejects}),
        "warnings": sum(1 for r in problems if r["severity"] == "warning"),
    }
    return load_run(wh, run_id, started, validated, problems, counts), problems


def _ingest(wh: Warehouse, run_id: int, batches, collected: _Collected, store: bool) -> None:
    logger = get_run_logger()
    for number, pages in enumerate(batches, 1):
        collected.seen += len(pages)
        for page in pages:
            if page.failed:
                collected.failed += 1
                collected.problems.append(fetch_failure_row(page.source_key, page.error))
        if store:
            collected.stored += store_raw_batch(wh, pages, run_id)
        collected.parsed += parse_batch(pages)
        logger.info("batch %d: %d pages read, %d seen so far", number, len(pages), collected.seen)


@flow(name="esf-refresh", log_prints=True)
def refresh(sources: list[str], db: str = "esf.duckdb", batch_size: int = BATCH_SIZE,
            delay_seconds: float = 1.0, without_contacts: bool = False) -> RunReport:
    """Discover → read → store raw → parse → validate → load → publish."""
    def batches(wh: Warehouse):
        items = [item for source in sources for item in src.discover(source)]
        for i in range(0, len(items), batch_size):
            yield read_batch(items[i:i + batch_size], delay_seconds)

    return _run(db, sources, batches, store=True, without_contacts=without_contacts)


@flow(name="esf-reprocess", log_prints=True)
def reprocess(db: str = "esf.duckdb", batch_size: int = BATCH_SIZE, without_contacts: bool = False) -> RunReport:
    """Re-parse the latest stored version of every page with the current parser; no network."""
    return _run(db, ["raw_pages"], lambda wh: latest_raw_pages(wh, batch_size), store=False,
                without_contacts=without_contacts)


def _run(db: str, sources: list[str], batches, *, store: bool, without_contacts: bool) -> RunReport:
    """The shape both flows share: one locked warehouse, a `runs` row, batches, one load, publish."""
    report, work, t0 = RunReport(), work_path_for(db), perf_counter()
    with Warehouse(work) as wh:
        report.run_id, started = wh.start_run(sources)
        try:
            collected = _Collected()
            _ingest(wh, report.run_id, batches(wh), collected, store)
            report.durations["read_parse"] = perf_counter() - t0
            counts, problems = validate_and_load(wh, report.run_id, started, collected)
            report.top_rejects = _top_reasons(problems)
            report.durations["load"] = perf_counter() - t0 - report.durations["read_parse"]
            wh.checkpoint()
            wh.disconnect()  # the lock stays held while the file is copied
            report.published = str(publish(work, db, without_contacts=without_contacts))
            report.counts = counts
            report.status = "rejects" if counts.get("rejected") or counts.get("failed") else "succeeded"
        except BaseException as exc:
            _record_failure(wh, report.run_id, exc)
            raise
    report.durations["total"] = perf_counter() - t0
    return report


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
