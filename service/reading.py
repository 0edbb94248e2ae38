"""Reading a source's planned pages in batches, with the rules that bound a bad night: a page that timed out
is tried once more after the night's other pages (never waited out again at once), and a host that stopped
answering (the client's circuit breaker) or the night's deadline ends the reading, after the batch read so far
has been handed on to be stored."""
from __future__ import annotations

from typing import Any

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace

from extract.polite import HostDown, StopRequests
from extract.sources import Source
from records.pages import RawPage

log = logging.getLogger("esf.run")

BATCH_BYTES = 64 * 1024 * 1024  # and at most this much page text in a batch: memory by bytes, not by count
TRIED_AGAIN = " (tried again after the other pages)"

Read = Callable[[Source, list[Any], Callable[[], None] | None], list[RawPage]]


def read_batch(source: Source, items: list[Any], on_page: Callable[[], None] | None = None,
               done_pages: dict[int, RawPage] | None = None, max_bytes: int = BATCH_BYTES) -> list[RawPage]:
    """Read items one by one, until all are read or their bodies reach `max_bytes`: → the pages of the
    first items (the caller reads the rest in the next batch). `done_pages` survives a retry of the whole
    batch, so a retry never fetches again a page that was already read. When the source stops asking its
    host (`source.stopped()` says why), → the pages read until then."""
    got = {} if done_pages is None else done_pages
    size = 0
    for i, item in enumerate(items):
        if i not in got:
            try:
                (got[i],) = source.read([item])
            except StopRequests:
                return [got[j] for j in range(i)]
            if on_page:
                on_page()
        size += len(got[i].body)
        if size >= max_bytes:
            return [got[j] for j in range(i + 1)]
    return [got[i] for i in range(len(items))]


def read_planned(source: Source, items: list[Any], batch_size: int, read: Read,
                 on_page: Callable[[], None] | None, notes: list[str]) -> Iterator[tuple[list[Any], list[RawPage]]]:
    """→ (items, their pages) a batch at a time, every item once. A page that failed by a timeout is held back
    and read once more after all the others (its second failure is final); raises the source's StopRequests
    when its host stopped answering or the night's deadline passed, after yielding what was read."""
    later: list[tuple[object, RawPage]] = []
    i = 0
    while i < len(items):
        chunk = items[i:i + batch_size]
        pages = read(source, chunk, on_page)  # may stop early at BATCH_BYTES, or when the host stops
        done = chunk[:len(pages)]
        i += len(pages)
        now = [(item, page) for item, page in zip(done, pages) if not page.slow]
        later += [(item, page) for item, page in zip(done, pages) if page.slow]
        if now:
            yield [item for item, _ in now], [page for _, page in now]
        if (stop := source.stopped()) is not None:
            raise stop
    yield from _read_again(source, later, batch_size, read, notes)


def _read_again(source: Source, later: list[tuple[object, RawPage]], batch_size: int, read: Read,
                notes: list[str]) -> Iterator[tuple[list[Any], list[RawPage]]]:
    """The one more try of the pages that timed out. Consecutive failures here are expected (every page
    failed once): if they trip the breaker, the rest keep their first failure and the night goes on."""
    if later:
        log.info("trying %d pages that timed out once more, after the other pages", len(later))
    stop: StopRequests | None = None
    for j in range(0, len(later), batch_size):
        part = later[j:j + batch_size]
        pages = [] if stop else read(source, [item for item, _ in part], None)
        pages = [replace(page, error=(page.error or "") + TRIED_AGAIN) if page.failed else page for page in pages]
        stop = stop or source.stopped()
        pages += [first for _, first in part[len(pages):]]  # not asked again: they keep their first failure
        yield [item for item, _ in part], pages
        if stop is not None and not isinstance(stop, HostDown):
            raise stop
    if stop is not None:
        notes.append(f"stopped trying again the pages that timed out: {stop}")
