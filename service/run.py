"""One run, start to end: plan → read → store raw → skip same bytes → parse → dedupe → validate → load
→ publish. Plain functions; `Steps` says how each step executes (inline here, as Prefect tasks in flows/)."""
from __future__ import annotations

import logging
import signal
from functools import partial
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from time import monotonic, perf_counter
from typing import Any

from extract.polite import Politeness
from records.pages import RawPage
from records.problems import ProblemRow
from records.run import RunCounts
from records.status import NOT_MODIFIED, is_gone
from extract.sources import Source, open_source
from load import (Warehouse, has_body, known_pages, latest_hashes, latest_raw_pages, load_run, loaded_hashes,
                  publish, store_raw, stored_pages, unloaded_keys, work_path_for)
from load.lists import ListLoaded, loaded_list_hashes, merged_counts
from load.raw import file_stats, storable
from load.sql import scalar
from load.warehouse import raw_path_for
from load.publish import published_run_id, remove_leftovers
from load.quality import Quality, quality_report
from load.runs_log import publish_runs, runs_rows
from load.sources import last_discovered, record_discovered
from schemas.validate import validate
from service.lists import is_large_new_list, is_list, read_and_stage
from service.pool import ParsePool, done
from service.progress import NoProgress, Progress
from records.project import ParsedPage
from service.privacy import personal_values, redact_report
from service.reading import BATCH_BYTES, read_batch, read_planned
from transform.batch import problem_rows, resolve_duplicates
from records.errors import RunFailed, mark_run

log = logging.getLogger("esf.run")

