"""What an HTTP status means to the pipeline, decided here once (extract, load and the run ask this module).
A saved file has no status (None): it counts as a page with a body."""
from __future__ import annotations

OK = 200
NOT_MODIFIED = 304
GONE = frozenset({404, 410})                           # the page was removed: mark it gone, keep its history
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})  # the server's passing trouble: ask again, with backoff
REDIRECTS = frozenset({301, 302, 303, 307, 308})       # followed on the same host only
ANSWERED = frozenset({OK, NOT_MODIFIED}) | GONE        # a page whose last answer needs no retry


def has_body(status: int | None) -> bool:
    """An answer with a page to store and parse (a file has no status)."""
    return status in (None, OK)


def is_gone(status: int | None) -> bool:
    return status in GONE


def is_page_answer(status: int) -> bool:
    """An answer that says something about the page (it is there, unchanged or gone); else a failed fetch."""
    return status in ANSWERED


def needs_retry_next_run(status: int | None) -> bool:
    """A known page whose last answer was a failure: fetched again next run whatever its listing says."""
    return status not in ANSWERED


def sql_in(statuses: frozenset[int]) -> str:
    """`(404, 410)` for a SQL `IN`, from the same sets the Python checks use."""
    return "(" + ", ".join(str(s) for s in sorted(statuses)) + ")"
