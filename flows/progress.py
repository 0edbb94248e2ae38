"""How far a run is: a live bar on a terminal, a log line at least every 30 s elsewhere, and a Prefect
progress artifact. The run calls `discovering`, `total`, `advance` and `skip`; nothing here decides anything."""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

log = logging.getLogger("esf.progress")

LOG_EVERY_SECONDS = 30.0
ARTIFACT_STEP = 0.1  # the Prefect artifact moves in tenths: each update is a call to the API


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return "ETA unknown"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"ETA {seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"ETA {seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"ETA {seconds} s"


class RunProgress:
    """Counts pages read of the pages to read: `total` is every page a run saw, `skip` takes the pages that
    need no reading (unchanged files, pages resumed from the store) out of it, so a quiet night says
    '11 of 11 pages read; 289 skipped', not '300 of 300'."""

    def __init__(self, bar: bool | None = None, artifact: Callable[[float], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, every: float = LOG_EVERY_SECONDS) -> None:
        self.clock, self.every, self.artifact = clock, every, artifact
        self.done = self.worked = self.pages_total = self.skipped = 0
        self.started = clock()
        self._last_line = self.started
        self._last_share = -1.0
        self._bar = _Bar() if (bar if bar is not None else _terminal()) else None

    # --- what the run reports ------------------------------------------------------------------
    def discovering(self, source: str, documents: int, found: int) -> None:
        if self._bar:
            self._bar.describe(f"discovering: {documents} listing pages read, {found} project pages found")
        elif self._due():
            log.info("discovering %s: %d listing or sitemap pages read, %d project pages found", source,
                     documents, found)

    def total(self, pages: int) -> None:
        self.pages_total = pages
        if self._bar:
            self._bar.describe("pages read")
            self._bar.update(self.done, self.to_read)

    def skip(self, pages: int) -> None:
        self.skipped += pages
        self._moved()

    @property
    def to_read(self) -> int:
        return max(self.pages_total - self.skipped, self.done)

    def advance(self, pages: int = 1) -> None:
        self.done += pages
        self.worked += pages
        self._moved()

    def close(self) -> None:
        if self._bar:
            self._bar.stop()
        if self.pages_total or self.done:
            log.info("%s", self.line())

    # --- what it shows -------------------------------------------------------------------------
    def rate(self) -> float | None:
        elapsed = self.clock() - self.started
        return self.worked / elapsed if self.worked and elapsed > 0 else None

    def line(self) -> str:
        total = self.to_read
        share = self.done / total if total else 1.0
        rate = self.rate()
        left = (total - self.done) / rate if rate else None
        speed = f"{rate:.1f} pages/s" if rate else "rate unknown"
        skipped = f"; {self.skipped} skipped (unchanged or resumed from the store)" if self.skipped else ""
        return (f"{self.done} of {total} pages read ({share:.0%}), {speed}, "
                f"{eta_text(0 if share >= 1 else left)}{skipped}")

    def _moved(self) -> None:
        if self._bar:
            self._bar.update(self.done, self.to_read)
        elif self._due():
            log.info("%s", self.line())
        total = self.to_read
        share = self.done / total if total else 1.0
        if self.artifact and (share >= 1.0 or share - self._last_share >= ARTIFACT_STEP - 1e-9):
            self._last_share = share
            try:
                self.artifact(share * 100)
            except Exception:  # the UI's copy of the progress must not stop the run
                self.artifact = None

    def _due(self) -> bool:
        now = self.clock()
        if now - self._last_line >= self.every:
            self._last_line = now
            return True
        return False


def _terminal() -> bool:
    return sys.stderr.isatty() and log.isEnabledFor(logging.INFO)


class _Bar:
    """rich's live progress bar on stderr (rich comes with Prefect)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TaskProgressColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                                  TimeRemainingColumn(), console=Console(stderr=True), transient=False)
        self._task = self._progress.add_task("starting", total=None)
        self._progress.start()

    def describe(self, text: str) -> None:
        self._progress.update(self._task, description=text)

    def update(self, done: int, total: int) -> None:
        self._progress.update(self._task, completed=done, total=total or None)

    def stop(self) -> None:
        self._progress.stop()