BATCH_SIZE = 500
NIGHT_SECONDS = 6 * 3600   # no request starts after this long: a night that cannot finish ends, the next resumes
MAX_BATCHES_IN_FLIGHT = 4  # parse futures not yet collected: bounds memory to a few batches of bodies
SHRINK_LIMIT = 0.5         # a source that finds fewer than half of last time's pages fails the run


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop (SIGINT or SIGTERM): it records itself as interrupted and publishes nothing."""

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


class SourceShrank(RunFailed):
    """A source found no project pages, or far fewer than last time: likely a redesign or an outage."""
    consequence = "nothing new published"


@dataclass(frozen=True)
class RunSettings:
    """Everything a run needs, resolved once (by the CLI or the flow's parameters)."""
    db: str
    sources: tuple[str, ...] = ()
    batch_size: int = BATCH_SIZE
    politeness: Politeness = field(default_factory=Politeness)
    without_contacts: bool = False
    parse_workers: int = 1
    allow_shrink: bool = False
    rehash: bool = False  # read every saved file, whatever its stat says
    memory: str | None = None  # DuckDB's memory limit for the run's writer ('1GB'); None: load.memory_limit()
    holder: str = "esf run"  # who this run is, in the lock file: a second writer's refusal names it
    night_seconds: float | None = NIGHT_SECONDS  # the whole night's deadline for requests (None: none)


@dataclass
class RunReport:
    run_id: int | None = None
    status: str = "failed"
    counts: RunCounts = field(default_factory=RunCounts)
    durations: dict[str, float] = field(default_factory=dict)
    top_rejects: list[tuple[str, int]] = field(default_factory=list)
    quality: Any = None  # load.quality.Quality of the run: fill rates, top warnings, new labels, rejects
    notes: list[str] = field(default_factory=list)
    published: str | None = None
    lists: list[ListLoaded] = field(default_factory=list)  # each official list file read


@dataclass
class Collected:
    """What the batches leave behind: parsed pages (no bodies), problem rows and counts."""
    parsed: list[ParsedPage] = field(default_factory=list)
    problems: list[ProblemRow] = field(default_factory=list)
    same_bytes: list[str] = field(default_factory=list)  # read again, bytes unchanged: not parsed
    counts: RunCounts = field(default_factory=RunCounts)  # reading's share: seen, fetched, skipped, failed…


class Steps:
    """The steps as plain calls: reading inline, parsing in the run's pool. flows/ overrides them with tasks."""

    def __init__(self, pool: ParsePool) -> None:
        self.pool = pool

    def read(self, source: Source, items: list[Any], on_page: Callable[[], None] | None) -> list[RawPage]:
        return read_batch(source, items, on_page)

    def store(self, wh: Warehouse, pages: list[RawPage], run_id: int, crawl_rows: list[dict[str, Any]],
              stored: dict[str, str]) -> int:
        return store_raw(wh, pages, run_id, crawl_rows, stored)

    def parse(self, pages: list[RawPage]) -> Any:
        """→ a future of the parsed pages (anything with `.result()`)."""
        return done(parse_raw(self.pool, pages))

    def load(self, wh: Warehouse, run_id: int, started: datetime,
             collected: Collected) -> tuple[RunCounts, list[ProblemRow]]:
        return validate_and_load(wh, run_id, started, collected)


def parse_raw(pool: ParsePool, pages: list[RawPage]) -> list[ParsedPage]:
    return pool.parse([(p.body, p.source_key, p.url, p.content_type, p.sha256) for p in pages])


def validate_and_load(wh: Warehouse, run_id: int, started: datetime,
                      collected: Collected) -> tuple[RunCounts, list[ProblemRow]]:
    """Dedupe, validate, then one load transaction; → (final counts, every problem row)."""
    good = [p for p in collected.parsed if p.ok]
    kept, superseded = resolve_duplicates(good)
    validated = validate(kept)
    problems = collected.problems + validated.rejects + validated.warnings
    problems += [row for p in collected.parsed for row in problem_rows(p) if row.severity == "warning"
                 or not p.ok]
    counts = collected.counts.plus(
        duplicates=len(superseded),
        rejected=(len(collected.parsed) - len(good)) + len({r.source_key for r in validated.rejects}),
        warnings=sum(1 for r in problems if r.severity == "warning"))
    return load_run(wh, run_id, started, validated, problems, counts, collected.same_bytes), problems


# What a run's batches yield: the pages of a batch and the crawl state rows to store with them.
BatchIterator = Iterator[tuple[list[RawPage], list[dict[str, Any]]]]
Batches = Callable[[Warehouse, Collected, RunReport, Steps], BatchIterator]


def refresh(settings: RunSettings, steps: Callable[[ParsePool], Steps] = Steps,
            progress: Progress | None = None) -> RunReport:
    """Discover → read → store raw → parse → validate → load → publish."""
    progress = progress or NoProgress()

    politeness = settings.politeness
    if settings.night_seconds is not None:
        politeness = replace(politeness, stop_at=monotonic() + settings.night_seconds)

    def batches(wh: Warehouse, collected: Collected, report: RunReport, run: Steps) -> BatchIterator:
        run_id = report.run_id
        assert run_id is not None, "the run's row is written before its batches"
        for spec in settings.sources:
            source = open_source(spec, politeness, rehash=settings.rehash,
                                 on_discovery=partial(progress.discovering, spec))
            try:
                plan = source.plan(known_pages(wh), unloaded=unloaded_keys(wh), stats=file_stats(wh))
                items = plan.read
                report.notes += source.notes
                check_discovered(wh, spec, source.discovered, run_id, settings.allow_shrink)
                run.pool.expect(len(items) + len(plan.from_store))
                collected.counts.seen += source.discovered + plan.vanished
                collected.counts.skipped += len(plan.skipped)
                progress.total(collected.counts.seen)
                progress.skip(len(plan.skipped))
                log.info("%s: %d pages found, %d to read, %d unchanged and skipped, %d resumed from the store",
                         spec, source.discovered, len(items), len(plan.skipped), len(plan.from_store))
                for resumed in stored_pages(wh, plan.from_store, settings.batch_size, BATCH_BYTES):
                    progress.skip(len(resumed))  # bodies a batch at a time, by count and by bytes
                    yield resumed, []
                for asked, pages in read_planned(source, items, settings.batch_size, run.read, progress.advance,
                                                report.notes):
                    collected.counts.fetched += sum(1 for page in pages if has_body(page))
                    yield pages, source.crawl_rows(asked, pages, run_id)
            finally:
                source.close()

    return _run(settings, list(settings.sources), batches, steps, progress, store=True)


def reprocess(settings: RunSettings, steps: Callable[[ParsePool], Steps] = Steps,
              progress: Progress | None = None) -> RunReport:
    """Re-parse the latest stored version of every page with the current parser; no network."""
    progress = progress or NoProgress()

    def batches(wh: Warehouse, collected: Collected, report: RunReport, run: Steps) -> BatchIterator:
        progress.total(int(scalar(wh.con, "SELECT count(DISTINCT source_key) FROM raw.raw_pages")))
        for pages in latest_raw_pages(wh, settings.batch_size, BATCH_BYTES):
            collected.counts.seen += len(pages)
            progress.advance(len(pages))
            yield pages, []

    return _run(settings, ["raw_pages"], batches, steps, progress, store=False)  # the name runs.sources keeps


def check_discovered(wh: Warehouse, spec: str, discovered: int, run_id: int, allow_shrink: bool) -> None:
    """A source that finds nothing, or fewer than half of what the last successful run found from it,
    fails the run: an empty night must not look like a quiet one."""
    before = last_discovered(wh, spec)
    record_discovered(wh, run_id, spec, discovered)
    if allow_shrink:
        return
    if discovered == 0:
        raise SourceShrank(f"{spec} yielded no project pages (use --allow-shrink if that is expected)")
    if before and discovered < before * SHRINK_LIMIT:
        raise SourceShrank(f"{spec} yielded {discovered} project pages, fewer than half of the {before} "
                           f"of the last successful run (use --allow-shrink if that is expected)")


def _run(settings: RunSettings, sources: list[str], batches: Batches, steps: Callable[[ParsePool], Steps],
         progress: Progress, *, store: bool) -> RunReport:
    """The shape both runs share: one locked warehouse, a `runs` row, batches, one load, publish.

    Parsing is submitted while the next batch is read; at most a few batches are in flight, so memory
    stays bounded. The run owns its parse pool and closes it however the run ends.
    """
    report, db, t0 = RunReport(), Path(settings.db), perf_counter()
    work = work_path_for(db)
    with Warehouse(work, raw_path_for(db), memory=settings.memory, holder=settings.holder) as wh, \
            ParsePool(settings.parse_workers) as pool:
        if wh.stale_lock_of:
            report.notes.append(f"the previous run ({wh.stale_lock_of}) died without closing the warehouse")
        if wh.raw_missing:
            report.notes.append(f"the raw store {wh.raw_path.name} was missing: made anew, empty; pages are stored "
                                f"again as they are read (`esf run --rehash` reads every saved file)")
        report.notes += [f"removed {name}, left by a run that died while publishing" for name in remove_leftovers(db)]
        report.run_id, started = wh.start_run(sources, published_through=published_run_id(db))
        run = steps(pool)
        try:
            collected = Collected()
            parsed_from = loaded_hashes(wh) if store else {}
            stored = latest_hashes(wh) if store else {}
            lists_from = loaded_list_hashes(wh.con) if store else {}
            in_flight: deque[Any] = deque()
            for pages, crawl_rows in batches(wh, collected, report, run):
                if store:
                    pages = storable(pages, wh.memory, stored)
                _tally(pages, collected)
                if any(is_large_new_list(page, lists_from) for page in pages):
                    pool.warm()  # its workers start while the file is stored
                if store:
                    run.store(wh, pages, report.run_id, crawl_rows, stored)
                to_parse = []
                for page in filter(has_body, pages):
                    if is_list(page.body):
                        take_list(wh, page, lists_from, collected, report, pool)
                    elif parsed_from.get(page.source_key) == page.sha256:
                        collected.same_bytes.append(page.source_key)
                    else:
                        to_parse.append(page)
                in_flight.append(run.parse(to_parse))
                while len(in_flight) > MAX_BATCHES_IN_FLIGHT:
                    collected.parsed += in_flight.popleft().result()
            while in_flight:
                collected.parsed += in_flight.popleft().result()
            report.durations["read_parse"] = perf_counter() - t0
            counts, problems = run.load(wh, report.run_id, started, collected)
            merged_counts(wh.con, report.lists)
            report.top_rejects = top_reasons(problems)
            report.quality = _quality(wh, report.run_id)
            if settings.without_contacts:  # the report is printed and filed as an artifact: no personal data
                redact_report(report, personal_values(collected.parsed))
            report.durations["load"] = perf_counter() - t0 - report.durations["read_parse"]
            wh.checkpoint()
            wh.disconnect()  # the lock stays held while the file is copied (the raw store is not published)
            report.published = str(publish(work, db, without_contacts=settings.without_contacts))
            report.counts = counts
            report.status = counts.status
        except BaseException as exc:
            damaged = wh.damage(exc)  # which file, when a file did not read back (DuckDB's error names none)
            record_failure(wh, report.run_id, damaged or exc, db)
            log.info("%s", failure_line(report.run_id, damaged or exc, perf_counter() - t0))
            for failure in (exc, damaged):
                if failure is not None:
                    mark_run(failure, report.run_id)
            if damaged is not None and damaged is not exc:
                raise damaged from exc
            raise
    report.durations["total"] = perf_counter() - t0
    log.info("%s", counts_line(report))
    return report


def counts_line(report: RunReport) -> str:
    """The night in one line: what became of its pages, and how long it took."""
    c = report.counts
    return (f"run {report.run_id} {report.status}: {c.new} new, {c.changed} changed, {c.unchanged} unchanged, "
            f"{c.skipped} skipped, {c.not_modified} not modified, {c.failed} failed, {c.rejected} rejected, "
            f"{report.durations.get('total', 0.0):.1f} s")


def failure_line(run_id: int | None, exc: BaseException, seconds: float) -> str:
    stopped_by = interrupt_signal(exc)
    how = f"interrupted by {stopped_by}" if stopped_by else f"failed: {type(exc).__name__}: {exc}"
    return f"run {run_id} {how}; nothing published ({seconds:.1f} s)"


def take_list(wh: Warehouse, page: RawPage, lists_from: dict[str, str], collected: Collected,
              report: RunReport, pool: ParsePool | None = None) -> None:
    """An official list file: unchanged bytes are not read again; otherwise its rows are read and staged for the
    load (a file that is no list is rejected, with why)."""
    if lists_from.get(page.source_key) == page.sha256:
        collected.same_bytes.append(page.source_key)
        return
    loaded, problems, refused = read_and_stage(wh, page, pool)
    if loaded is None:
        if refused is not None:
            collected.parsed.append(refused)
        return
    collected.counts.lists += 1
    collected.problems += problems
    report.lists.append(loaded)
    report.notes += [f"{page.source_key}: {note}" for note in loaded.notes]
    log.info("%s: %s list, %d rows staged, %d rejected, %d warnings", page.source_key, loaded.kind, loaded.rows,
             loaded.rejected, loaded.warnings)


def _tally(pages: list[RawPage], collected: Collected) -> None:
    c = collected.counts
    for page in pages:
        if page.failed:
            c.failed += 1
            collected.problems.append(ProblemRow.fetch_failure(page.source_key, page.error or "not read"))
        elif page.http_status == NOT_MODIFIED:
            c.not_modified += 1
        elif is_gone(page.http_status):
            c.gone += 1


def _quality(wh: Warehouse, run_id: int) -> Quality | None:
    """The run report's quality section; a fault in it is a warning, never a failed night (the load is done)."""
    try:
        return quality_report(wh.con, run_id)
    except Exception as exc:
        log.warning("the run report's quality section could not be made: %s: %s", type(exc).__name__, exc)
        return None


def top_reasons(problems: list[ProblemRow], n: int = 5) -> list[tuple[str, int]]:
    tally: dict[str, int] = {}
    for row in problems:
        if row.severity == "error":
            tally[row.reason] = tally.get(row.reason, 0) + 1
    return sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def interrupt_signal(exc: BaseException) -> str | None:
    """The signal's name when `exc` says the process was asked to stop (ours, or a runner's own, such as
    Prefect's TerminationSignal for SIGTERM, which carries the signal number), else None. A signal that
    lands inside a DuckDB query surfaces as RuntimeError('Query interrupted') caused by the interrupt."""
    for _ in range(5):
        cause = exc.__cause__ or exc.__context__
        if not isinstance(exc, RuntimeError) or cause is None:
            break
        exc = cause
    if isinstance(exc, KeyboardInterrupt):
        return getattr(exc, "signal_name", "SIGINT")
    number = getattr(exc, "signal", None)
    if not isinstance(exc, Exception) and isinstance(number, int):
        try:
            return signal.Signals(number).name
        except ValueError:
            return f"signal {number}"
    return None


def record_failure(wh: Warehouse, run_id: int, exc: BaseException, db: str | Path | None = None) -> None:
    """Say in `runs` how the run ended (failed or interrupted); the published database gets only its `runs`
    rows (load/runs_log.py), so analysts see the night that failed beside the data of the last good one."""
    stopped_by = interrupt_signal(exc)
    if stopped_by:
        status, message = "interrupted", f"interrupted by {stopped_by}; nothing published"
    else:
        status, message = "failed", f"{type(exc).__name__}: {exc}"[:2000]
    try:
        wh.connect()
        wh.finish_run(run_id, status, message=message)
    except Exception as second:  # the first failure is what matters; say that this one happened too
        log.warning("could not record the run's end in `runs`: %s", second)
        return
    if db is None:
        return
    try:
        publish_runs(db, *runs_rows(wh.con))
    except Exception as second:
        log.warning("could not write the run's end into the published file's `runs`: %s", second)
