"""A run's counts: how many pages it saw and what became of each. One declaration for the run service, the
`runs` table, the run report and the benches."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

# What became of a page seen: every page seen is exactly one of these, so they add up to `seen`.
OUTCOMES: tuple[str, ...] = ("new", "changed", "unchanged", "duplicates", "rejected", "failed", "skipped",
                             "not_modified", "gone", "lists")
# Defaults of the settings that say what a night does when something goes wrong (the CLI shows them in --help
# before it imports anything heavy, the flow and the alert rules use them): reading a batch is tried again
# BATCH_RETRIES times, a failed night NIGHT_RETRIES times, and a core field's fill rate may fall by
# QUALITY_MARGIN percentage points before a quality alert.
BATCH_RETRIES, NIGHT_RETRIES, QUALITY_MARGIN = 2, 0, 20.0
# Seconds between two requests to a web host (robots.txt's Crawl-delay wins when longer): Politeness's default,
# and the default of `--delay` and of the flow's `delay_seconds`.
DELAY_SECONDS = 1.0
# The columns of `runs` that hold counts, in the table's order.
RUNS_COLUMNS: tuple[str, ...] = ("seen", "new", "changed", "unchanged", "duplicates", "rejected", "failed",
                                 "warnings", "skipped", "not_modified", "gone", "lists")


@dataclass
class RunCounts:
    seen: int = 0          # pages the sources listed (or the store held, for a reprocess)
    fetched: int = 0       # bodies read this run (from the web or a folder); not a column of `runs`
    skipped: int = 0       # a saved file whose stat had not changed: not read
    not_modified: int = 0  # HTTP 304
    gone: int = 0          # HTTP 404/410
    failed: int = 0        # could not be read
    duplicates: int = 0    # a second page of a project already read this run
    rejected: int = 0      # not a project page, or no identity
    new: int = 0
    changed: int = 0
    unchanged: int = 0     # parsed to the same record, or bytes unchanged (not parsed)
    lists: int = 0         # official list files (list of operations, Kohesio) read and loaded (load/lists.py)
    warnings: int = 0      # problem rows of severity 'warning' (fields NULL or read leniently): not pages

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def plus(self, **more: int) -> RunCounts:
        """A copy with `more` set."""
        return replace(self, **more)

    @property
    def accounted(self) -> int:
        """Pages with an outcome: equals `seen` when the run's counts add up."""
        return sum(getattr(self, name) for name in OUTCOMES)

    @property
    def status(self) -> str:
        """'rejects' when some pages were rejected or could not be read, else 'succeeded'."""
        return "rejects" if self.rejected or self.failed else "succeeded"

    def runs_row(self) -> list[int]:
        """The values of `runs`' count columns, in RUNS_COLUMNS order."""
        return [getattr(self, name) for name in RUNS_COLUMNS]
