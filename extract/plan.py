"""Which discovered pages a run fetches: new first, then changed, then a rotating share re-checked."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from collections.abc import Sequence, Set as AbstractSet
from datetime import date

from extract.discover import Found
from records.pages import Known
from records.status import is_gone, needs_retry_next_run

RECHECK_EVERY_NIGHTS = 30  # every unchanged page is re-checked at least once in this many nights


@dataclass(frozen=True)
class Planned:
    found: Found
    reason: str                 # 'new', 'changed', 'retry', 'recheck', 'vanished'
    etag: str | None = None
    last_modified: str | None = None
    source_key: str | None = None   # the page's key from its last fetch (its canonical URL); None if new


def _slot(url: str, every: int) -> int:
    return int(hashlib.sha256(url.encode()).hexdigest()[:8], 16) % every


def plan(found: list[Found], known: dict[str, Known], today: date | None = None,
         recheck_every: int = RECHECK_EVERY_NIGHTS, vanished: Sequence[str] = (),
         unloaded: AbstractSet[str] = frozenset()) -> tuple[list[Planned], list[Found], list[Found]]:
    """→ (pages to fetch in order, pages skipped, pages to parse from the store). Known pages are asked
    for conditionally.

    `found` and `known` are keyed by the URL a listing or sitemap gives; `unloaded` holds raw-store keys.
    vanished: known pages no longer listed; each is asked for once more, to see whether it is gone.
    unloaded: pages whose bytes a run stored but died before loading; unless their listing changed,
    they are parsed from the store, not fetched again (a killed crawl resumes).
    """
    night = (today or date.today()).toordinal()
    order = {"new": 0, "changed": 1, "retry": 2, "recheck": 3, "vanished": 4}
    todo, skipped, from_store = [], [], []
    for url in vanished:
        k = known[url]
        if is_gone(k.http_status):
            continue
        # asked once since it left the listing (that check stored no lastmod or listing line) and still
        # there: a page the site keeps but no longer lists, re-checked on the rotation, not every night
        asked_before = k.lastmod is None and k.listing_entry is None
        if asked_before and recheck_every > 1 and _slot(url, recheck_every) != night % recheck_every:
            continue
        todo.append(Planned(Found(url), "vanished", k.etag, k.last_modified, k.source_key))
    for page in found:
        listed = known.get(page.url)
        if listed is None:
            todo.append(Planned(page, "new"))
            continue
        if needs_retry_next_run(listed.http_status):
            reason = "retry"
        elif (page.lastmod and page.lastmod != listed.lastmod) or \
                (page.listing_entry and page.listing_entry != listed.listing_entry):
            reason = "changed"
        elif listed.source_key in unloaded:
            from_store.append(page)
            continue
        elif recheck_every <= 1 or _slot(page.url, recheck_every) == night % recheck_every:
            reason = "recheck"
        else:
            skipped.append(page)
            continue
        todo.append(Planned(page, reason, listed.etag, listed.last_modified, listed.source_key))
    todo.sort(key=lambda p: order[p.reason])
    return todo, skipped, from_store
