"""Turn the sources a user names (folders, .zip files, URLs) into items to read, and read them."""
from __future__ import annotations

import time
from dataclasses import dataclass

from extract import web
from extract.files import FileItem, SourceError, list_items, read_item
from extract.records import RawPage


@dataclass(frozen=True)
class UrlItem:
    source_key: str
    url: str


Item = FileItem | UrlItem


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def check_source(source: str) -> None:
    """Raise SourceError now, before any work, for a source that cannot be used."""
    if not is_url(source):
        list_items(source)


def discover(source: str) -> list[Item]:
    """Items of one source. A URL is a page to fetch (crawling sitemaps and listings comes with the crawler)."""
    if is_url(source):
        return [UrlItem(source_key=source, url=source)]
    return list_items(source)


def read(items: list[Item], delay_seconds: float = 1.0) -> list[RawPage]:
    """Read a batch. Files are read at once; URLs one at a time with a pause between requests."""
    pages, http, last_request = [], None, 0.0
    for item in items:
        if isinstance(item, FileItem):
            pages.append(read_item(item))
            continue
        http = http or web.session()
        wait = delay_seconds - (time.monotonic() - last_request)
        if wait > 0:
            time.sleep(wait)
        last_request = time.monotonic()
        pages.append(web.fetch(item.url, http))
    return pages


__all__ = ["Item", "SourceError", "UrlItem", "check_source", "discover", "is_url", "read"]
