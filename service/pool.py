"""The run's pool of parse processes: started by the run, stopped by the run on success, failure and interrupt."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, TypeVar

import multiprocessing
import os
import threading
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from service.children import worker_init
from transform import parse_pages

T = TypeVar("T")
R = TypeVar("R")
Work = tuple[bytes, str, str | None, str | None, str | None]  # body, source_key, url, content_type, sha256
# Starting the workers (a forkserver importing transform/, then each worker) costs about as much as parsing a
# few hundred pages in the run's own process: a run that expects fewer parses inline (a nightly's 1 %).
MIN_PAGES_FOR_WORKERS = 250
# What every worker needs, imported once in the forkserver rather than in each worker on its first task: the page
# parser, and the list reader with its staging (which must not import DuckDB or the load: service/list_blocks.py).
PRELOADED = ["transform", "service.list_blocks"]
WARM_UP_SECONDS = 60.0  # at most this long does closing wait for workers a warm-up is still starting


class ParsePool:
    """Worker processes from a clean forkserver (cheap to start, unlike a Prefect process runner whose
    workers each start an engine). `workers <= 1`: parse in the calling thread, no processes."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.expected: int | None = None  # pages the run expects to parse; None: unknown (use the workers)
        self._pool: ProcessPoolExecutor | None = None
        self._warming: threading.Thread | None = None

    def expect(self, pages: int) -> None:
        """The run plans to parse `pages` more pages: below MIN_PAGES_FOR_WORKERS in all, no workers start."""
        self.expected = (self.expected or 0) + pages

    def __enter__(self) -> "ParsePool":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(wait=kind is None)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOADED)
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                             initializer=worker_init, initargs=(os.getpid(),))
        return self._pool

    def warm(self) -> None:
        """Start the workers now, in a thread, while this one goes on (storing the file they will read): the
        forkserver's imports take a few tenths of a second that a first task would otherwise wait for."""
        if self.workers <= 1 or self._pool is not None:
            return
        executor = self._executor()
        self._warming = threading.Thread(target=_start_workers, args=(executor, self.workers), daemon=True,
                                         name="esf-pool-warm")
        self._warming.start()

    def parse(self, work: list[Work]) -> list[Any]:
        """Parse pages, split over the workers when there are enough of them to be worth it."""
        few = self._pool is None and self.expected is not None and self.expected < MIN_PAGES_FOR_WORKERS
        if self.workers <= 1 or len(work) < 2 * self.workers or few:
            return parse_pages(work)
        size = -(-len(work) // self.workers)
        parts = self._executor().map(parse_pages, [work[i:i + size] for i in range(0, len(work), size)])
        return [page for part in parts for page in part]

    def map_ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """fn over items in the workers, the results in order, a few items in flight at a time (memory stays
        bounded however many items there are); in the calling thread when there are no workers."""
        if self.workers <= 1:
            yield from map(fn, items)
            return
        executor, pending = self._executor(), deque[Future[R]]()
        for item in items:
            pending.append(executor.submit(fn, item))
            if len(pending) > 2 * self.workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self, wait: bool = True) -> None:
        """Stop the workers. After a failure or an interrupt, queued work is dropped and workers are
        terminated rather than waited for."""
        pool, self._pool = self._pool, None
        if self._warming is not None:  # let a warm-up end first (bounded: a forkserver that hangs must not hang us)
            self._warming.join(WARM_UP_SECONDS)
            self._warming = None
        if pool is None:
            return
        if not wait:
            processes = list((pool._processes or {}).values())  # no public way to stop busy workers
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()
            for process in processes:
                process.join(timeout=5)
        else:
            pool.shutdown(wait=True)


def _start_workers(executor: ProcessPoolExecutor, workers: int) -> None:
    """Submit a task that does nothing to each worker, which makes the executor start them all."""
    try:
        for future in [executor.submit(int) for _ in range(workers)]:
            future.result()
    except Exception:  # noqa: BLE001 — the pool broke or shut down; the run's own tasks will say so
        return


def done(value: Any) -> Future[Any]:
    """A finished future, for steps that run inline."""
    future: Future[Any] = Future()
    future.set_result(value)
    return future
